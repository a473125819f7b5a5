"""No faults, just real-world conditions: peer latency, and sync under write load.

ZooKeeper with tickTime=1000/syncLimit=2 tolerates follower lag up to syncLimit x tickTime (2 s),
so peer round trips of 60-200 ms (cross-zone / cross-region links) only slow it down; and sync
never fails in a healthy ensemble."""

import threading
import time

import pytest

from ens_util import RETRYABLE, bounded


@pytest.mark.parametrize("one_way_ms", [30, 60, 100])
def test_ensemble_works_with_peer_latency(make_ensemble, one_way_ms):
    """All peer links get `one_way_ms` of added latency (round trip 2x). Writes and sync+reads
    through a follower must keep working (slower), and the leader must stay the leader."""
    ens = make_ensemble(3)
    leader = ens.wait_leader()
    f = [i for i in ens.ids() if i != leader][0]
    c = ens.client(f)  # sessions are writes: open it before the latency
    c.ensure_path("/lat")
    ens.delay(one_way_ms)
    ok = 0
    failures = []
    end = time.time() + 8
    while time.time() < end:
        try:
            bounded(c.set_async("/lat", b"%d" % ok, -1), 5)
            bounded(c.sync_async("/lat"), 5)
            assert bounded(c.get_async("/lat"), 5)[0] == b"%d" % ok
            ok += 1
        except RETRYABLE as e:
            failures.append(type(e).__name__)
            time.sleep(0.2)
    modes = ens.modes()
    ens.delay(0)
    assert not failures and ok >= 5, "with %d ms one-way peer latency: %d write+sync+read rounds ok, %d failed %s; modes %s" % (
        one_way_ms, ok, len(failures), sorted(set(failures)), modes)
    assert modes[leader] == "leader", modes


def test_sync_is_reliable_under_write_load(ens3):
    """sync+get through a follower while 5 clients write through the leader, no faults: every
    sync must succeed (a sync failing in a healthy ensemble forces clients into retry paths)."""
    ens = ens3
    leader = ens.wait_leader()
    f = [i for i in ens.ids() if i != leader][0]
    stop = threading.Event()
    writes = [0]

    def writer(k):
        c = ens.client(leader)
        c.ensure_path("/load%d" % k)
        while not stop.is_set():
            try:
                c.set("/load%d" % k, b"x")
                writes[0] += 1
            except RETRYABLE:
                pass

    threads = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(5)]
    for t in threads:
        t.start()
    c = ens.client(f)
    c.ensure_path("/s")
    ok, failed = 0, []
    end = time.time() + 12
    while time.time() < end:
        try:
            c.sync("/s")
            c.get("/s")
            ok += 1
        except RETRYABLE as e:
            failed.append((round(time.time() - end + 12, 2), type(e).__name__))
            time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(10)
    assert ok > 50 and writes[0] > 100, (ok, writes[0])
    assert not failed, "%d of %d sync+get failed in a healthy ensemble (%d writes): %s" % (
        len(failed), ok + len(failed), writes[0], failed[:10])
