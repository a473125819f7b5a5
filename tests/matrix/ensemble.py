"""A 3-member ensemble on loopback, rzk or Apache ZooKeeper, for the compatibility matrix.

    python3 tests/matrix/ensemble.py rzk|apache DIR      # start, print the connect string, run until
                                                          # SIGTERM/SIGINT/stdin EOF, then stop
Used as a module by run.py (``Ensemble(impl, base_dir).start()``).

Each member i gets its own address 127.A.B.i (A, B random per run) so ports never collide with
other runs on the machine; client/quorum/election/metrics ports are random too. Both
implementations read the same zoo.cfg; Apache's extra settings go in as system properties.
"""

import os
import random
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "lib"))
import zkwire  # noqa: E402
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # super:test (kazoo's test suite expects it)
CONTAINER_CHECK_MS = 1000
APACHE_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/*"


def _die_with_parent():
    """preexec_fn: own process group, SIGKILL when the launcher dies (no stray servers)."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def four_letter(host, port, cmd, timeout=3.0):
    return zkwire.four_letter(host, port, cmd, timeout, partial_on_timeout=True)


def _port_free(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Ensemble:
    def __init__(self, impl, base_dir, size=3, rzk_bin=None, heap="-Xmx256m", extra_cfg=(), apache_logs=False):
        if impl not in ("rzk", "apache"):
            raise ValueError("impl must be rzk or apache")
        self.impl = impl
        self.size = size
        self.base_dir = os.path.abspath(base_dir)
        self.rzk_bin = rzk_bin or os.environ.get("RZK_BIN") or os.path.join(REPO_ROOT, "target", "debug", "rzk-server")
        self.heap = heap
        self.extra_cfg = list(extra_cfg)
        # Apache: log INFO to server.out through log4j 1.2 (the wildcard class path below picks
        # slf4j-nop among Debian's several SLF4J bindings, so Apache logs nothing otherwise).
        self.apache_logs = apache_logs
        rnd = random.Random()
        while True:
            a, b = rnd.randint(1, 250), rnd.randint(1, 250)
            self.hosts = ["127.%d.%d.%d" % (a, b, i) for i in range(1, size + 1)]
            self.client_port = rnd.randint(20000, 29999)
            self.quorum_port = rnd.randint(30000, 39999)
            self.election_port = rnd.randint(40000, 49999)
            self.metrics_port = rnd.randint(50000, 59999)
            ports = (self.client_port, self.quorum_port, self.election_port, self.metrics_port)
            if all(_port_free(h, p) for h in self.hosts for p in ports):
                break
        self.procs = [None] * size

    @property
    def connect(self):
        return ",".join("%s:%d" % (h, self.client_port) for h in self.hosts)

    def member_dir(self, i):
        return os.path.join(self.base_dir, "m%d" % i)

    def _write(self, i):
        d = self.member_dir(i)
        data = os.path.join(d, "data")
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(data, "myid"), "w") as f:
            f.write("%d\n" % i)
        lines = [
            "tickTime=1000",
            "initLimit=5",
            "syncLimit=2",
            "dataDir=%s" % data,
            "4lw.commands.whitelist=*",
            "admin.enableServer=false",
            "extendedTypesEnabled=true",
            "DigestAuthenticationProvider.superDigest=%s" % SUPER_DIGEST,
            "rzk.containerCheckIntervalMs=%d" % CONTAINER_CHECK_MS,
            "metricsProvider.httpHost=%s" % self.hosts[i - 1],
            "metricsProvider.httpPort=%d" % self.metrics_port,
            "autopurge.purgeInterval=0",
            "maxClientCnxns=0",
            "reconfigEnabled=true",
            # Apache reads this one as a system property only (set below); rzk from the config
            "readonlymode.enabled=true",
        ] + self.extra_cfg
        for j, h in enumerate(self.hosts, 1):
            lines.append("server.%d=%s:%d:%d;%s:%d" % (j, h, self.quorum_port, self.election_port, h, self.client_port))
        cfg = os.path.join(d, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        return cfg

    def _command(self, i, cfg):
        if self.impl == "rzk":
            return [self.rzk_bin, "start-foreground", cfg]
        d = self.member_dir(i)
        cp, log_flags = APACHE_CP, []
        if self.apache_logs:
            props = os.path.join(d, "log4j.properties")
            with open(props, "w") as f:
                f.write("log4j.rootLogger=INFO, CONSOLE\n"
                        "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"
                        "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n"
                        "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n\n")
            # explicit: the wildcard also holds log4j-over-slf4j, which loops with the binding
            cp = "/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/zookeeper.jar"
            log_flags = ["-Dlog4j.configuration=file:%s" % props]
        return [
            "java", self.heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"] + log_flags + [
            "-Dzookeeper.log.dir=%s" % d,
            "-Dzookeeper.root.logger=INFO,CONSOLE",
            "-Dzookeeper.extendedTypesEnabled=true",
            "-Dznode.container.checkIntervalMs=%d" % CONTAINER_CHECK_MS,
            "-Dzookeeper.DigestAuthenticationProvider.superDigest=%s" % SUPER_DIGEST,
            "-Dzookeeper.4lw.commands.whitelist=*",
            "-Dzookeeper.admin.enableServer=false",
            "-Dreadonlymode.enabled=true",
            "-cp", cp,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg,
        ]

    def start_member(self, i):
        cfg = self._write(i)
        out = open(os.path.join(self.member_dir(i), "server.out"), "ab")
        self.procs[i - 1] = subprocess.Popen(
            self._command(i, cfg), cwd=self.member_dir(i), stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        out.close()

    def start(self, timeout=90.0):
        os.makedirs(self.base_dir, exist_ok=True)
        for i in range(1, self.size + 1):
            self.start_member(i)
        try:
            self.wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def modes(self):
        modes = []
        for h in self.hosts:
            try:
                srvr = four_letter(h, self.client_port, "srvr", timeout=2.0)
            except OSError:
                modes.append(None)
                continue
            mode = None
            for line in srvr.splitlines():
                if line.startswith("Mode:"):
                    mode = line.split(":", 1)[1].strip()
            modes.append(mode)
        return modes

    def wait_ready(self, timeout=90.0):
        deadline = time.time() + timeout
        modes = []
        while time.time() < deadline:
            for i, p in enumerate(self.procs, 1):
                if p is not None and p.poll() is not None:
                    raise RuntimeError("member %d exited with %s:\n%s" % (i, p.returncode, self.tail(i)))
            modes = self.modes()
            if modes.count("leader") == 1 and modes.count("follower") == self.size - 1:
                return modes
            time.sleep(0.3)
        raise TimeoutError("%s ensemble not ready after %.0fs, modes %r\n%s" % (
            self.impl, timeout, modes, "\n".join(self.tail(i) for i in range(1, self.size + 1))))

    def tail(self, i, n=3000):
        try:
            with open(os.path.join(self.member_dir(i), "server.out"), "rb") as f:
                return "--- member %d ---\n%s" % (i, f.read()[-n:].decode("utf-8", "replace"))
        except OSError:
            return ""

    def stop_member(self, i):
        """Stop member i (1-based) and wait for it to exit."""
        p = self.procs[i - 1]
        if p is None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=15)
        self.procs[i - 1] = None

    def stop(self):
        for p in self.procs:
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for i, p in enumerate(self.procs):
            if p is None:
                continue
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=15)
            self.procs[i] = None


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ens = Ensemble(sys.argv[1], sys.argv[2])
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    ens.start()
    print(ens.connect, flush=True)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        ens.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
