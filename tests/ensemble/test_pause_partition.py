"""SIGSTOP pauses and network partitions (through the peer proxy of tests/lib/ensemble.py)."""

import threading
import time

import pytest

from ens_util import (
    FAILOVERS,
    assert_same_everywhere,
    attempt,
    bounded,
    fast_client,
    retry,
    wait_until,
    write_ok,
)
from test_failover import expect_roles, write_batch


class ModeSampler(threading.Thread):
    """Samples every member's srvr mode; records instants with more than one serving leader."""

    def __init__(self, ens, ids):
        super().__init__(daemon=True)
        self.ens, self.ids = ens, ids
        self.stop = threading.Event()
        self.samples = 0
        self.double = []

    def run(self):
        while not self.stop.is_set():
            modes = {i: self.ens.members[i].mode(timeout=0.5) for i in self.ids}
            self.samples += 1
            leaders = [i for i, m in modes.items() if m == "leader"]
            if len(leaders) > 1:
                self.double.append(modes)
            time.sleep(0.05)


def test_sigstop_leader_steps_down_no_split_brain(ens3):
    ens = ens3
    old = ens.wait_leader()
    others = [i for i in ens.ids() if i != old]
    c = ens.client(others)
    c.ensure_path("/pause")
    c.set("/pause", b"start")
    c_old = ens.client(old)  # a session on the leader-to-be-paused
    v0 = c.get("/pause")[1].version
    sampler = ModeSampler(ens, others)
    sampler.start()

    t0 = time.monotonic()
    ens.pause(old)
    stale = c_old.set_async("/pause", b"written-via-paused-leader", -1)  # sits in the paused socket
    new = ens.wait_leader(exclude=[old], ids=others, timeout=15)
    elected = time.monotonic() - t0
    st1, _ = retry(lambda: write_ok(c, "/pause", b"majority-1"), 15)
    st2 = write_ok(c, "/pause", b"majority-2")
    time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))  # paused well past the election timeout

    ens.resume(old)
    sampler.ids = ens.ids()
    # the old leader steps down and follows the new one
    wait_until(lambda: ens.members[old].mode() == "follower", 15, "old leader becomes a follower")
    time.sleep(1.0)
    sampler.stop.set()
    sampler.join(5)
    assert not sampler.double, "two serving leaders at once: %s" % sampler.double[:3]
    assert ens.leader() == new
    expect_roles(ens, new)

    # the write that sat in the paused leader's socket: either refused, or applied exactly once
    # after the majority's writes (never with a version they already used)
    ok, res = attempt(lambda: stale.get(timeout=10))
    used = {v0, st1.version, st2.version}
    if ok:
        assert res.version not in used, "stale write reused version %d (split brain)" % res.version
        assert res.version > st2.version
    st3 = retry(lambda: write_ok(c, "/pause", b"final"), 15)[0]
    ens.wait_converged()
    tree = assert_same_everywhere(ens, "/pause")
    assert tree["/pause"] == b"final"
    assert st3.version == st2.version + 1 + (1 if ok else 0)
    print("paused leader %d: new leader %d elected after %.2fs; stale write %s" % (
        old, new, elected, "applied v%d" % res.version if ok else "refused (%s)" % type(res).__name__))


def test_sigstop_follower_catches_up(ens3):
    ens = ens3
    leader = ens.wait_leader()
    f = [i for i in ens.ids() if i != leader][0]
    c = ens.client(leader)
    c.ensure_path("/pf")
    ens.pause(f)
    acked = write_batch(c, "/pf/a", 30)
    time.sleep(2.0)
    assert ens.wait_leader() == leader
    ens.resume(f)
    wait_until(lambda: ens.members[f].mode() == "follower", 15, "paused follower serves again")
    ens.wait_converged()
    assert_same_everywhere(ens, "/pf", expect_subset=acked)


