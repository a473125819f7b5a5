"""Multi-process rzk ensembles on loopback, with fault injection, for tests/ensemble.

    ens = Ensemble(n=3, observers=0).start()
    ens.leader(); ens.wait_leader(); ens.kill9(i); ens.pause(i); ens.resume(i); ens.restart(i)
    ens.isolate(i); ens.partition([1], [2, 3]); ens.heal()
    ens.client(i) / ens.client([1, 2, 3]) -> started KazooClient; ens.connect_string()
    ens.cleanup()

Addresses. Every run picks a random 127.X.Y.0/24; member i lives on 127.X.Y.i with its own random
ports (client, quorum, election, metrics). Nothing leaves loopback.

Peer links through a fault-injecting proxy. rzk members reach each other at the quorum address of
the *replicated* membership (the bootstrapping member's server.N lines), so the proxy sits there:
member i listens for peers on 127.X.Y.i:<quorum_port>, while the membership advertises
127.X.Y.i:<peer_port>, where the proxy process listens and forwards to the real port. The proxy
knows which member opened a forwarded connection (it looks the connecting socket up in
/proc/net/tcp and /proc/<pid>/fd of the members), so it can cut any directed link i->j:
"drop" (default) black-holes the bytes of a blocked direction (connections stay open, like a lost
route: RPCs time out), "reject" closes connections on blocked links and refuses new ones. A
connection that lost bytes is closed when its link heals (its framing is broken), so peers
reconnect cleanly.

Bootstrap with proxied addresses. The bootstrapping member (lowest participant id) initializes the
Raft membership from its own server.N lines, but it must listen on its own line. So it first runs
with its own line = its advertised (proxy) address, initializes the ensemble, is stopped, and runs
from then on with its real quorum port while the proxy takes over the advertised one. Every other
member runs with its own line = its real quorum port from the start (their other lines are never
used after bootstrap).

Cleanup. Member and proxy processes get their own process group and PR_SET_PDEATHSIG=SIGKILL when
started from the main thread (pdeathsig follows the *thread* that forked, so from other threads it
is not set and atexit / cleanup() is relied on). cleanup() kills everything (also SIGSTOPped
members) and is registered with atexit. Run dirs are removed unless RZK_ENS_KEEP=1 or keep=True.

Run this file as a program (`python ensemble.py proxy`) to get the proxy process.
"""

import asyncio
import atexit
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import zkwire  # noqa: E402
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# Password "test" for the digest super user (ZooKeeper's DigestAuthenticationProvider.superDigest).
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
SUPER_AUTH = ("digest", "super:test")

NOT_SERVING = "not currently serving requests"


def rzk_bin():
    return os.environ.get("RZK_BIN") or os.path.join(REPO_ROOT, "target", "debug", "rzk-server")


def free_port(host):
    return zkwire.free_port(host)


def four_letter(host, port, cmd, timeout=3.0):
    """Send a four-letter word, return the whole reply (a read timeout raises)."""
    return zkwire.four_letter(host, port, cmd, timeout)


def parse_srvr(text):
    """srvr reply -> dict (mode, zxid, ...), or None when the server is not serving."""
    if NOT_SERVING in text:
        return None
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip().lower()] = v.strip()
    if "zxid" in out:
        out["zxid"] = int(out["zxid"], 16)
    if "mode" not in out:
        return None
    return out


def parse_mntr(text):
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition("\t")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _preexec(pdeathsig):
    def f():
        os.setsid()
        if pdeathsig:
            try:
                import ctypes

                ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            except Exception:
                pass

    return f


def _on_main_thread():
    return threading.current_thread() is threading.main_thread()


_LIVE = set()  # ensembles not cleaned up yet


@atexit.register
def _cleanup_all():
    for e in list(_LIVE):
        try:
            e.cleanup()
        except Exception:
            pass


# --------------------------------------------------------------------------------------------
# The proxy process
# --------------------------------------------------------------------------------------------


