"""The clients' own test suites, pointed at rzk and at Apache ZooKeeper through their harnesses.

* go-zookeeper/zk v1.0.4 (`go test github.com/go-zookeeper/zk`): its harness runs
  `$ZOOKEEPER_BIN_PATH/zkServer.sh start-foreground <cfg>`; peer/gozk-bin/zkServer.sh starts rzk or
  Apache on that config (see its docstring for the one adapter both need). Each test runs in its own
  process with its own timeout, so one slow test cannot take the rest down.
* kazoo 2.11.0 (`pytest --pyargs kazoo.tests`): its harness runs `java ... QuorumPeerMain <cfg>`;
  for rzk, peer/kazoo-bin/java (first on PATH) runs rzk on that config; for Apache the real java
  runs. Long (about 10 minutes per implementation on two cores), so only with --suites kazoo.
"""
import glob
import os
import random
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CACHE = os.path.join(ROOT, ".cache", "matrix")
KAZOO_VENV_PY = os.path.join(CACHE, "venv-kazoo", "bin", "python")
GO_TEST_TIMEOUT = 100  # seconds per go-zookeeper test
KAZOO_TIMEOUT = 1800  # whole kazoo suite

SUITES = {
    "go": "go-zookeeper/zk v1.0.4 own tests (`go test github.com/go-zookeeper/zk`)",
    "kazoo": "kazoo 2.11.0 own tests (`pytest --pyargs kazoo.tests`, cluster of 3)",
}


def _short(text, n=300):
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _go_env():
    e = dict(os.environ)
    e.update(GOMODCACHE=os.path.join(ROOT, ".cache", "go", "mod"), GOCACHE=os.path.join(ROOT, ".cache", "go", "build"),
             GOFLAGS="-modcacherw", GOPROXY="off", GOTOOLCHAIN="local")
    return e


def _killpg(pid):
    try:
        os.killpg(pid, 9)
    except (ProcessLookupError, PermissionError):
        pass


