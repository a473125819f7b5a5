#!/usr/bin/env python3
"""Compatibility matrix runner: real ZooKeeper clients against a 3-member ensemble of rzk and of
Apache ZooKeeper 3.8 (same scenarios), then tests/matrix/RESULTS.md generated from the outputs.

    python3 tests/matrix/run.py [rzk|apache|both] [--suites go,kazoo|--no-peer] [--only JOB,...]

Called by run.sh, which builds/installs what the jobs need first. Each job's raw output goes to
.cache/matrix/out/<impl>/; the parsed results of the last run of each implementation are kept in
.cache/matrix/results/<impl>.json so RESULTS.md always shows both columns.
"""
import argparse
import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from ensemble import Ensemble  # noqa: E402

CACHE = os.path.join(ROOT, ".cache", "matrix")
VENV_PY = os.path.join(ROOT, ".cache", "venv", "bin", "python")
RESULTS_MD = os.path.join(HERE, "RESULTS.md")
XFAIL_FILE = os.path.join(HERE, "expected-failures.tsv")
IMPLS = ("rzk", "apache")
IMPL_TITLE = {"rzk": "rzk", "apache": "Apache ZooKeeper 3.8.0"}

# versions shown in the table (kept in step with the build files)
CURATOR = "Curator 5.9.0"
ZK_JAVA = "ZooKeeper Java client 3.9.5"
KAZOO = "kazoo 2.11.0"
GOZK = "go-zookeeper/zk v1.0.4"
CLIB = "C libzookeeper_mt 3.8.0"
CLI = "C cli_mt 3.8.0"
RUST = "Rust zookeeper-client 0.11"

NICE = {
    # python (kazoo)
    "test_lock": "Lock", "test_read_write_lock": "ReadLock/WriteLock", "test_semaphore": "Semaphore",
    "test_election": "Election", "test_barrier": "Barrier", "test_double_barrier": "DoubleBarrier",
    "test_counter": "Counter", "test_queue": "Queue", "test_locking_queue": "LockingQueue",
    "test_party": "Party/ShallowParty", "test_data_watch": "DataWatch", "test_children_watch": "ChildrenWatch",
    "test_tree_cache": "TreeCache", "test_lease": "NonBlockingLease", "test_transaction_and_cancel": "transaction, lock cancel",
    "read_only_mode": "read-only mode after quorum loss (readonlymode.enabled)",
    "test_reconfig_unauthorized": "reconfig without super: NoAuth",
    "test_reconfig_bad_arguments_before_auth": "reconfig bad member spec without super: BadArguments (checked before auth)",
    "test_reconfig_version_checked_before_auth": "reconfig stale fromConfig without super: BadVersion (checked before auth)",
}


def env_with(**kw):
    e = dict(os.environ)
    e.update({k: str(v) for k, v in kw.items()})
    return e


def go_env():
    return env_with(GOMODCACHE=os.path.join(ROOT, ".cache", "go", "mod"),
                    GOCACHE=os.path.join(ROOT, ".cache", "go", "build"),
                    GOFLAGS="-modcacherw", GOPROXY="off", GOTOOLCHAIN="local")


# --------------------------------------------------------------------------------------------------
# result parsers: each returns [(client, feature, status, detail)] with status pass|fail|skip

def _short(text, n=300):
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 3] + "..."


def parse_junit(paths, client_of):
    out = []
    for path in paths:
        try:
            tree = ET.parse(path)
        except (ET.ParseError, OSError):
            continue
        for tc in tree.iter("testcase"):
            cls, name = tc.get("classname", ""), tc.get("name", "")
            client, feature = client_of(cls, name)
            status, detail = "pass", ""
            for tag in ("failure", "error"):
                el = tc.find(tag)
                if el is not None:
                    status = "fail"
                    detail = _short((el.get("message") or "") + " " + (el.text or "").strip().split("\n")[0])
            if tc.find("skipped") is not None:
                status = "skip"
                detail = _short(tc.find("skipped").get("message", ""))
            out.append((client, feature, status, detail))
    return out


def java_client_of(cls, name):
    if cls.endswith("CuratorRecipesTest"):
        return CURATOR, name[:1].upper() + name[1:]
    return ZK_JAVA, name


def python_client_of(cls, name):
    return KAZOO, NICE.get(name, name)


