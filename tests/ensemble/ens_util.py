"""Helpers shared by the ensemble tests."""

import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry

FAILOVERS = []  # rows for the failover-time report (conftest prints them)

RETRYABLE = (KazooException, KazooTimeoutError, OSError)


class CreateWriter(threading.Thread):
    """Creates <prefix>00000, <prefix>00001, ... (data = the path) until `stop` is set. `acked`: the
    acknowledged creates (a retried create that finds its node counts); `unknown`: outcome unknown."""

    def __init__(self, client, prefix):
        super().__init__(daemon=True)
        self.c = client
        self.prefix = prefix
        self.acked = {}
        self.unknown = set()
        self.stop = threading.Event()
        self.n = 0

    def run(self):
        while not self.stop.is_set():
            p = "%s%05d" % (self.prefix, self.n)
            self.n += 1
            try:
                bounded(self.c.create_async(p, p.encode()), 5)
                self.acked[p] = p.encode()
            except NodeExistsError:
                self.acked[p] = p.encode()
            except RETRYABLE:
                self.unknown.add(p)
                time.sleep(0.05)


def stop_writers(writers, timeout=15):
    """Stops the CreateWriters; the union of their acknowledged writes."""
    for w in writers:
        w.stop.set()
    acked = {}
    for w in writers:
        w.join(timeout)
        acked.update(w.acked)
    return acked


def wait_until(pred, timeout, what="condition", interval=0.05):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = pred()
            if last:
                return last
        except RETRYABLE as e:
            last = e
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


def fast_client(ens, ids, session_timeout=10.0, start=True):
    """KazooClient on the given members that reconnects every 50 ms (for timing measurements)."""
    if isinstance(ids, int):
        ids = [ids]
    c = KazooClient(
        hosts=ens.connect_string(ids),
        timeout=session_timeout,
        randomize_hosts=False,
        connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1, max_delay=0.05, max_jitter=0.01),
    )
    ens.clients.append(c)
    if start:
        c.start(timeout=15)
    return c


def attempt(fn, timeout=2.0):
    """Run fn(); return (True, result) or (False, exception)."""
    try:
        return True, fn()
    except RETRYABLE as e:
        return False, e


def retry(fn, timeout, interval=0.02, op_timeout=2.0):
    """Call fn until it succeeds; returns (result, seconds taken)."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        ok, res = attempt(fn)
        if ok:
            return res, time.monotonic() - start
        last = res
        time.sleep(interval)
    raise AssertionError("no success within %.1fs (last error: %r)" % (timeout, last))


def bounded(async_result, timeout=3.0):
    return async_result.get(timeout=timeout)


def write_ok(client, path, value, timeout=2.0):
    return bounded(client.set_async(path, value, -1), timeout)


class LeaderWatch(threading.Thread):
    """Polls srvr of the given members until one reports Mode: leader; records when."""

    def __init__(self, ens, ids, t0):
        super().__init__(daemon=True)
        self.ens, self.ids, self.t0 = ens, ids, t0
        self.elapsed = None
        self.leader = None
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set() and time.monotonic() - self.t0 < 60:
            for i in self.ids:
                try:
                    s = self.ens.members[i].srvr(timeout=0.5)
                except OSError:
                    continue
                if s and s.get("mode") == "leader":
                    self.elapsed = time.monotonic() - self.t0
                    self.leader = i
                    return
            time.sleep(0.01)


def measure_failover(ens, test, probe=None, path="/failover-probe", timeout=30.0):
    """kill -9 the leader; time until a write through a surviving member succeeds.

    Returns the report row (also appended to FAILOVERS): election = first srvr 'leader' among the
    survivors, write = first acknowledged setData through `probe` (default: a follower)."""
    leader = ens.wait_leader()
    survivors = [i for i in ens.live() if i != leader]
    probe = probe or next(i for i in survivors if ens.members[i].role == "participant")
    c = fast_client(ens, probe)
    c.ensure_path(path)
    c.set(path, b"before")
    t0 = time.monotonic()
    ens.kill9(leader)
    watch = LeaderWatch(ens, survivors, t0)
    watch.start()
    _, took = retry(lambda: write_ok(c, path, b"after-%d" % leader), timeout)
    took = time.monotonic() - t0
    watch.join(5)
    watch.stop.set()
    row = {"test": test, "n": len([i for i in ens.ids() if ens.members[i].role == "participant"]),
           "old_leader": leader, "new_leader": watch.leader, "election": watch.elapsed, "write": took,
           "via": "follower %d" % probe}
    FAILOVERS.append(row)
    c.stop()
    c.close()
    return row


def sync_retrying(client, path, timeout=20.0):
    """sync, retried: rzk's sync can fail spuriously (see test_robustness.py); helpers that only
    need a caught-up member must not trip over that."""
    return retry(lambda: bounded(client.sync_async(path), 5), timeout)[0]


def read_on(ens, mid, path, sync=True, client=None):
    """(data, stat) of path as member mid has it (after sync by default), or None."""
    c = client or ens.client(mid)
    try:
        if sync:
            sync_retrying(c, path)
        return c.get(path)
    except NoNodeError:
        return None
    finally:
        if client is None:
            c.stop()
            c.close()
            ens.clients.remove(c)


def snapshot_tree(client, root):
    """{path: data} of a subtree (after sync)."""
    sync_retrying(client, root)
    out = {}

    def walk(p):
        try:
            data, _ = client.get(p)
        except NoNodeError:
            return
        out[p] = data
        for ch in sorted(client.get_children(p)):
            walk(p.rstrip("/") + "/" + ch)

    walk(root)
    return out


def trees_everywhere(ens, root, ids=None):
    """{member: {path: data}} of root on each given live member, each read after sync."""
    res = {}
    for i in ids or ens.live():
        c = ens.client(i)
        try:
            res[i] = snapshot_tree(c, root)
        finally:
            c.stop()
            c.close()
            ens.clients.remove(c)
    return res


def assert_same_everywhere(ens, root, ids=None, expect_subset=None):
    trees = trees_everywhere(ens, root, ids)
    ref_id = sorted(trees)[0]
    ref = trees[ref_id]
    for i, t in trees.items():
        if t != ref:
            only_ref = sorted(set(ref) - set(t))[:10]
            only_i = sorted(set(t) - set(ref))[:10]
            diff = sorted(p for p in set(ref) & set(t) if ref[p] != t[p])[:10]
            raise AssertionError("member %d and member %d differ under %s: only on %d %s, only on %d %s, different data %s"
                                 % (ref_id, i, root, ref_id, only_ref, i, only_i, diff))
    if expect_subset:
        missing = {p: v for p, v in expect_subset.items() if ref.get(p) != v}
        assert not missing, "acknowledged writes missing/different: %s" % sorted(missing.items())[:10]
    return ref