def run_go_suite(impl, out_dir):
    binary = os.path.join(CACHE, "gozk.test")
    subprocess.run(["go", "test", "-c", "-o", binary, "github.com/go-zookeeper/zk"], cwd=os.path.join(HERE, "go"),
                   env=_go_env(), check=True, stdout=subprocess.DEVNULL)
    names = subprocess.run([binary, "-test.list", "^Test"], capture_output=True, text=True, check=True).stdout.split()
    names = [n for n in names if n.startswith("Test")]
    env = dict(os.environ)
    # ZK_VERSION: the reconfig tests skip without it
    env.update(ZOOKEEPER_BIN_PATH=os.path.join(HERE, "peer", "gozk-bin"), MATRIX_IMPL=impl, ZK_VERSION="3.8.0")
    log_path = os.path.join(out_dir, "peer-go.log")
    results = []
    work = os.path.join(CACHE, "gozk-work")
    os.makedirs(work, exist_ok=True)
    with open(log_path, "w") as log:
        for name in names:
            t0 = time.time()
            p = subprocess.Popen([binary, "-test.run", "^%s$" % name, "-test.v", "-test.count=1",
                                  "-test.timeout", "%ds" % GO_TEST_TIMEOUT], cwd=work, env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            try:
                raw, _ = p.communicate(timeout=GO_TEST_TIMEOUT + 30)
            except subprocess.TimeoutExpired:
                _killpg(p.pid)
                raw, _ = p.communicate()
                raw += b"\n[matrix] killed after timeout\n"
            # a test binary that panicked leaves its zkServer.sh stand-ins behind: end them (their
            # servers die with them)
            _killpg(p.pid)
            out = raw.decode("utf-8", "replace")
            secs = time.time() - t0
            log.write("##### %s (%.1fs)\n%s\n" % (name, secs, out))
            m = re.search(r"^--- (PASS|FAIL|SKIP): %s " % re.escape(name), out, re.M)
            status = m.group(1).lower() if m else "fail"
            detail = ""
            if status != "pass":
                if "test timed out after" in out:
                    detail = "timed out after %ds" % GO_TEST_TIMEOUT
                lines = [l.strip() for l in out.splitlines()
                         if re.match(r"\s+\S+_test\.go:\d+:", l) and "[ZKERR]" not in l]
                detail = _short("; ".join(filter(None, [detail] + lines[-3:])))
            results.append((name, status, detail, round(secs, 1)))
    return results


def run_kazoo_suite(impl, out_dir):
    env = dict(os.environ)
    env.update(ZOOKEEPER_VERSION="3.8.0", ZOOKEEPER_CLUSTER_SIZE="3",
               ZOOKEEPER_PORT_OFFSET=str(random.randrange(20000, 60000, 100)))
    if impl == "rzk":
        env["PATH"] = os.path.join(HERE, "peer", "kazoo-bin") + os.pathsep + env["PATH"]
        env["ZOOKEEPER_CLASSPATH"] = "rzk"  # the harness wants one of PATH/CLASSPATH; the shim ignores it
    else:
        env["ZOOKEEPER_PATH"] = "/usr/share/java"
        env["JAVA_TOOL_OPTIONS"] = "-Xmx256m"
    xml = os.path.join(out_dir, "peer-kazoo.xml")
    work = os.path.join(CACHE, "kazoo-work-" + impl)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(out_dir, "peer-kazoo.log"), "wb") as log:
        try:
            subprocess.run([KAZOO_VENV_PY, "-m", "pytest", "--pyargs", "kazoo.tests", "-p", "no:cacheprovider", "-q",
                            "-rfEs", "--timeout=120", "--junitxml=" + xml, "-o", "junit_family=xunit1"],
                           cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           timeout=KAZOO_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.write(b"\n[matrix] kazoo suite killed after timeout\n")
    results = []
    try:
        tree = ET.parse(xml)
    except (ET.ParseError, OSError):
        return [("(suite)", "fail", "no junit report; see peer-kazoo.log", 0)]
    for tc in tree.iter("testcase"):
        name = "%s::%s" % (tc.get("classname", "").replace("kazoo.tests.", ""), tc.get("name"))
        status, detail = "pass", ""
        for tag in ("failure", "error"):
            el = tc.find(tag)
            if el is not None and status == "pass":
                status = "fail"
                detail = _short(el.get("message") or (el.text or "").strip().splitlines()[-1:] and (el.text or "").strip().splitlines()[-1])
        sk = tc.find("skipped")
        if sk is not None:
            status, detail = "skip", _short(sk.get("message", ""))
        results.append((name, status, detail, round(float(tc.get("time", 0) or 0), 1)))
    return results


def run_all(impl, out_dir, suites):
    done = {}
    for suite in suites:
        t0 = time.time()
        print("[matrix] %s: peer suite %s ..." % (impl, suite), flush=True)
        try:
            res = run_go_suite(impl, out_dir) if suite == "go" else run_kazoo_suite(impl, out_dir)
        except Exception as e:  # a harness that cannot even start is a result too
            res = [("(suite)", "fail", _short(repr(e)), 0)]
        secs = round(time.time() - t0, 1)
        counts = {s: sum(1 for r in res if r[1] == s) for s in ("pass", "fail", "skip")}
        print("[matrix] %s: peer suite %s: %d passed, %d failed, %d skipped, %.0fs" % (
            impl, suite, counts["pass"], counts["fail"], counts["skip"], secs), flush=True)
        done[suite] = {"results": res, "seconds": secs,
                       "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    return done


def report(runs, notes, xfails=None):
    """Markdown lines: per suite, counts per implementation and every test not passing on both."""
    out = []
    impls = [i for i in ("rzk", "apache") if i in runs]
    title = {"rzk": "rzk", "apache": "Apache"}
    for suite, heading in SUITES.items():
        per = {i: (runs[i].get("peer") or {}).get(suite) for i in impls}
        if not any(per.values()):
            out.append("### %s" % heading)
            out.append("")
            out.append("Not run in the last runs (`tests/matrix/run.sh both --suites %s`)." % suite)
            out.append("")
            continue
        out.append("### %s" % heading)
        out.append("")
        for i in impls:
            p = per[i]
            if p:
                c = {s: sum(1 for r in p["results"] if r[1] == s) for s in ("pass", "fail", "skip")}
                out.append("- %s: %d passed, %d failed, %d skipped in %ss (run finished %s)" % (
                    title[i], c["pass"], c["fail"], c["skip"], p["seconds"], p["finished"]))
            else:
                out.append("- %s: not run" % title[i])
        out.append("")
        if notes.get(suite):
            out.extend(notes[suite])
            out.append("")
        table = {}
        order = []
        for i in impls:
            for name, status, detail, secs in (per[i] or {}).get("results", []):
                if name not in table:
                    table[name] = {}
                    order.append(name)
                table[name][i] = (status, detail, secs)
        listed = {k[2] for k in (xfails or {}) if k[1] == "suite:" + suite}
        ran = [i for i in impls if per[i]]
        differing = [n for n in order if n in listed or any(table[n].get(i, ("?",))[0] != "pass" for i in ran)]
        if differing:
            out.append("| Test | rzk | Apache | Detail |")
            out.append("| --- | --- | --- | --- |")
            for n in differing:
                cells = []
                details = []
                for i in impls:
                    st = table[n].get(i)
                    reason = (xfails or {}).get((i, "suite:" + suite, n))
                    if st and reason and st[0] == "fail":
                        cells.append("xfail")
                    elif st and reason and st[0] == "pass":
                        cells.append("**XPASS**")
                    else:
                        cells.append({"pass": "pass", "fail": "**FAIL**", "skip": "skip"}.get(st[0], st[0]) if st else "not run")
                    if st and st[0] != "pass" and st[1]:
                        details.append("%s: %s" % (title[i], st[1].replace("|", "\\|")))
                while len(cells) < 2:
                    cells.append("not run")
                out.append("| %s | %s | %s | %s |" % (n, cells[0], cells[1], "<br>".join(details)))
            out.append("")
        passing = [n for n in order if n not in differing]
        if passing:
            out.append("Passing on both (%d): %s" % (len(passing), ", ".join("`%s`" % n for n in passing)) if suite == "go"
                       else "Passing on both: %d tests." % len(passing))
            out.append("")
    return out
