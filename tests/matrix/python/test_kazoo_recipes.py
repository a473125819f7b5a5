"""kazoo's recipes, several clients each, against a 3-member ensemble (ZK_CONNECT).

A client that must see another client's write (ordered by the test, out of band) calls sync()
first: ZooKeeper guarantees a single client's view only."""
import threading
import time

import pytest
from kazoo.exceptions import CancelledError, LockTimeout
from kazoo.protocol.states import EventType
from kazoo.recipe.cache import TreeCache, TreeEvent

from conftest import WAIT

pytestmark = pytest.mark.timeout(120)


def eventually(what, cond, timeout=WAIT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for: " + what)


def test_lock(make_client, root):
    path = root + "/lock"
    a, b = make_client(), make_client()
    la, lb = a.Lock(path, "a"), b.Lock(path, "b")
    assert la.acquire(timeout=WAIT)
    b.sync(path)
    assert lb.contenders() == ["a"]
    with pytest.raises(LockTimeout):
        lb.acquire(timeout=0.5)
    la.release()
    assert lb.acquire(timeout=WAIT)
    lb.release()

    # mutual exclusion under contention: 4 clients x 5 rounds
    state = {"holders": 0, "max": 0, "total": 0}
    mu = threading.Lock()
    errors = []

    def worker(c, ident):
        try:
            lk = c.Lock(path, ident)
            for _ in range(5):
                with lk:
                    with mu:
                        state["holders"] += 1
                        state["max"] = max(state["max"], state["holders"])
                    time.sleep(0.005)
                    with mu:
                        state["holders"] -= 1
                        state["total"] += 1
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(make_client(), "w%d" % i)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    assert not errors
    assert state == {"holders": 0, "max": 1, "total": 20}


def test_read_write_lock(make_client, root):
    path = root + "/rw"
    a, b, c = make_client(), make_client(), make_client()
    r1, r2, w = a.ReadLock(path), b.ReadLock(path), c.WriteLock(path)
    assert r1.acquire(timeout=WAIT) and r2.acquire(timeout=WAIT), "readers share"
    with pytest.raises(LockTimeout):
        w.acquire(timeout=0.5)
    r1.release()
    r2.release()
    assert w.acquire(timeout=WAIT)
    w.release()


def test_semaphore(make_client, root):
    path = root + "/sem"
    sems = [make_client().Semaphore(path, "s%d" % i, max_leases=2) for i in range(3)]
    assert sems[0].acquire(timeout=WAIT)
    assert sems[1].acquire(timeout=WAIT)
    assert not sems[2].acquire(blocking=False), "only two leases"
    sems[2].client.sync(path)
    assert sorted(sems[2].lease_holders()) == ["s0", "s1"]
    sems[0].release()
    assert sems[2].acquire(timeout=WAIT)
    for s in sems[1:]:
        s.release()


def test_election(make_client, root):
    path = root + "/election"
    leaders = []
    concurrent = {"now": 0, "max": 0}
    mu = threading.Lock()

    def lead(ident):
        with mu:
            concurrent["now"] += 1
            concurrent["max"] = max(concurrent["max"], concurrent["now"])
            leaders.append(ident)
        time.sleep(0.2)
        with mu:
            concurrent["now"] -= 1

    elections = [make_client().Election(path, "e%d" % i) for i in range(3)]
    ts = [threading.Thread(target=e.run, args=(lead, "e%d" % i)) for i, e in enumerate(elections)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert sorted(leaders) == ["e0", "e1", "e2"], "each ran once as leader"
    assert concurrent["max"] == 1, "never two leaders at once"

    # contenders() lists the queue in order
    e = elections[0]
    blocker = make_client().Lock(path, "holder")
    blocker.acquire(timeout=WAIT)
    e.lock.client.sync(path)
    assert e.contenders() == ["holder"]
    blocker.release()


def test_barrier(make_client, root):
    path = root + "/barrier"
    setter = make_client().Barrier(path)
    waiter_client = make_client()
    waiter = waiter_client.Barrier(path)
    setter.create()
    waiter_client.sync(path)
    assert not waiter.wait(timeout=0.5), "barrier holds"
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("ok", waiter.wait(timeout=WAIT)))
    t.start()
    time.sleep(0.2)
    setter.remove()
    t.join(WAIT + 5)
    assert result.get("ok") is True


def test_double_barrier(make_client, root):
    path = root + "/double"
    n = 3
    entered_at = []
    last_started = []
    errors = []

    def member(i):
        try:
            db = make_client().DoubleBarrier(path, n, identifier="m%d" % i)
            time.sleep(0.3 * i)
            if i == n - 1:
                last_started.append(time.monotonic())
            db.enter()
            entered_at.append(time.monotonic())
            db.leave()
        except Exception as e:
            errors.append(e)

    ts = [threading.Thread(target=member, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    assert not errors
    assert len(entered_at) == n
    assert all(t >= last_started[0] for t in entered_at), "nobody enters before the last arrives"


def test_counter(make_client, root):
    path = root + "/counter"
    a, b = make_client(), make_client()
    ca, cb = a.Counter(path), b.Counter(path)
    ca += 5
    cb += 3  # version-checked retry loop
    cb -= 1
    a.sync(path)
    assert ca.value == 7
    fa = a.Counter(root + "/fcounter", default=0.0)
    fa += 1.5
    assert fa.value == 1.5

    def bump(c):
        cnt = c.Counter(path)
        for _ in range(10):
            cnt += 1

    ts = [threading.Thread(target=bump, args=(make_client(),)) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    a.sync(path)
    assert ca.value == 37, "no lost updates"


def test_queue(make_client, root):
    path = root + "/queue"
    p, c = make_client(), make_client()
    q_put, q_get = p.Queue(path), c.Queue(path)
    for i in range(5):
        q_put.put(b"item-%d" % i)
    q_put.put(b"urgent", priority=1)
    c.sync(path)
    assert len(q_get) == 6
    got = [q_get.get() for _ in range(6)]
    assert got == [b"urgent"] + [b"item-%d" % i for i in range(5)]
    assert q_get.get() is None


def test_locking_queue(make_client, root):
    path = root + "/lqueue"
    p, c1, c2 = make_client(), make_client(), make_client()
    lq = p.LockingQueue(path)
    lq.put_all([b"a", b"b"])
    q1, q2 = c1.LockingQueue(path), c2.LockingQueue(path)
    x = q1.get(timeout=WAIT)
    assert x == b"a"
    y = q2.get(timeout=WAIT)
    assert y == b"b", "q2 skips the entry q1 holds"
    assert q2.release()
    assert q1.consume()
    c2.sync(path)
    assert q2.get(timeout=WAIT) == b"b", "a released entry comes back"
    assert q2.consume()
    c1.sync(path)
    assert len(q1) == 0


def test_party(make_client, root):
    for kind in ("Party", "ShallowParty"):
        path = "%s/%s" % (root, kind)
        parties = [getattr(make_client(), kind)(path, "p%d" % i) for i in range(3)]
        for p in parties:
            p.join()
        observer = make_client()
        observer.sync(path)
        view = getattr(observer, kind)(path)
        assert sorted(view) == ["p0", "p1", "p2"] and len(view) == 3
        parties[1].leave()
        observer.sync(path)
        assert sorted(view) == ["p0", "p2"]


def test_data_watch(make_client, root):
    path = root + "/dw"
    watcher, writer = make_client(), make_client()
    seen = []

    @watcher.DataWatch(path)
    def changed(data, stat, event):
        seen.append((data, stat.version if stat else None, event.type if event else None))

    eventually("initial call", lambda: len(seen) >= 1)
    writer.create(path, b"1")
    eventually("created", lambda: len(seen) >= 2)
    writer.set(path, b"2")
    eventually("changed", lambda: len(seen) >= 3)
    writer.delete(path)
    eventually("deleted", lambda: len(seen) >= 4)
    assert seen[0] == (None, None, None), "initial call: no node"
    assert seen[1] == (b"1", 0, EventType.CREATED)
    assert seen[2] == (b"2", 1, EventType.CHANGED)
    assert seen[3] == (None, None, EventType.DELETED)


def test_children_watch(make_client, root):
    path = root + "/cw"
    watcher, writer = make_client(), make_client()
    watcher.ensure_path(path)
    seen = []

    @watcher.ChildrenWatch(path)
    def kids(children):
        seen.append(sorted(children))

    writer.create(path + "/a")
    eventually("a", lambda: ["a"] in seen)
    writer.create(path + "/b")
    eventually("a, b", lambda: ["a", "b"] in seen)
    writer.delete(path + "/a")
    eventually("b", lambda: seen[-1] == ["b"])
    assert seen[0] == []


def test_tree_cache(make_client, root):
    path = root + "/tree"
    watcher, writer = make_client(), make_client()
    writer.create(path, b"top")
    writer.create(path + "/pre", b"p")
    events = []
    watcher.sync(path)
    cache = TreeCache(watcher, path)
    cache.listen(lambda e: events.append((e.event_type, e.event_data.path if e.event_data else None)))
    cache.start()
    eventually("initialized", lambda: any(t == TreeEvent.INITIALIZED for t, _ in events))
    assert cache.get_data(path + "/pre").data == b"p"
    writer.create(path + "/a/b", b"2", makepath=True)
    eventually("cache sees a/b", lambda: cache.get_data(path + "/a/b") is not None)
    writer.set(path + "/a", b"3")
    writer.delete(path + "/pre")
    eventually("cache sees the tree", lambda: (
        cache.get_data(path + "/a") is not None and cache.get_data(path + "/a").data == b"3"
        and cache.get_data(path + "/a/b") is not None and cache.get_data(path + "/pre") is None))
    assert sorted(cache.get_children(path)) == ["a"]
    want = {(TreeEvent.NODE_ADDED, path + "/a"), (TreeEvent.NODE_ADDED, path + "/a/b"),
            (TreeEvent.NODE_UPDATED, path + "/a"), (TreeEvent.NODE_REMOVED, path + "/pre")}
    eventually("listener events", lambda: want <= set(events))
    cache.close()


def test_lease(make_client, root):
    import datetime

    path = root + "/lease"
    a, b = make_client(), make_client()
    la = a.NonBlockingLease(path, datetime.timedelta(seconds=30), identifier="a")
    assert la
    b.sync(path)
    lb = b.NonBlockingLease(path, datetime.timedelta(seconds=30), identifier="b")
    assert not lb, "lease is held by a"


def test_transaction_and_cancel(make_client, root):
    zk = make_client()
    tx = zk.transaction()
    tx.create(root + "/t1", b"x")
    tx.create(root + "/t2", b"y")
    tx.check(root, 0)
    results = tx.commit()
    assert results[:2] == [root + "/t1", root + "/t2"] and results[2] is True
    lock = zk.Lock(root + "/cancel")
    other = make_client().Lock(root + "/cancel")
    assert lock.acquire(timeout=WAIT)
    t = threading.Thread(target=lambda: pytest.raises(CancelledError, other.acquire))
    t.start()
    time.sleep(0.3)
    other.cancel()
    t.join(WAIT)
    assert not t.is_alive()
    lock.release()


# --- reconfig error precedence (reconfigEnabled=true on both servers) ----------------------------
# ZooKeeper validates a reconfig request (config version, then the member specs) before it checks
# the caller's WRITE permission on /zookeeper/config; kazoo's own TestReconfig relies on that order.

def _observer_spec():
    return "server.100=127.0.0.1:1:2:observer;127.0.0.1:3"


def _config_version(zk):
    data, _ = zk.get("/zookeeper/config")
    for line in data.decode().splitlines():
        if line.startswith("version="):
            return int(line.split("=", 1)[1], 16)
    raise AssertionError("no version= line in /zookeeper/config: %r" % data)


def test_reconfig_unauthorized(zk):
    from kazoo.exceptions import NoAuthError

    with pytest.raises(NoAuthError):
        zk.reconfig(joining=_observer_spec(), leaving=None, new_members=None)


def test_reconfig_bad_arguments_before_auth(zk):
    from kazoo.exceptions import BadArgumentsError

    with pytest.raises(BadArgumentsError):
        zk.reconfig(joining="some thing", leaving=None, new_members=None)


def test_reconfig_version_checked_before_auth(zk):
    from kazoo.exceptions import BadVersionError

    zk.sync("/zookeeper/config")
    with pytest.raises(BadVersionError):
        zk.reconfig(joining=_observer_spec(), leaving=None, new_members=None, from_config=_config_version(zk) + 1)