def parse_go_json(path, client):
    res = {}
    output = {}
    with open(path, errors="replace") as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            test = ev.get("Test")
            if not test or "/" in test:
                continue
            if ev.get("Action") == "output":
                output.setdefault(test, []).append(ev.get("Output", ""))
            elif ev.get("Action") in ("pass", "fail", "skip"):
                res[test] = ev["Action"]
    out = []
    for test, action in res.items():
        detail = ""
        if action != "pass":
            lines = [l.strip() for l in output.get(test, []) if l.strip() and not l.startswith(("=== ", "--- "))]
            detail = _short(" | ".join(lines[-4:]))
        out.append((client, test, action, detail))
    return out


def parse_result_lines(path, client):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^RESULT (\S+) (PASS|FAIL)\s*(.*)$", line.rstrip("\n"))
            if m:
                out.append((client, m.group(1), m.group(2).lower(), _short(m.group(3))))
    return out


# --------------------------------------------------------------------------------------------------
# jobs


class Job:
    def __init__(self, name, clients, timeout):
        self.name, self.clients, self.timeout = name, clients, timeout

    def command(self, connect, out_dir):
        raise NotImplementedError

    def cwd(self):
        return ROOT

    def env(self):
        return dict(os.environ)

    def parse(self, out_dir, log):
        raise NotImplementedError


class JavaJob(Job):
    def __init__(self):
        super().__init__("java", [CURATOR, ZK_JAVA], 420)
        self.build = os.path.join(CACHE, "java-target")

    def command(self, connect, out_dir):
        shutil.rmtree(os.path.join(self.build, "surefire-reports"), ignore_errors=True)
        return ["mvn", "-o", "-q", "-B", "-Dmaven.repo.local=" + os.path.join(ROOT, ".cache", "m2"),
                "-Dmatrix.build.dir=" + self.build, "-Dzk.connect=" + connect,
                "-Dtest=CuratorRecipesTest,ZooKeeperClientTest", "test"]

    def cwd(self):
        return os.path.join(HERE, "java")

    def parse(self, out_dir, log):
        reports = glob.glob(os.path.join(self.build, "surefire-reports", "TEST-*.xml"))
        for r in reports:
            shutil.copy(r, out_dir)
        return parse_junit(reports, java_client_of)


class PythonJob(Job):
    def __init__(self):
        super().__init__("python", [KAZOO], 300)

    def command(self, connect, out_dir):
        self._xml = os.path.join(out_dir, "kazoo-recipes.xml")
        return [VENV_PY, "-m", "pytest", os.path.join(HERE, "python"), "-p", "no:cacheprovider", "-q",
                "-rfE", "--junitxml=" + self._xml, "-o", "junit_family=xunit1"]

    def env(self):
        return env_with(ZK_CONNECT=self._connect)

    def parse(self, out_dir, log):
        return parse_junit([os.path.join(out_dir, "kazoo-recipes.xml")], python_client_of)


class GoJob(Job):
    def __init__(self):
        super().__init__("go", [GOZK], 300)

    def command(self, connect, out_dir):
        return ["go", "test", "-count=1", "-json", "-timeout", "240s", "."]

    def cwd(self):
        return os.path.join(HERE, "go")

    def env(self):
        e = go_env()
        e["ZK_CONNECT"] = self._connect
        return e

    def parse(self, out_dir, log):
        return parse_go_json(log, GOZK)


class LinesJob(Job):
    def __init__(self, name, client, argv, timeout=240):
        super().__init__(name, [client], timeout)
        self.argv = argv

    def command(self, connect, out_dir):
        return self.argv + [connect]

    def parse(self, out_dir, log):
        return parse_result_lines(log, self.clients[0])


def all_jobs():
    return [
        JavaJob(),
        PythonJob(),
        GoJob(),
        LinesJob("c", CLIB, [os.path.join(CACHE, "zkmatrix")]),
        LinesJob("cli", CLI, [sys.executable, os.path.join(HERE, "c", "cli_session.py")]),
        LinesJob("rust", RUST, [os.path.join(CACHE, "rust-target", "debug", "rzk-matrix-rust")]),
    ]


def run_logged(argv, cwd, env, log_path, timeout):
    t0 = time.time()
    with open(log_path, "wb") as log:
        try:
            p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            log.write(("cannot start %r: %s\n" % (argv, e)).encode())
            return None, 0.0
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
            log.write(("\n[matrix] killed after %ds timeout\n" % timeout).encode())
            rc = "timeout"
    return rc, time.time() - t0


