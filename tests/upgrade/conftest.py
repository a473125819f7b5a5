"""Fixtures for the upgrade tests: ensembles whose members run different rzk releases."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "ensemble"))

import ensemble  # noqa: E402

from pytest_ensemble import pytest_runtest_makereport, quiet_kazoo  # noqa: E402,F401

quiet_kazoo()


@pytest.fixture
def old_bin():
    b = os.environ.get("RZK_OLD_BIN")
    if not b:
        pytest.fail("RZK_OLD_BIN is not set (tests/upgrade/run.sh builds the earlier release)")
    return b


@pytest.fixture
def new_bin():
    return ensemble.rzk_bin()


@pytest.fixture
def versioned_ensemble(request):
    """versioned_ensemble(binaries: {member id: path}, **Ensemble kwargs) -> started Ensemble."""
    made = []

    def factory(binaries, **kw):
        e = ensemble.Ensemble(len(binaries), 0, name="upgrade", **kw)
        for i, b in binaries.items():
            e.members[i].bin = b
        made.append(e)
        e.start()
        return e

    yield factory
    rep = getattr(request.node, "rep_call", None)
    for e in made:
        if rep is None or rep.failed:
            e.keep = True
            e.dump_logs(n=4000, out=sys.stdout)
            print("\nensemble run dir kept: %s" % e.dir)
        e.cleanup()