def _diag_inode(local, remote):
    """Inode of the IPv4 TCP socket local->remote, by an exact NETLINK_SOCK_DIAG lookup (~15 us)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)  # NETLINK_SOCK_DIAG
    try:
        s.settimeout(1.0)
        sockid = (struct.pack("!HH", local[1], remote[1]) + socket.inet_aton(local[0]) + b"\0" * 12
                  + socket.inet_aton(remote[0]) + b"\0" * 12
                  + struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF))  # if, INET_DIAG_NOCOOKIE
        req = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
        # nlmsghdr: len, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, pid
        s.sendto(struct.pack("=IHHII", 16 + len(req), 20, 1, 1, 0) + req, (0, 0))
        data = s.recv(65536)
        if struct.unpack_from("=H", data, 4)[0] != 20:
            return None  # NLMSG_ERROR: no such socket
        # inet_diag_msg: 4 bytes, inet_diag_sockid (48), expires, rqueue, wqueue, uid, inode
        return str(struct.unpack_from("=I", data, 16 + 68)[0])
    finally:
        s.close()


def _proc_inode(local, remote):
    """Same from /proc/net/tcp (slow when the host has many sockets: a substring search only)."""
    def hexa(a):
        return "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(a[0]))[0], a[1])

    want = " %s %s " % (hexa(local), hexa(remote))
    try:
        with open("/proc/net/tcp") as f:
            text = f.read()
    except OSError:
        return None
    i = text.find(want)
    if i < 0:
        return None
    line = text[text.rfind("\n", 0, i) + 1: text.find("\n", i)]
    p = line.split()
    return p[9] if len(p) > 9 else None


def _socket_inode(local, remote):
    try:
        return _diag_inode(local, remote)
    except OSError:
        return _proc_inode(local, remote)


def _owner(inode, pids):
    """Which member (by pid table) holds the socket with this inode."""
    want = "socket:[%s]" % inode
    for member, pid in pids.items():
        d = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(d)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(d, fd)) == want:
                    return member
            except OSError:
                continue
    return None


class _Link:
    __slots__ = ("src", "dst", "writers", "tainted", "closed")

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.writers = []
        self.tainted = False
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        for w in self.writers:
            try:
                w.transport.abort()
            except Exception:
                pass


class PeerProxy:
    def __init__(self, loop):
        self.loop = loop
        self.upstream = {}
        self.servers = {}
        self.pids = {}
        self.blocked = set()
        self.reject = False
        self.delays = {}  # (src, dst) -> seconds added to every chunk src->dst
        self.links = set()
        self.accepted = 0
        self.dropped_bytes = 0

    def is_blocked(self, a, b):
        return a is not None and b is not None and (a, b) in self.blocked

    def link_blocked(self, link):
        return self.is_blocked(link.src, link.dst) or self.is_blocked(link.dst, link.src)

    async def on_accept(self, dst, cr, cw):
        self.accepted += 1
        peer = cw.get_extra_info("peername")
        local = cw.get_extra_info("sockname")
        src = None
        inode = _socket_inode((peer[0], peer[1]), (local[0], local[1]))
        if inode is not None:
            src = _owner(inode, dict(self.pids))
        link = _Link(src, dst)
        link.writers.append(cw)
        if self.reject and self.link_blocked(link):
            link.close()
            return
        up = self.upstream.get(dst)
        try:
            ur, uw = await asyncio.wait_for(asyncio.open_connection(*up), 3)
        except Exception:
            link.close()
            return
        if link.closed:
            uw.transport.abort()
            return
        for w in (cw, uw):
            s = w.get_extra_info("socket")
            if s is not None:
                try:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
        link.writers.append(uw)
        self.links.add(link)
        try:
            await asyncio.gather(self.pump(link, cr, uw, src, dst), self.pump(link, ur, cw, dst, src))
        finally:
            link.close()
            self.links.discard(link)

    def delay_of(self, a, b):
        if a is None or b is None:
            return 0.0
        return self.delays.get((a, b), 0.0)

    async def pump(self, link, reader, writer, a, b):
        queue = asyncio.Queue()
        sender = asyncio.ensure_future(self.send_delayed(link, queue, writer))
        try:
            while not link.closed:
                data = await reader.read(65536)
                if not data:
                    break
                if self.is_blocked(a, b):
                    link.tainted = True
                    self.dropped_bytes += len(data)
                    continue
                if link.tainted:
                    break
                d = self.delay_of(a, b)
                if d <= 0 and queue.empty():
                    writer.write(data)
                    await writer.drain()
                else:
                    queue.put_nowait((self.loop.time() + d, data))
        except Exception:
            pass
        finally:
            link.close()
            sender.cancel()

    async def send_delayed(self, link, queue, writer):
        """Writes queued chunks in order, each not before its due time (added latency)."""
        try:
            while not link.closed:
                due, data = await queue.get()
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
        except Exception:
            link.close()

    def set_blocked(self, links, reject):
        self.blocked = {(a, b) for a, b in links}
        self.reject = reject
        for link in list(self.links):
            if link.tainted and not (self.is_blocked(link.src, link.dst) and self.is_blocked(link.dst, link.src)):
                link.close()
            elif reject and self.link_blocked(link):
                link.close()

    async def command(self, msg):
        op = msg.get("op")
        if op == "listen":
            m = int(msg["member"])
            self.upstream[m] = tuple(msg["upstream"])
            if m not in self.servers:
                host, port = msg["listen"]
                self.servers[m] = await asyncio.start_server(
                    lambda r, w, m=m: self.on_accept(m, r, w), host, port, reuse_address=True, backlog=128
                )
            return {}
        if op == "pids":
            self.pids = {int(k): int(v) for k, v in msg["pids"].items()}
            return {}
        if op == "block":
            self.set_blocked([tuple(x) for x in msg["links"]], bool(msg.get("reject")))
            return {}
        if op == "delay":
            self.delays = {(int(a), int(b)): float(ms) / 1000.0 for a, b, ms in msg["links"]}
            return {}
        if op == "info":
            return {
                "links": [[l.src, l.dst, l.tainted] for l in self.links],
                "accepted": self.accepted,
                "dropped_bytes": self.dropped_bytes,
                "blocked": sorted(self.blocked),
            }
        if op == "ping":
            return {}
        raise ValueError("unknown op %r" % op)


def proxy_main():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    proxy = PeerProxy(loop)
    out_lock = threading.Lock()

    def reply(obj):
        with out_lock:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

    def reader():
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
                fut = asyncio.run_coroutine_threadsafe(proxy.command(msg), loop)
                res = fut.result(30)
                res["ok"] = True
                reply(res)
            except Exception as e:  # report, keep serving
                reply({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
        loop.call_soon_threadsafe(loop.stop)

    async def watchdog():
        """Log event-loop stalls and traffic to stderr (proxy.log): a stalled proxy stalls every link."""
        last = loop.time()
        last_report = last
        while True:
            await asyncio.sleep(0.1)
            now = loop.time()
            lag = now - last - 0.1
            if lag > 0.2:
                sys.stderr.write("%.3f proxy loop stalled %.3f s (links %d, accepted %d)\n" % (
                    time.time(), lag, len(proxy.links), proxy.accepted))
            if now - last_report > 10:
                sys.stderr.write("%.3f proxy: links %d accepted %d dropped_bytes %d blocked %s\n" % (
                    time.time(), len(proxy.links), proxy.accepted, proxy.dropped_bytes, sorted(proxy.blocked)))
                last_report = now
            sys.stderr.flush()
            last = now

    loop.create_task(watchdog())
    threading.Thread(target=reader, daemon=True).start()
    loop.run_forever()


class ProxyControl:
    """Handle on the proxy process (one per ensemble)."""

    def __init__(self, log_path):
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "proxy"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            preexec_fn=_preexec(_on_main_thread()),
            text=True,
            bufsize=1,
        )
        self._lock = threading.Lock()
        self.call(op="ping")

    def call(self, **msg):
        with self._lock:
            if self.proc.poll() is not None:
                raise RuntimeError("peer proxy exited with %s" % self.proc.returncode)
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("peer proxy closed its control channel")
        res = json.loads(line)
        if not res.pop("ok", False):
            raise RuntimeError("peer proxy: %s" % res.get("error"))
        return res

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except Exception:
                pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:
                pass
        self._log.close()


# --------------------------------------------------------------------------------------------
# Members and ensembles
# --------------------------------------------------------------------------------------------


class Member:
    def __init__(self, ens, mid, ip, role):
        self.ens = ens
        self.id = mid
        self.ip = ip
        self.role = role  # "participant" | "observer" (as configured at start)
        self.client_port = free_port(ip)
        self.quorum_port = free_port(ip)  # where the member listens for peers
        self.peer_port = free_port(ip)  # advertised: the proxy listens here
        self.election_port = free_port(ip)  # unused by rzk, required by the syntax
        self.metrics_port = free_port(ip)
        self.admin_port = free_port(ip) if ens.admin else None
        self.dir = os.path.join(ens.dir, "m%d" % mid)
        self.data_dir = os.path.join(self.dir, "data")
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log_path = os.path.join(self.dir, "server.log")
        os.makedirs(self.data_dir, exist_ok=True)
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % mid)
        self.proc = None
        self.paused = False
        self._log = None
        self.starts = 0
        self.bin = None  # this member's rzk-server binary; None = rzk_bin() (upgrade tests set it)

    @property
    def hosts(self):
        return "%s:%d" % (self.ip, self.client_port)

    def spec(self, role=None):
        """This member's server.N line as the ensemble knows it (advertised peer address)."""
        return "server.%d=%s:%d:%d:%s;%s:%d" % (
            self.id, self.ip, self.peer_port, self.election_port, role or self.role, self.ip, self.client_port)

    def own_line(self, role=None):
        return "server.%d=%s:%d:%d:%s;%s:%d" % (
            self.id, self.ip, self.quorum_port, self.election_port, role or self.role, self.ip, self.client_port)

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def four(self, cmd, timeout=3.0):
        return four_letter(self.ip, self.client_port, cmd, timeout=timeout)

    def admin(self, cmd, timeout=3.0):
        """GET /commands/<cmd> on this member's AdminServer (Ensemble(admin=True)); the JSON answer."""
        import json
        import urllib.request
        url = "http://%s:%d/commands/%s" % (self.ip, self.admin_port, cmd)
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read().decode())

    def srvr(self, timeout=3.0):
        """parsed srvr, None if not serving; raises OSError when unreachable."""
        return parse_srvr(self.four("srvr", timeout))

    def mode(self, timeout=2.0):
        """'leader' | 'follower' | 'observer' | 'standalone' | 'not serving' | 'down' | 'paused'."""
        if not self.alive:
            return "down"
        if self.paused:
            return "paused"
        try:
            s = self.srvr(timeout)
        except OSError:
            return "down"
        return s["mode"] if s else "not serving"

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def __repr__(self):
        return "<member %d %s pid=%s>" % (self.id, self.hosts, self.pid)


