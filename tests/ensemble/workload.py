"""Concurrent kazoo clients recording a history (invoke/complete events) for tests/checker.

Each worker thread owns one KazooClient (its own session) whose connect string starts with its
"home" member, so the clients spread over the ensemble and move on when their member fails. Ops on
a few register keys: set (unique value), create, delete, get (plain, local read), sget (sync then
get: linearizable read); plus "cu": create of a unique node, for "no acknowledged write lost".

The reply-header zxid of every request is captured (kazoo keeps only the latest one in
client.last_zxid, racy with reconnects), by wrapping the connection's response reader.
"""

import random
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError
from kazoo.retry import KazooRetry

from linearizability import Op

ROOT = "/hist"
UNIQUE = ROOT + "/u"
DEFINITE = {NoNodeError: "NoNode", NodeExistsError: "NodeExists", BadVersionError: "BadVersion", NotEmptyError: "NotEmpty"}

DEFAULT_WEIGHTS = {"set": 40, "get": 20, "sget": 15, "create": 6, "delete": 5, "cu": 14}


class Recorder:
    def __init__(self):
        self.t_base = time.monotonic()
        self.wall_base = time.time()
        self.ops = []
        self.events = []  # (t, text): nemesis actions
        self._lock = threading.Lock()
        self._next = 0

    def now(self):
        return time.monotonic() - self.t_base

    def new_op(self, proc, f, key, arg=None):
        with self._lock:
            self._next += 1
            op = Op(self._next, proc, f, key, self.now(), arg=arg)
            self.ops.append(op)
        return op

    def event(self, text):
        t = self.now()
        with self._lock:
            self.events.append((t, text))
        return t


class ReplyLog:
    """The reply-header zxid of the latest response and which request type it answered.

    A worker has at most one request outstanding that it still waits for (an op that timed out
    may still be in flight, but its reply arrives before the next one: replies are FIFO), so the
    latest reply when an op completes is that op's reply."""

    def __init__(self):
        self.seq = 0
        self.last = (None, None)

    def zxid(self, since, want):
        if self.seq > since and self.last[0] == want:
            return self.last[1]
        return None


def instrument(client):
    conn = client._connection
    orig = conn._read_response
    log = ReplyLog()

    def wrapped(header, buffer, offset):
        try:
            req = client._pending[0][0]
            log.last = (type(req).__name__, header.zxid)
            log.seq += 1
        except IndexError:
            pass
        return orig(header, buffer, offset)

    conn._read_response = wrapped
    return log


def key_path(key):
    return "%s/%s" % (ROOT, key)


class Worker(threading.Thread):
    def __init__(self, name, hosts, keys, rec, stop, seed, op_timeout=6.0, session_timeout=10.0,
                 weights=None, think=(0.0, 0.02)):
        super().__init__(name=name, daemon=True)
        self.proc = name
        self.hosts = hosts
        self.keys = keys
        self.rec = rec
        self.stop_ev = stop
        self.rnd = random.Random(seed)
        self.op_timeout = op_timeout
        self.session_timeout = session_timeout
        self.weights = weights or DEFAULT_WEIGHTS
        self.think = think
        self.seq = 0
        self.client = None
        self.error = None
        self.sessions = []

    def _connect(self):
        c = KazooClient(
            hosts=self.hosts,
            timeout=self.session_timeout,
            randomize_hosts=False,
            connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5, max_jitter=0.05),
        )
        self.zx = instrument(c)
        deadline = time.time() + 60
        while not self.stop_ev.is_set():
            try:
                c.start(timeout=5)
                break
            except Exception:
                if time.time() > deadline:
                    raise
        return c

    def run(self):
        try:
            self.client = self._connect()
            ops = list(self.weights)
            w = [self.weights[o] for o in ops]
            while not self.stop_ev.is_set():
                f = self.rnd.choices(ops, w)[0]
                self.one(f, self.rnd.choice(self.keys))
                lo, hi = self.think
                if hi:
                    time.sleep(self.rnd.uniform(lo, hi))
        except Exception as e:  # surfaced by the test
            self.error = e
        finally:
            if self.client is not None:
                try:
                    self.client.stop()
                    self.client.close()
                except Exception:
                    pass

    def _wait_connected(self, limit=5.0):
        end = time.time() + limit
        while not self.client.connected and time.time() < end and not self.stop_ev.is_set():
            time.sleep(0.02)

    def _get(self, ao, since, want):
        res = ao.get(timeout=self.op_timeout)
        return res, self.zx.zxid(since, want)

    def one(self, f, key):
        c = self.client
        self.seq += 1
        path = key_path(key)
        arg = None
        if f in ("set", "create"):
            arg = "%s-%d" % (self.proc, self.seq)
        if f == "cu":
            key = "%s-%d" % (self.proc, self.seq)
            path = "%s/%s" % (UNIQUE, key)
            arg = key
        op = self.rec.new_op(self.proc, f, key, arg)
        op.session = c._session_id
        since = self.zx.seq
        try:
            if f == "set":
                st, op.zxid = self._get(c.set_async(path, arg.encode(), -1), since, "SetData")
                op.version = st.version
                op.extra["mzxid"] = st.mzxid
            elif f in ("create", "cu"):
                _, op.zxid = self._get(c.create_async(path, arg.encode()), since, "Create")
            elif f == "delete":
                _, op.zxid = self._get(c.delete_async(path, -1), since, "Delete")
            elif f in ("get", "sget"):
                if f == "sget":
                    c.sync_async(path).get(timeout=self.op_timeout)
                    op.extra["sync_zxid"] = self.zx.zxid(since, "Sync")
                    since = self.zx.seq
                try:
                    (data, st), op.zxid = self._get(c.get_async(path), since, "GetData")
                    op.exists, op.value, op.version, op.mzxid = True, data.decode(), st.version, st.mzxid
                except NoNodeError:
                    op.zxid = self.zx.zxid(since, "GetData")
                    op.exists = False
            op.status = "ok"
            op.t1 = self.rec.now()
        except tuple(DEFINITE) as e:
            op.t1 = self.rec.now()
            op.zxid = self.zx.zxid(since, {"set": "SetData", "create": "Create", "cu": "Create", "delete": "Delete"}.get(f))
            op.error = DEFINITE[type(e)]
            if f in ("get", "sget"):
                op.status = "info"
            else:
                op.status = "fail"
        except Exception as e:
            op.status = "info"
            op.error = type(e).__name__
            op.extra["t_fail"] = self.rec.now()
            self._wait_connected()
        if op.status != "info":
            sid = c._session_id
            if sid != op.session:
                # the session changed under the op (expired and replaced): outcome tied to neither
                op.status, op.error, op.t1 = "info", "SessionChanged", None
            if op.session not in self.sessions:
                self.sessions.append(op.session)
        return op