@pytest.mark.parametrize("n,mode", [(3, "drop"), (3, "reject"), (5, "drop")])
def test_partition_leader(make_ensemble, request, n, mode):
    ens = make_ensemble(n)
    old = ens.wait_leader()
    followers = [i for i in ens.ids() if i != old]
    minority = [old] + followers[: (n - 1) // 2 - 1]  # 3: the leader alone; 5: leader + 1 follower
    majority = [i for i in ens.ids() if i not in minority]
    c_maj = fast_client(ens, majority)
    c_maj.ensure_path("/part")
    acked = write_batch(c_maj, "/part/before", 10)
    ens.wait_converged()
    c_min = {i: fast_client(ens, i) for i in minority}

    t0 = time.monotonic()
    ens.partition(minority, reject=(mode == "reject"))
    # the majority elects a new leader and takes writes
    new = ens.wait_leader(ids=majority, timeout=20)
    assert new not in minority
    _, _ = retry(lambda: bounded(c_maj.create_async("/part/first", b"x"), 2), 20)
    took = time.monotonic() - t0
    acked["/part/first"] = b"x"
    FAILOVERS.append({"test": request.node.name, "n": n, "old_leader": old, "new_leader": new, "election": None,
                      "write": took, "via": "partition: majority client"})
    acked.update(write_batch(c_maj, "/part/during", 10))

    # the minority side accepts no writes
    attempts = []
    deadline = time.time() + 3
    while time.time() < deadline:
        for i, cl in c_min.items():
            p = "/part/minority-%d-%d" % (i, len(attempts))
            ok, res = attempt(lambda: bounded(cl.create_async(p, b"m"), 1.0))
            attempts.append((p, ok, res))
        time.sleep(0.05)
    assert not any(ok for _, ok, _ in attempts), \
        "minority acknowledged writes: %s" % [p for p, ok, _ in attempts if ok]
    # ... and does not claim to serve as leader
    wait_until(lambda: ens.members[old].mode() != "leader", 10, "isolated old leader stops serving as leader")

    ens.heal()
    ens.wait_healthy(timeout=30)
    assert ens.leader() is not None
    ens.wait_converged()
    acked.update(write_batch(c_maj, "/part/after", 5))
    ens.wait_converged()
    tree = assert_same_everywhere(ens, "/part", expect_subset=acked)
    # Minority writes were never acknowledged. A client-side timeout does not cancel a request:
    # kazoo keeps unsent requests queued across reconnects, so some may be applied after the heal
    # (a legal outcome for an unacknowledged write); all members agree on them (checked above).
    print("minority attempts: %d, present after heal: %d" % (
        len(attempts), sum(1 for p, _, _ in attempts if p in tree)))


def test_partition_follower_rejoins(ens3):
    ens = ens3
    leader = ens.wait_leader()
    f = [i for i in ens.ids() if i != leader][0]
    c = ens.client(leader)
    c.ensure_path("/pfol")
    ens.isolate(f)
    acked = write_batch(c, "/pfol/a", 30)
    time.sleep(2.5)  # long enough for the follower to time out and campaign
    assert ens.leader(ids=[i for i in ens.ids() if i != f]) == leader
    ens.heal()
    ens.wait_healthy(timeout=30)
    ens.wait_converged()
    assert_same_everywhere(ens, "/pfol", expect_subset=acked)
    # the isolated follower's election attempts must not have disturbed the majority for long
    assert ens.leader() is not None


def test_lagging_follower_catches_up_by_snapshot(make_ensemble):
    """A follower down for more entries than the leader keeps in its log gets a snapshot."""
    ens = make_ensemble(3, extra_cfg={"rzk.snapshotEveryEntries": "100"})
    leader = ens.wait_leader()
    f = [i for i in ens.ids() if i != leader][0]
    c = ens.client(leader)
    c.ensure_path("/snap")
    ens.kill9(f)
    acked = {}
    n, window = 1600, 200
    pending = []
    for i in range(n):
        p = "/snap/n%05d" % i
        pending.append((p, c.create_async(p, b"s")))
        if len(pending) >= window:
            for pp, ao in pending:
                ao.get(timeout=30)
                acked[pp] = b"s"
            pending = []
    for pp, ao in pending:
        ao.get(timeout=30)
        acked[pp] = b"s"
    ens.start_member(f)
    ens.wait_converged(timeout=60)
    c_f = ens.client(f)
    assert len(c_f.get_children("/snap")) == n  # no sync: the follower's own state
    assert_same_everywhere(ens, "/snap", expect_subset=acked)