def tail(path, n=1500):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace")
    except OSError:
        return ""


def run_impl(impl, jobs, out_root, job_names):
    out_dir = os.path.join(out_root, impl)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    t0 = time.time()
    ens_dir = os.path.join(CACHE, "ensemble-" + impl)
    shutil.rmtree(ens_dir, ignore_errors=True)
    ens = Ensemble(impl, ens_dir)
    print("[matrix] %s: starting a 3-member ensemble" % impl, flush=True)
    results, job_times, probe = [], {}, None
    try:
        ens.start()
        connect = ens.connect
        print("[matrix] %s: %s (ready in %.1fs)" % (impl, connect, time.time() - t0), flush=True)
        for job in jobs:
            job._connect = connect
            log = os.path.join(out_dir, job.name + ".log")
            argv = job.command(connect, out_dir)
            rc, secs = run_logged(argv, job.cwd(), job.env(), log, job.timeout)
            job_times[job.name] = round(secs, 1)
            got = job.parse(out_dir, log)
            if not got:
                for client in job.clients:
                    got.append((client, "(job %s)" % job.name, "fail",
                                _short("exit %s, no results; log tail: %s" % (rc, tail(log, 600)))))
            elif rc not in (0, 1) and rc is not None:
                got.append((job.clients[0], "(job %s)" % job.name, "fail", "exit %s: %s" % (rc, _short(tail(log, 400)))))
            n_fail = sum(1 for r in got if r[2] == "fail")
            print("[matrix] %s: %-6s %3d results, %d failed, %5.1fs" % (impl, job.name, len(got), n_fail, secs), flush=True)
            results.extend(got)
        # informational: cross-member visibility window
        plog = os.path.join(out_dir, "visibility-probe.log")
        run_logged([VENV_PY, os.path.join(HERE, "python", "visibility_probe.py"), connect], ROOT, None, plog, 120)
        try:
            probe = json.loads(open(plog).read().strip().splitlines()[-1])
        except (ValueError, IndexError, OSError):
            probe = {"error": _short(tail(plog, 300))}
        modes = ens.modes()
    except Exception as e:
        results.append(("ensemble", "3-member ensemble start", "fail", _short(str(e), 600)))
        modes = []
    finally:
        ens.stop()
        for i in range(1, 4):
            src = os.path.join(ens.member_dir(i), "server.out")
            if os.path.exists(src):
                shutil.copy(src, os.path.join(out_dir, "member%d.out" % i))
        if not os.environ.get("MATRIX_KEEP_DIRS"):
            shutil.rmtree(ens_dir, ignore_errors=True)
    if "readonly" in job_names:
        t1 = time.time()
        got = run_readonly(impl, out_dir)
        job_times["readonly"] = round(time.time() - t1, 1)
        print("[matrix] %s: readonly %s, %.1fs" % (impl, got[0][2], job_times["readonly"]), flush=True)
        results.extend(got)
    return {"impl": impl, "results": results, "seconds": round(time.time() - t0, 1), "job_seconds": job_times,
            "probe": probe, "modes_at_end": modes,
            "finished": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def run_readonly(impl, out_dir):
    """Read-only mode after quorum loss, on an ensemble of its own: Apache serves new read-only
    sessions only with local sessions enabled (as kazoo's own read-only test configures it)."""
    ens_dir = os.path.join(CACHE, "ensemble-ro-" + impl)
    shutil.rmtree(ens_dir, ignore_errors=True)
    ens = Ensemble(impl, ens_dir, extra_cfg=["localSessionsEnabled=true", "localSessionsUpgradingEnabled=true"])
    ro = os.path.join(HERE, "python", "readonly_check.py")
    rlog = os.path.join(out_dir, "readonly.log")
    try:
        ens.start()
        keep = "%s:%d" % (ens.hosts[0], ens.client_port)
        run_logged([VENV_PY, ro, "prepare", keep], ROOT, None, rlog + ".prepare", 60)
        ens.stop_member(2)
        ens.stop_member(3)
        run_logged([VENV_PY, ro, "check", keep], ROOT, None, rlog, 90)
        got = [(c, NICE.get(f, f), st, d) for c, f, st, d in parse_result_lines(rlog, KAZOO)]
        if not got:
            got = [(KAZOO, NICE["read_only_mode"], "fail", _short("no result; " + tail(rlog, 500)))]
        # the Java client (canBeReadOnly) against the same member, still without its quorum
        java = JavaJob()
        reports_dir = os.path.join(java.build, "surefire-reports")
        shutil.rmtree(reports_dir, ignore_errors=True)
        jlog = os.path.join(out_dir, "readonly-java.log")
        cmd = [a if not a.startswith("-Dtest=") else "-Dtest=ReadOnlyModeTest" for a in java.command(keep, out_dir)]
        rc, _ = run_logged(cmd, java.cwd(), None, jlog, 240)
        reports = glob.glob(os.path.join(reports_dir, "TEST-*ReadOnlyModeTest.xml"))
        jgot = [(ZK_JAVA, "read-only mode: " + NICE.get(f, f), st, d)
                for _, f, st, d in parse_junit(reports, java_client_of)]
        if not jgot:
            jgot = [(ZK_JAVA, "read-only mode (canBeReadOnly)", "fail",
                     _short("exit %s: %s" % (rc, tail(jlog, 500))))]
        got += jgot
    except Exception as e:
        got = [(KAZOO, NICE["read_only_mode"], "fail", _short("ensemble: %s" % e))]
    finally:
        ens.stop()
        src = os.path.join(ens.member_dir(1), "server.out")
        if os.path.exists(src):
            shutil.copy(src, os.path.join(out_dir, "readonly-member1.out"))
        if not os.environ.get("MATRIX_KEEP_DIRS"):
            shutil.rmtree(ens_dir, ignore_errors=True)
    return got


# --------------------------------------------------------------------------------------------------
# expected failures and the report


def load_xfails():
    """expected-failures.tsv: impl<TAB>client<TAB>feature<TAB>reason (# comments)."""
    out = {}
    if os.path.exists(XFAIL_FILE):
        for line in open(XFAIL_FILE):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) >= 4:
                out[(parts[0], parts[1], parts[2])] = parts[3]
    return out


