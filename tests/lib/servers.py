"""Start/stop a ZooKeeper-compatible server for the compat tests.

Two implementations, chosen by the environment variable ``ZK_IMPL``:

* ``apache`` (default) - Apache ZooKeeper 3.8 from Debian (``zkServer.sh start-foreground``).
* ``rzk``  - this project's server, ``${RZK_BIN:-target/debug/rzk-server} start-foreground <zoo.cfg>``.

Both read the same zoo.cfg written here. ``ZK_CONNECT=host:port`` makes the fixtures use an already
running server instead of starting one (then crash/restart helpers are unavailable).

Server feature toggles written into every zoo.cfg (tests depend on them):
  * minSessionTimeout=4000 / maxSessionTimeout=60000   (quick expiry tests)
  * 4lw.commands.whitelist=*                           (four-letter-word tests)
  * admin.enableServer=false
  * extendedTypesEnabled=true                          (TTL nodes; Apache maps unknown keys to
                                                        system property zookeeper.<key>)
  * enforceQuota=true                                  (hard quotas refuse writes; Apache also
                                                        gets -Dzookeeper.enforceQuota=true)
  * rzk.containerCheckIntervalMs=1000                  (rzk: container/TTL reaper period)
  Apache gets the reaper period via SERVER_JVMFLAGS=-Dznode.container.checkIntervalMs=1000.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkwire  # noqa: E402
ZK_BIN_DIR = os.environ.get("ZOOKEEPER_BIN_DIR", "/usr/share/zookeeper/bin")
CONTAINER_CHECK_INTERVAL_MS = 1000
MIN_SESSION_TIMEOUT_MS = 4000
MAX_SESSION_TIMEOUT_MS = 60000


def _die_with_parent():
    """preexec_fn: own process group, and SIGKILL when the test process dies (no stray servers)."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def impl_name():
    return os.environ.get("ZK_IMPL", "apache").strip().lower()


def free_port(host="127.0.0.1"):
    return zkwire.free_port(host)


def four_letter(host, port, cmd, timeout=5.0):
    """Send a four-letter word and return the whole reply (server closes the socket)."""
    return zkwire.four_letter(host, port, cmd, timeout, partial_on_timeout=True)


def wait_ready(host, port, timeout=60.0, proc=None):
    """Wait until `ruok` answers `imok` and `srvr` reports a serving server.

    (Apache answers `imok` to ruok before it serves requests: `srvr` then says "This ZooKeeper
    instance is not currently serving requests".)"""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited early with code %s" % proc.returncode)
        try:
            if four_letter(host, port, "ruok", timeout=2.0).strip() == "imok":
                if "not currently serving" not in four_letter(host, port, "srvr", timeout=2.0):
                    return
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise TimeoutError("server on %s:%d not ready after %.0fs (%r)" % (host, port, timeout, last))


