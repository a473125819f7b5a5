"""Fixtures for the ensemble tests: fresh multi-process rzk ensembles per test (tests/lib/ensemble.py),
a private copy of the server binary, log dumps of failing tests, and a failover-time report."""

import json
import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "checker"))
sys.path.insert(0, HERE)

import ensemble  # noqa: E402
import ens_util  # noqa: E402

from pytest_ensemble import pytest_runtest_makereport, quiet_kazoo  # noqa: E402,F401

quiet_kazoo()


@pytest.fixture(scope="session", autouse=True)
def rzk_binary():
    """Run a private copy of the binary: a concurrent `cargo build` must not swap it mid-run."""
    src = ensemble.rzk_bin()
    if not os.access(src, os.X_OK):
        pytest.exit("rzk binary %s missing (cargo build -p rzk-server)" % src, returncode=2)
    d = tempfile.mkdtemp(prefix="rzk-ens-bin-")
    dst = os.path.join(d, "rzk-server")
    shutil.copy2(src, dst)
    old = os.environ.get("RZK_BIN")
    os.environ["RZK_BIN"] = dst
    yield dst
    if old is None:
        os.environ.pop("RZK_BIN", None)
    else:
        os.environ["RZK_BIN"] = old
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_ensemble(request):
    """make_ensemble(n=3, observers=0, start=True, **Ensemble kwargs) -> Ensemble; all torn down."""
    made = []

    def factory(n=3, observers=0, start=True, **kw):
        kw.setdefault("name", request.node.name.replace("[", "-").replace("]", "")[:40])
        e = ensemble.Ensemble(n, observers, **kw)
        made.append(e)
        if start:
            e.start()
        return e

    yield factory
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed
    for e in made:
        if failed:
            e.keep = True
            e.dump_logs(n=4000, out=sys.stdout)
            print("\nensemble run dir kept: %s" % e.dir)
        e.cleanup()


@pytest.fixture
def ens3(make_ensemble):
    return make_ensemble(3)


@pytest.fixture
def ens5(make_ensemble):
    return make_ensemble(5)


def pytest_terminal_summary(terminalreporter):
    rows = ens_util.FAILOVERS
    if not rows:
        return
    tr = terminalreporter
    tr.section("failover times (kill -9 leader -> first successful write)")
    for r in rows:
        tr.write_line("%-55s n=%d  election %5s s  first write %6.3f s  (via %s)" % (
            r["test"][:55], r["n"], "%.3f" % r["election"] if r.get("election") is not None else "  -  ",
            r["write"], r["via"]))
    path = os.environ.get("RZK_ENS_REPORT")
    if path:
        with open(path, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