def classify(impl, client, feature, status, xfails):
    reason = xfails.get((impl, client, feature))
    if reason is None:
        return status, None
    if status == "fail":
        return "xfail", reason
    if status == "pass":
        return "xpass", reason
    return status, reason


MARK = {"pass": "pass", "fail": "**FAIL**", "xfail": "xfail", "xpass": "**XPASS**", "skip": "skip", None: "not run"}


def git_rev():
    try:
        rev = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True).strip()
        dirty = subprocess.call(["git", "diff", "--quiet", "HEAD", "--", "server"], cwd=ROOT) != 0
        return rev + (" (server/ modified in the work tree)" if dirty else "")
    except Exception:
        return "?"


def write_report(runs, peer):
    xfails = load_xfails()
    rows = {}
    order = []
    for impl in IMPLS:
        run = runs.get(impl)
        if not run:
            continue
        for client, feature, status, detail in run["results"]:
            key = (client, feature)
            if key not in rows:
                rows[key] = {}
                order.append(key)
            rows[key][impl] = (status, detail)
    client_order = [CURATOR, ZK_JAVA, KAZOO, GOZK, CLIB, CLI, RUST, "ensemble"]
    first_seen = {k: i for i, k in enumerate(order)}
    order.sort(key=lambda k: (client_order.index(k[0]) if k[0] in client_order else 99, first_seen[k]))

    L = []
    L.append("# Compatibility matrix: real ZooKeeper clients against rzk and Apache ZooKeeper")
    L.append("")
    L.append("Generated by `tests/matrix/run.sh` from the jobs' outputs; do not edit by hand. Each implementation "
             "runs as a 3-member ensemble on loopback; every client runs the same scenarios against both. "
             "Sources: `tests/matrix/` (README.md there says what each job covers).")
    L.append("")
    for impl in IMPLS:
        run = runs.get(impl)
        if run:
            jt = ", ".join("%s %ss" % (k, v) for k, v in run["job_seconds"].items())
            L.append("- **%s**: run finished %s, %s s in all (%s)%s" % (
                IMPL_TITLE[impl], run["finished"], run["seconds"], jt,
                "; rzk at commit " + run.get("rev", "?") if impl == "rzk" else ""))
        else:
            L.append("- **%s**: not run yet" % IMPL_TITLE[impl])
    L.append("")
    L.append("| Client | Feature | rzk | Apache ZooKeeper 3.8.0 |")
    L.append("| --- | --- | --- | --- |")
    counts = {impl: {} for impl in IMPLS}
    for key in order:
        client, feature = key
        cells = []
        for impl in IMPLS:
            if impl not in runs:
                cells.append("not run")
                continue
            status, _ = rows[key].get(impl, (None, ""))
            st, _ = classify(impl, client, feature, status, xfails) if status else (None, None)
            counts[impl][st] = counts[impl].get(st, 0) + 1
            cells.append(MARK.get(st, st))
        L.append("| %s | %s | %s | %s |" % (client, feature, cells[0], cells[1]))
    L.append("")
    for impl in IMPLS:
        if impl in runs:
            c = counts[impl]
            L.append("%s: %d passed, %d failed, %d expected failures, %d skipped." % (
                IMPL_TITLE[impl], c.get("pass", 0), c.get("fail", 0) + c.get(None, 0) + c.get("xpass", 0),
                c.get("xfail", 0), c.get("skip", 0)))
    L.append("")

    # incompatibilities: rzk differs from Apache
    L.append("## Incompatibilities (rzk fails where Apache ZooKeeper passes)")
    L.append("")
    found = False
    for key in order:
        r, a = rows[key].get("rzk"), rows[key].get("apache")
        if r and r[0] == "fail" and (a is None or a[0] == "pass"):
            found = True
            reason = xfails.get(("rzk", key[0], key[1]))
            L.append("- **%s / %s**: %s%s" % (key[0], key[1], r[1] or "(no detail)",
                                             " — expected failure: " + reason if reason else ""))
    for suite in ("go", "kazoo"):
        r = ((runs.get("rzk") or {}).get("peer") or {}).get(suite)
        a = {x[0]: x[1] for x in (((runs.get("apache") or {}).get("peer") or {}).get(suite) or {}).get("results", [])}
        for name, status, detail, _ in (r or {}).get("results", []):
            if status == "fail" and a.get(name) != "fail":
                found = True
                reason = xfails.get(("rzk", "suite:" + suite, name))
                L.append("- **%s own suite / %s**%s: %s%s" % (
                    suite, name, "" if name in a else " (Apache not run)", detail or "(no detail)",
                    " — expected failure: " + reason if reason else ""))
    if not found:
        L.append("None in this run.")
    L.append("")
    both = [k for k in order if all(rows[k].get(i, ("",))[0] == "fail" for i in IMPLS if i in runs) and len(runs) == 2]
    if both:
        L.append("## Failing on both implementations (client or test problem, not attributable to rzk)")
        L.append("")
        for key in both:
            L.append("- **%s / %s**: rzk: %s; Apache: %s" % (key[0], key[1], rows[key]["rzk"][1], rows[key]["apache"][1]))
        L.append("")
    odd = [k for k in order if rows[k].get("apache", ("",))[0] == "fail" and rows[k].get("rzk", ("",))[0] == "pass"]
    if odd:
        L.append("## Failing only on Apache ZooKeeper")
        L.append("")
        for key in odd:
            L.append("- **%s / %s**: %s" % (key[0], key[1], rows[key]["apache"][1]))
        L.append("")
    if xfails:
        L.append("## Expected failures (tests/matrix/expected-failures.tsv)")
        L.append("")
        for (impl, client, feature), reason in sorted(xfails.items()):
            L.append("- %s, %s / %s: %s" % (IMPL_TITLE.get(impl, impl), client, feature, reason))
        L.append("")

    L.append("## Observation: cross-member visibility window (informational, not pass/fail)")
    L.append("")
    L.append("A client writes through one member; right after the reply, another client reads through a "
             "different member without `sync()`. ZooKeeper does not promise that the second client sees the "
             "write (only one client's view is ordered; others must `sync()` first), so the tests above `sync()` "
             "where they depend on it. This measures how wide the window is in practice.")
    L.append("")
    L.append("| Writer → reader | rzk stale reads | rzk max lag | Apache stale reads | Apache max lag |")
    L.append("| --- | --- | --- | --- | --- |")
    names = []
    for impl in IMPLS:
        p = (runs.get(impl) or {}).get("probe") or {}
        for n in p:
            if n != "error" and n not in names:
                names.append(n)
    for n in names:
        cells = []
        for impl in IMPLS:
            p = ((runs.get(impl) or {}).get("probe") or {}).get(n)
            if p:
                cells += ["%d / %d" % (p["stale_reads"], p["rounds"]), "%s ms" % p["max_lag_ms"]]
            else:
                cells += ["-", "-"]
        L.append("| %s | %s |" % (n, " | ".join(cells)))
    L.append("")

    if peer:
        L.append("## The clients' own test suites (servers started by their harnesses)")
        L.append("")
        L.extend(peer)
    with open(RESULTS_MD, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")


def unexpected_failures(runs, suites_run, all_runs):
    """Matrix jobs: any failure not listed. Peer suites (run this time): an rzk failure where Apache
    passed (or was not run), not listed as suite:<name> in expected-failures.tsv."""
    xfails = load_xfails()
    bad = []
    for impl, run in runs.items():
        for client, feature, status, detail in run["results"]:
            st, _ = classify(impl, client, feature, status, xfails)
            if st == "fail":
                bad.append((impl, client, feature, st, detail))
    rzk = runs.get("rzk")
    if rzk:
        for suite in suites_run:
            apache = {r[0]: r[1] for r in ((all_runs.get("apache") or {}).get("peer", {}).get(suite) or {}).get("results", [])}
            for name, status, detail, _ in (rzk.get("peer", {}).get(suite) or {}).get("results", []):
                st, _ = classify("rzk", "suite:" + suite, name, status, xfails)
                if st == "fail" and apache.get(name, "pass") != "fail":
                    bad.append(("rzk", "suite:" + suite, name, st, detail))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("impl", nargs="?", default="both", choices=["rzk", "apache", "both"])
    ap.add_argument("--only", default="", help="comma-separated job names (java,python,go,c,cli,rust,readonly)")
    ap.add_argument("--suites", default="go",
                    help="the clients' own test suites to run: go,kazoo (default go; kazoo takes ~10 min per impl)")
    ap.add_argument("--no-peer", dest="suites", action="store_const", const="")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: regenerate RESULTS.md from the last results in .cache/matrix/results")
    args = ap.parse_args()
    impls = list(IMPLS) if args.impl == "both" else [args.impl]
    jobs = all_jobs()
    job_names = {j.name for j in jobs} | {"readonly"}
    if args.only:
        job_names = set(args.only.split(","))
        jobs = [j for j in jobs if j.name in job_names]
    os.makedirs(os.path.join(CACHE, "results"), exist_ok=True)
    out_root = os.path.join(CACHE, "out")
    t_all = time.time()
    fresh = {}
    suites = [x for x in args.suites.split(",") if x]
    for x in suites:
        if x not in ("go", "kazoo"):
            ap.error("unknown suite %r" % x)
    import peer

    if args.report_only:
        impls, suites = [], []
    rev = git_rev()  # the commit the rzk binary was built from (run.sh builds first)
    for impl in impls:
        run = run_impl(impl, jobs, out_root, job_names)
        run["rev"] = rev
        run["peer"] = peer.run_all(impl, os.path.join(out_root, impl), suites)
        # keep earlier results of suites not run this time (each says when it ran)
        old_path = os.path.join(CACHE, "results", impl + ".json")
        if os.path.exists(old_path):
            try:
                for k, v in (json.load(open(old_path)).get("peer") or {}).items():
                    run["peer"].setdefault(k, v)
            except ValueError:
                pass
        fresh[impl] = run
        with open(os.path.join(CACHE, "results", impl + ".json"), "w") as f:
            json.dump(run, f, indent=1)
    runs = {}
    for impl in IMPLS:
        path = os.path.join(CACHE, "results", impl + ".json")
        if impl in fresh:
            runs[impl] = fresh[impl]
        elif os.path.exists(path):
            runs[impl] = json.load(open(path))
    notes = {}
    for suite in peer.SUITES:
        p = os.path.join(HERE, "notes", suite + ".md")
        if os.path.exists(p):
            notes[suite] = open(p).read().rstrip("\n").splitlines()
    peer_sections = peer.report(runs, notes, load_xfails())
    write_report(runs, peer_sections)
    bad = unexpected_failures(fresh, suites, runs)
    print("[matrix] wrote %s (%.0fs in all)" % (os.path.relpath(RESULTS_MD, ROOT), time.time() - t_all))
    for impl in impls:
        run = fresh[impl]
        n_pass = sum(1 for r in run["results"] if r[2] == "pass")
        n_fail = sum(1 for r in run["results"] if r[2] == "fail")
        print("[matrix] %s: %d passed, %d failed (%d unexpected), %ss" % (
            impl, n_pass, n_fail, sum(1 for b in bad if b[0] == impl), run["seconds"]))
    for b in bad:
        print("[matrix] UNEXPECTED %s: %s / %s: %s %s" % b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