def setup_keys(client, keys, rec):
    """Create /hist, /hist/u and the register keys (value init-<key>); returns checker init."""
    _retrying(lambda: client.ensure_path(UNIQUE))
    init = {}
    for k in keys:
        p = key_path(k)

        def make():
            try:
                client.create(p, ("init-%s" % k).encode())
            except NodeExistsError:
                pass

        _retrying(make)
        data, st = _retrying(lambda: client.get(p))
        assert data == ("init-%s" % k).encode() and st.version == 0, (p, data, st)
        init[k] = (data.decode(), st.version, st.mzxid)
    return init


def _retrying(fn, timeout=60.0):
    """Retry fn on connection-level errors (a sync may fail spuriously, see test_robustness.py)."""
    deadline = time.time() + timeout
    while True:
        try:
            return fn()
        except (NoNodeError, NodeExistsError):
            raise
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def final_reads(ens, keys, rec, ids=None):
    """sync+get of every key on every member, appended to the history as sget ops."""
    for i in ids or ens.live():
        c = ens.client(i)
        zx = instrument(c)
        for k in keys:
            def read():
                op = rec.new_op("final-m%d" % i, "sget", k)
                op.session = c._session_id
                c.sync(key_path(k))
                since = zx.seq
                try:
                    data, st = c.get(key_path(k))
                    op.exists, op.value, op.version, op.mzxid = True, data.decode(), st.version, st.mzxid
                except NoNodeError:
                    op.exists = False
                op.zxid = zx.zxid(since, "GetData")
                op.status = "ok"
                op.t1 = rec.now()
            _retrying(read)
        c.stop()
        c.close()


def check_unique_creates(ens, rec, ids=None):
    """Every acknowledged unique create exists on every member; nothing else appeared there."""
    acked = {o.key for o in rec.ops if o.f == "cu" and o.status == "ok"}
    maybe = {o.key for o in rec.ops if o.f == "cu" and o.status == "info"}
    problems = []
    per_member = {}
    for i in ids or ens.live():
        c = ens.client(i)

        def children():
            c.sync(UNIQUE)
            return set(c.get_children(UNIQUE))

        names = _retrying(children)
        per_member[i] = names
        lost = acked - names
        if lost:
            problems.append("member %d lost %d acknowledged creates: %s" % (i, len(lost), sorted(lost)[:10]))
        phantom = names - acked - maybe
        if phantom:
            problems.append("member %d has %d creates nobody made: %s" % (i, len(phantom), sorted(phantom)[:10]))
        c.stop()
        c.close()
    sets = list(per_member.values())
    if sets and any(s != sets[0] for s in sets):
        problems.append("members disagree on %s children: %s" % (UNIQUE, {i: len(s) for i, s in per_member.items()}))
    return problems, len(acked), len(maybe)