class ZkServer:
    """One standalone server process with its own temp dir (config, data, logs)."""

    def __init__(self, impl=None, host="127.0.0.1", port=None, base_dir=None, extra_cfg=None,
                 audit=False):
        self.impl = impl or impl_name()
        if self.impl not in ("apache", "rzk"):
            raise ValueError("ZK_IMPL must be apache or rzk, not %r" % self.impl)
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = base_dir is None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="rzk-compat-%s-" % self.impl)
        self.data_dir = os.path.join(self.base_dir, "data")
        self.conf_dir = os.path.join(self.base_dir, "conf")
        self.log_dir = os.path.join(self.base_dir, "log")
        for d in (self.data_dir, self.conf_dir, self.log_dir):
            os.makedirs(d, exist_ok=True)
        self.cfg_path = os.path.join(self.conf_dir, "zoo.cfg")
        self.extra_cfg = dict(extra_cfg or {})
        # audit=True: audit.enable=true, the audit lines in log/audit.log (rzk.auditLogFile for
        # rzk; for Apache a log4j.properties routing org.apache.zookeeper.audit there).
        self.audit = audit
        self.audit_path = os.path.join(self.log_dir, "audit.log")
        self.proc = None
        self._out = None

    @property
    def hosts(self):
        return "%s:%d" % (self.host, self.port)

    def write_cfg(self):
        cfg = {
            "tickTime": "2000",
            "initLimit": "10",
            "syncLimit": "5",
            "dataDir": self.data_dir,
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "maxClientCnxns": "0",
            "minSessionTimeout": str(MIN_SESSION_TIMEOUT_MS),
            "maxSessionTimeout": str(MAX_SESSION_TIMEOUT_MS),
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
            "extendedTypesEnabled": "true",
            "enforceQuota": "true",
            "autopurge.purgeInterval": "0",
            "rzk.containerCheckIntervalMs": str(CONTAINER_CHECK_INTERVAL_MS),
        }
        if self.audit:
            cfg["audit.enable"] = "true"
            if self.impl == "rzk":
                cfg["rzk.auditLogFile"] = self.audit_path
            else:
                self._write_audit_log4j()
        cfg.update(self.extra_cfg)
        with open(self.cfg_path, "w") as f:
            for k, v in cfg.items():
                f.write("%s=%s\n" % (k, v))

    def _write_audit_log4j(self):
        # Debian's ZooKeeper logs through log4j 1.2; zkEnv.sh puts ZOOCFGDIR on the classpath.
        lines = [
            "log4j.rootLogger=INFO, CONSOLE",
            "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender",
            "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n",
            "log4j.logger.org.apache.zookeeper.audit=INFO, AUDIT",
            "log4j.additivity.org.apache.zookeeper.audit=false",
            "log4j.appender.AUDIT=org.apache.log4j.FileAppender",
            "log4j.appender.AUDIT.File=%s" % self.audit_path,
            "log4j.appender.AUDIT.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.AUDIT.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n",
        ]
        with open(os.path.join(self.conf_dir, "log4j.properties"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def audit_lines(self):
        """The audit events so far: each line's message (``key=value`` pairs joined by tabs),
        without the time, level and logger name the log framework puts first."""
        try:
            with open(self.audit_path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            m = re.search(r"((?:session|user)=[^\t]*\t.*result=\w+)\s*$", line)
            if m:
                out.append(m.group(1))
        return out

    def command(self):
        if self.impl == "apache":
            return [os.path.join(ZK_BIN_DIR, "zkServer.sh"), "start-foreground", self.cfg_path]
        rzk_bin = os.environ.get("RZK_BIN", os.path.join(REPO_ROOT, "target", "debug", "rzk-server"))
        return [rzk_bin, "start-foreground", self.cfg_path]

    def env(self):
        env = dict(os.environ)
        if self.impl == "apache":
            env.update(
                ZOOCFGDIR=self.conf_dir,
                ZOO_LOG_DIR=self.log_dir,
                JMXDISABLE="true",
                SERVER_JVMFLAGS=" ".join(
                    [
                        "-Xmx512m",
                        "-Dznode.container.checkIntervalMs=%d" % CONTAINER_CHECK_INTERVAL_MS,
                        "-Dzookeeper.extendedTypesEnabled=true",
                        "-Dzookeeper.enforceQuota=true",
                        env.get("SERVER_JVMFLAGS", ""),
                    ]
                ),
            )
            if self.audit:
                # Debian's zookeeper.jar has no SLF4J binding on its class path (the server logs
                # nothing); a later -cp replaces zkEnv.sh's, adding log4j 1.2 and its binding.
                cp = ":".join([self.conf_dir, "/usr/share/java/zookeeper.jar",
                               "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"])
                env["SERVER_JVMFLAGS"] += " -cp %s -Dlog4j.configuration=file:%s" % (
                    cp, os.path.join(self.conf_dir, "log4j.properties"))
        return env

    def start(self, timeout=60.0):
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.write_cfg()
        self._out = open(os.path.join(self.log_dir, "server.out"), "ab")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.base_dir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        try:
            wait_ready(self.host, self.port, timeout=timeout, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError("server failed to start; output:\n" + self.output_tail())
        return self

    def output_tail(self, n=4000):
        try:
            with open(os.path.join(self.log_dir, "server.out"), "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _signal(self, sig):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout=15.0):
        """Graceful stop (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        self.proc = None
        if self._out:
            self._out.close()
            self._out = None

    def kill9(self):
        """Crash the server (SIGKILL to its process group); data dir is kept."""
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait(timeout=15)
        self.proc = None
        if self._out:
            self._out.close()
            self._out = None

    def pause(self):
        self._signal(signal.SIGSTOP)

    def resume(self):
        self._signal(signal.SIGCONT)

    def restart(self, crash=False, timeout=60.0):
        """Stop (or kill -9 when crash=True) and start again on the same port and data dir."""
        if crash:
            self.kill9()
        else:
            self.stop()
        return self.start(timeout=timeout)

    def cleanup(self):
        self.stop()
        if self._own_dir and not os.environ.get("ZK_KEEP_DIRS"):
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class ExternalServer:
    """A server somebody else runs (ZK_CONNECT=host:port). No lifecycle control."""

    impl = "external"

    def __init__(self, connect):
        host, _, port = connect.rpartition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port)

    @property
    def hosts(self):
        return "%s:%d" % (self.host, self.port)

    def start(self, timeout=60.0):
        wait_ready(self.host, self.port, timeout=timeout)
        return self

    def cleanup(self):
        pass

    def _unsupported(self, *a, **k):
        raise RuntimeError("server lifecycle control unavailable with ZK_CONNECT")

    stop = kill9 = restart = pause = resume = _unsupported


def server_from_env():
    """The server the tests should talk to: external if ZK_CONNECT is set, else a new one."""
    connect = os.environ.get("ZK_CONNECT")
    if connect:
        return ExternalServer(connect)
    return ZkServer()