class Ensemble:
    def __init__(self, n=3, observers=0, tick_ms=1000, extra_cfg=None, keep=None, name="ens", log_filter=None,
                 session_timeouts=None, observer_join="cfg", admin=False):
        """admin: run each member's AdminServer on its own address (Member.admin).
        observer_join: "cfg" = observers are in the bootstrapping member's zoo.cfg (the ZooKeeper
        way); "reconfig" = the ensemble starts with the participants only and each observer is
        then added with a reconfig (joining=server.N=...:observer;...)."""
        self.n = n
        self.admin = admin
        self.observer_join = observer_join
        self.n_observers = observers
        self.tick_ms = tick_ms
        self.extra_cfg = dict(extra_cfg or {})
        self.keep = keep if keep is not None else bool(os.environ.get("RZK_ENS_KEEP"))
        self.log_filter = log_filter or os.environ.get("RZK_ENS_LOG", "info,openraft=warn")
        self.session_timeouts = session_timeouts  # (min_ms, max_ms) or None
        self.dir = tempfile.mkdtemp(prefix="rzk-%s-" % name)
        self.base = "127.%d.%d." % (random.randint(64, 250), random.randint(1, 254))
        self.members = {}
        for i in range(1, n + observers + 1):
            self.members[i] = Member(self, i, self.base + str(i), "participant" if i <= n else "observer")
        self.proxy = None
        self.clients = []
        self.blocked = set()
        self.started = False
        self._cleaned = False
        _LIVE.add(self)

    # ---- configuration -------------------------------------------------------------------

    def ids(self):
        return sorted(self.members)

    def participants(self):
        return [i for i in self.ids() if self.members[i].role == "participant"]

    def bootstrapper(self):
        return self.participants()[0]

    def cfg_text(self, mid, bootstrap=False, servers=None):
        m = self.members[mid]
        lines = [
            "tickTime=%d" % self.tick_ms,
            "initLimit=5",
            "syncLimit=2",
            "dataDir=%s" % m.data_dir,
            "4lw.commands.whitelist=*",
            "reconfigEnabled=true",
            "admin.enableServer=%s" % ("true" if self.admin else "false"),
            "metricsProvider.httpHost=%s" % m.ip,
            "metricsProvider.httpPort=%d" % m.metrics_port,
            "DigestAuthenticationProvider.superDigest=%s" % SUPER_DIGEST,
            "maxClientCnxns=0",
            "autopurge.purgeInterval=0",
        ]
        if self.admin:
            lines.append("admin.serverAddress=%s" % m.ip)
            lines.append("admin.serverPort=%d" % m.admin_port)
        if self.session_timeouts:
            lines.append("minSessionTimeout=%d" % self.session_timeouts[0])
            lines.append("maxSessionTimeout=%d" % self.session_timeouts[1])
        for k, v in self.extra_cfg.items():
            lines.append("%s=%s" % (k, v))
        if m.role == "observer":
            lines.append("peerType=observer")
        if servers is None:
            servers = self.ids()
            if bootstrap and self.observer_join == "reconfig":
                servers = self.participants()
        for i in servers:
            o = self.members[i]
            if i == mid and not bootstrap:
                lines.append(o.own_line())
            else:
                lines.append(o.spec())
        return "\n".join(lines) + "\n"

    def write_cfg(self, mid, bootstrap=False):
        with open(self.members[mid].cfg_path, "w") as f:
            f.write(self.cfg_text(mid, bootstrap=bootstrap))

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout=60.0):
        """Start every member, bootstrap through the proxy, wait until all serve with one leader."""
        for m in self.members.values():
            b = m.bin or rzk_bin()
            if not os.access(b, os.X_OK):
                raise RuntimeError("rzk binary %s missing (cargo build -p rzk-server)" % b)
        self.proxy = ProxyControl(os.path.join(self.dir, "proxy.log"))
        b = self.bootstrapper()
        for i in self.ids():
            if i != b:
                self._proxy_listen(i)
        for i in self.ids():
            self.write_cfg(i, bootstrap=(i == b))
        try:
            for i in self.ids():
                self._spawn(i)
            deadline = time.time() + timeout
            first = self.participants() if self.observer_join == "reconfig" else None
            self.wait_healthy(timeout=max(1.0, deadline - time.time()), ids=first)
            # Phase B: the bootstrapper moves to its real quorum port, the proxy takes its advertised one.
            self.stop_member(b)
            self._proxy_listen(b)
            self.write_cfg(b)
            self._spawn(b)
            if self.observer_join == "reconfig" and self.n_observers:
                self.wait_healthy(timeout=max(1.0, deadline - time.time()), ids=self.participants())
                self.add_observers_by_reconfig(timeout=max(1.0, deadline - time.time()))
            self.wait_healthy(timeout=max(1.0, deadline - time.time()))
        except Exception:
            self.dump_logs()
            raise
        self.started = True
        return self

    def add_observers_by_reconfig(self, timeout=30.0):
        from kazoo.client import KazooClient

        c = KazooClient(hosts=self.connect_string(self.participants()), auth_data=[SUPER_AUTH], timeout=10.0)
        c.start(timeout=timeout)
        try:
            joining = ",".join(self.members[i].spec() for i in self.ids() if self.members[i].role == "observer")
            deadline = time.time() + timeout
            while True:
                try:
                    c.reconfig(joining=joining, leaving=None, new_members=None)
                    return
                except Exception:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.3)
        finally:
            c.stop()
            c.close()

    def _proxy_listen(self, mid):
        m = self.members[mid]
        self.proxy.call(op="listen", member=mid, listen=[m.ip, m.peer_port], upstream=[m.ip, m.quorum_port])

    def _send_pids(self):
        if self.proxy is not None:
            self.proxy.call(op="pids", pids={str(i): m.pid for i, m in self.members.items() if m.alive})

    def _spawn(self, mid):
        m = self.members[mid]
        if m.alive:
            return
        if m._log is None:
            m._log = open(m.log_path, "ab")
        m._log.write(("\n===== start #%d at %.3f (%s) =====\n"
                      % (m.starts + 1, time.time(), m.bin or rzk_bin())).encode())
        m._log.flush()
        env = dict(os.environ)
        env["RZK_LOG"] = self.log_filter
        m.proc = subprocess.Popen(
            [m.bin or rzk_bin(), "start-foreground", m.cfg_path],
            cwd=m.dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=m._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_preexec(_on_main_thread()),
        )
        m.paused = False
        m.starts += 1
        self._send_pids()

    def _wait_listening(self, mid, timeout=30.0):
        m = self.members[mid]
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not m.alive:
                raise RuntimeError("member %d exited with %s:\n%s" % (mid, m.proc.returncode, m.log_tail()))
            try:
                if m.four("ruok", 1.0).strip() == "imok":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("member %d does not answer ruok" % mid)

    def start_member(self, mid, wait=True, timeout=30.0):
        """Start a stopped/killed member; wait=True waits until it serves (has a leader)."""
        self._spawn(mid)
        self._wait_listening(mid, timeout)
        if wait:
            self.wait_serving(mid, timeout)

    def kill9(self, mid):
        m = self.members[mid]
        if m.proc is None:
            return
        try:
            os.killpg(m.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        m.proc.wait(15)
        m.proc = None
        m.paused = False
        self._send_pids()

    def stop_member(self, mid, timeout=10.0):
        """Graceful stop (SIGTERM; SIGKILL after timeout)."""
        m = self.members[mid]
        if m.proc is None:
            return
        if m.paused:
            self.resume(mid)
        try:
            os.killpg(m.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            m.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9(mid)
            return
        m.proc = None
        self._send_pids()

    def restart(self, mid, crash=True, wait=True, timeout=30.0):
        if crash:
            self.kill9(mid)
        else:
            self.stop_member(mid)
        self.start_member(mid, wait=wait, timeout=timeout)

    def pause(self, mid):
        m = self.members[mid]
        os.killpg(m.proc.pid, signal.SIGSTOP)
        m.paused = True

    def resume(self, mid):
        m = self.members[mid]
        if m.proc is not None:
            os.killpg(m.proc.pid, signal.SIGCONT)
        m.paused = False

    def live(self):
        return [i for i in self.ids() if self.members[i].alive and not self.members[i].paused]

    # ---- roles -----------------------------------------------------------------------------

    def modes(self, ids=None):
        return {i: self.members[i].mode() for i in (ids or self.ids())}

    def leaders(self, ids=None):
        return [i for i, md in self.modes(ids).items() if md == "leader"]

    def leader(self, ids=None):
        """The one serving leader among live members, or None (none or several)."""
        ls = self.leaders(ids)
        return ls[0] if len(ls) == 1 else None

    def wait_leader(self, timeout=30.0, exclude=(), ids=None):
        """Wait for exactly one serving leader among live members not excluded; returns its id."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            cand = [i for i in (ids or self.live()) if i not in exclude]
            last = self.modes(cand)
            ls = [i for i, md in last.items() if md == "leader"]
            if len(ls) == 1:
                return ls[0]
            time.sleep(0.05)
        raise TimeoutError("no single leader within %.0fs: %r" % (timeout, last))

    def wait_serving(self, mid, timeout=30.0):
        deadline = time.time() + timeout
        md = None
        while time.time() < deadline:
            md = self.members[mid].mode()
            if md in ("leader", "follower", "observer"):
                return md
            time.sleep(0.05)
        raise TimeoutError("member %d not serving after %.0fs (mode %s)" % (mid, timeout, md))

    def wait_healthy(self, timeout=30.0, ids=None, roles=True):
        """All given (default: live) members serve, exactly one leader, observers observe."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            want = ids or self.live()
            last = self.modes(want)
            ok = all(md in ("leader", "follower", "observer") for md in last.values())
            if ok and sum(1 for md in last.values() if md == "leader") == 1:
                if not roles or all(last[i] == "observer" for i in want if self.members[i].role == "observer"):
                    return last
            time.sleep(0.1)
        raise TimeoutError("ensemble not healthy after %.0fs: %r" % (timeout, last))

    def zxids(self, ids=None):
        out = {}
        for i in ids or self.live():
            try:
                s = self.members[i].srvr()
                out[i] = s["zxid"] if s else None
            except OSError:
                out[i] = None
        return out

    def wait_converged(self, timeout=30.0, ids=None):
        """Wait until every given live member reports the same last zxid (twice in a row)."""
        deadline = time.time() + timeout
        last = None
        stable = 0
        while time.time() < deadline:
            z = self.zxids(ids)
            vals = set(z.values())
            if None not in vals and len(vals) == 1 and z == last:
                stable += 1
                if stable >= 2:
                    return z
            else:
                stable = 0
            last = z
            time.sleep(0.2)
        raise TimeoutError("members did not converge: %r" % last)

    # ---- clients ---------------------------------------------------------------------------

    def connect_string(self, ids=None):
        return ",".join(self.members[i].hosts for i in (ids or self.ids()))

    def client(self, ids=None, start=True, timeout=15.0, auth_super=False, **kw):
        """A started KazooClient to member `ids` (int) or members (list); stopped at cleanup."""
        from kazoo.client import KazooClient

        if isinstance(ids, int):
            ids = [ids]
        kw.setdefault("timeout", 10.0)
        if ids is not None and len(ids) == 1:
            kw.setdefault("connection_retry", {"max_tries": -1, "delay": 0.1, "max_delay": 0.5})
        if auth_super:
            kw["auth_data"] = [SUPER_AUTH]
        c = KazooClient(hosts=self.connect_string(ids), **kw)
        self.clients.append(c)
        if start:
            c.start(timeout=timeout)
        return c

    def mntr(self, mid):
        return parse_mntr(self.members[mid].four("mntr"))

    # ---- partitions -------------------------------------------------------------------------

    def block(self, links, reject=False):
        """Block exactly these directed links [(src, dst), ...] (replaces the current set)."""
        self.blocked = {(int(a), int(b)) for a, b in links}
        self.proxy.call(op="block", links=sorted(self.blocked), reject=reject)

    def partition(self, *groups, reject=False):
        """Cut every link between different groups; members in no group form one more group."""
        groups = [set(g) for g in groups]
        rest = set(self.ids()) - set().union(*groups)
        if rest:
            groups.append(rest)
        where = {i: gi for gi, g in enumerate(groups) for i in g}
        links = [(a, b) for a in self.ids() for b in self.ids() if a != b and where[a] != where[b]]
        self.block(links, reject=reject)

    def isolate(self, mid, reject=False):
        self.partition([mid], reject=reject)

    def heal(self):
        self.block([])

    def delay(self, ms, links=None):
        """Add `ms` of latency to every chunk on the given directed links (default: all); 0 = off."""
        if links is None:
            links = [(a, b) for a in self.ids() for b in self.ids() if a != b]
        self.proxy.call(op="delay", links=[[a, b, ms] for a, b in links] if ms else [])

    def proxy_info(self):
        return self.proxy.call(op="info")

    # ---- teardown ---------------------------------------------------------------------------

    def dump_logs(self, n=3000, out=None):
        out = out or sys.stderr
        for i in self.ids():
            m = self.members[i]
            out.write("\n----- member %d (%s) log tail: %s -----\n%s\n" % (i, m.hosts, m.log_path, m.log_tail(n)))
        out.flush()

    def cleanup(self):
        if self._cleaned:
            return
        self._cleaned = True
        _LIVE.discard(self)
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
        for i, m in self.members.items():
            if m.proc is not None:
                try:
                    os.killpg(m.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    m.proc.wait(10)
                except Exception:
                    pass
                m.proc = None
            if m._log is not None:
                m._log.close()
                m._log = None
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "proxy":
        proxy_main()
    else:
        print(__doc__)
