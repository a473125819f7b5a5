"""A scripted cli_mt session (ZooKeeper C client shell, Debian zookeeper-bin).

    python3 cli_session.py host:port,host:port,...

Drives two interactive cli_mt processes (one watches, one writes) and prints one line per
feature: "RESULT cli_<feature> PASS" / "RESULT cli_<feature> FAIL <why>".
"""
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time

CLI = os.environ.get("CLI_MT", "/usr/lib/zookeeper/bin/cli_mt")
TIMEOUT = 20.0


class Cli:
    def __init__(self, hosts):
        # stdbuf: cli_mt prints with stdio, block-buffered into a pipe otherwise
        self.p = subprocess.Popen(["stdbuf", "-oL", "-eL", CLI, "-h", hosts], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()
        self.expect(r"state = CONNECTED_STATE")

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, command):
        self.p.stdin.write(command + "\n")
        self.p.stdin.flush()

    def expect(self, pattern, timeout=TIMEOUT):
        """Wait for a line matching pattern; returns the match. Lines read so far are consumed."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("no line matching %r within %.0fs; last lines: %r"
                                     % (pattern, timeout, self.seen[-8:]))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            m = rx.search(line)
            if m:
                return m

    def run(self, command, pattern, timeout=TIMEOUT):
        self.send(command)
        return self.expect(pattern, timeout)

    def close(self):
        try:
            self.send("quit")
            self.p.wait(timeout=10)
        except Exception:
            self.p.kill()
            self.p.wait()


def main():
    hosts = sys.argv[1]
    root = "/matrix-cli-%08x" % random.getrandbits(32)
    failures = 0
    cli = Cli(hosts)
    writer = Cli(hosts)

    def feature(name, fn):
        nonlocal failures
        try:
            fn()
            print("RESULT cli_%s PASS" % name, flush=True)
        except Exception as e:  # one line per feature, whatever broke
            failures += 1
            print("RESULT cli_%s FAIL %s" % (name, str(e).replace("\n", " ")[:400]), flush=True)

    def crud():
        cli.run("create %s" % root, r"^\[%s\]: rc = 0" % re.escape(root))
        cli.run("create %s/a" % root, r"^\[%s/a\]: rc = 0" % re.escape(root))
        cli.run("create %s/a" % root, r"^\[%s/a\]: rc = -110" % re.escape(root))  # ZNODEEXISTS
        cli.run("set %s/a hello" % root, r"^%s/a: rc = 0" % re.escape(root))
        cli.expect(r"version=1\b")
        cli.run("get %s/a" % root, r"^%s/a: rc = 0" % re.escape(root))
        cli.expect(r"^ value_len = 5$")
        cli.expect(r"^hello$")
        cli.run("ls %s" % root, r"^%s: rc = 0" % re.escape(root))
        cli.expect(r"^\ta$")
        cli.run("delete %s" % root, r"^%s: rc = -111" % re.escape(root))  # ZNOTEMPTY
        cli.run("delete %s/a" % root, r"^%s/a: rc = 0" % re.escape(root))
        cli.run("get %s/a" % root, r"^%s/a: rc = -101" % re.escape(root))  # ZNONODE

    def modes():
        cli.run("create +e %s/e" % root, r"^\[%s/e\]: rc = 0" % re.escape(root))
        cli.run("create +s %s/s" % root, r"name = %s/s(\d{10})$" % re.escape(root))
        cli.run("create +e %s/e/kid" % root, r"^\[%s/e/kid\]: rc = -108" % re.escape(root))  # NOCHILDRENFOREPHEMERALS
        cli.run("create +c %s/cont" % root, r"^\[%s/cont\]: rc = 0" % re.escape(root))
        cli.run("create +t=60000 %s/ttl" % root, r"^\[%s/ttl\]: rc = 0" % re.escape(root))
        cli.run("create2 +e %s/e2" % root, r"^\[%s/e2\]: rc = 0" % re.escape(root))
        cli.expect(r"ephemeralOwner = [1-9a-f][0-9a-f]*$")

    def watches():
        w = root + "/w"
        cli.run("wexists %s" % w, r"Error -101 for %s$|%s: rc = -101" % (re.escape(w), re.escape(w)))
        writer.run("create %s" % w, r"^\[%s\]: rc = 0" % re.escape(w))
        cli.expect(r"Watcher CREATED_EVENT .* for path %s$" % re.escape(w))
        cli.run("get %s" % w, r"^%s: rc = 0" % re.escape(w))  # get sets a data watch
        writer.run("set %s x" % w, r"^%s: rc = 0" % re.escape(w))
        cli.expect(r"Watcher CHANGED_EVENT .* for path %s$" % re.escape(w))
        cli.run("ls %s" % w, r"^%s: rc = 0" % re.escape(w))  # ls sets a child watch
        writer.run("create %s/k" % w, r"^\[%s/k\]: rc = 0" % re.escape(w))
        cli.expect(r"Watcher CHILD_EVENT .* for path %s$" % re.escape(w))
        cli.run("get %s/k" % w, r"^%s/k: rc = 0" % re.escape(w))
        writer.run("delete %s/k" % w, r"^%s/k: rc = 0" % re.escape(w))
        cli.expect(r"Watcher DELETED_EVENT .* for path %s/k$" % re.escape(w))

    def auth_and_config():
        cli.send("addauth digest alice:pw")  # no output on success
        cli.run("ls %s" % root, r"^%s: rc = 0" % re.escape(root))
        cli.run("config", r"^/zookeeper/config: rc = 0")
        cli.expect(r"^server\.1=")
        cli.expect(r"^server\.3=")
        cli.run("sync %s" % root, r"^\[%s\]: rc = 0" % re.escape(root))

    feature("crud", crud)
    feature("create_modes", modes)
    feature("watches", watches)
    feature("auth_config", auth_and_config)
    cli.close()  # its ephemerals go with it
    cleanup = Cli(hosts)
    try:
        for p in ("/w", "/s0000000001", "/cont", "/ttl", ""):
            cleanup.send("delete %s%s" % (root, p))
        time.sleep(1.0)
    finally:
        cleanup.close()
    writer.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
