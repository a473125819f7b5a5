"""kill -9 of the leader, of a follower, of a majority and of everyone, and back.

Every test writes acknowledged data first and checks at the end that every member has all of it
(read on each member directly, after sync) and that the members agree."""

import threading
import time

import pytest
from kazoo.exceptions import NoNodeError

from ens_util import (
    FAILOVERS,
    RETRYABLE,
    assert_same_everywhere,
    attempt,
    bounded,
    fast_client,
    measure_failover,
    retry,
    wait_until,
)


def write_batch(client, prefix, n, value=b"v"):
    """Create prefix0..prefix{n-1}, retrying connection errors; returns {path: value} acknowledged."""
    acked = {}
    for i in range(n):
        p = "%s%d" % (prefix, i)

        def create():
            try:
                bounded(client.create_async(p, value), 5)
            except Exception as e:
                # a retried create may find its own earlier (unacknowledged) attempt applied
                if type(e).__name__ != "NodeExistsError":
                    raise

        retry(create, 30)
        acked[p] = value
    return acked


def expect_roles(ens, leader, down=()):
    modes = ens.modes()
    for i, md in modes.items():
        if i in down:
            assert md == "down", modes
        elif i == leader:
            assert md == "leader", modes
        else:
            assert md == ("observer" if ens.members[i].role == "observer" else "follower"), modes
    return modes


@pytest.mark.parametrize("n", [3, 5])
def test_kill_leader(make_ensemble, request, n):
    ens = make_ensemble(n)
    c = ens.client()
    c.ensure_path("/fo")
    acked = write_batch(c, "/fo/before", 20)
    old = ens.wait_leader()

    row = measure_failover(ens, request.node.name)
    assert row["write"] < 10, row
    new = ens.wait_leader()
    assert new != old
    expect_roles(ens, new, down=[old])
    acked.update(write_batch(c, "/fo/after", 20))

    if n == 5:
        # a 5-member ensemble survives a second failure: kill the new leader too
        row2 = measure_failover(ens, request.node.name + "-second")
        assert row2["write"] < 10, row2
        newer = ens.wait_leader()
        expect_roles(ens, newer, down=[old, new])
        acked.update(write_batch(c, "/fo/after2", 10))
        ens.start_member(new)

    # the old leader comes back as a follower and catches up
    ens.start_member(old)
    assert ens.members[old].mode() == "follower"
    ens.wait_healthy()
    ens.wait_converged()
    assert_same_everywhere(ens, "/fo", expect_subset=acked)


def test_kill_follower_writes_continue(ens3):
    ens = ens3
    leader = ens.wait_leader()
    f = [i for i in ens.ids() if i != leader][0]
    c = ens.client(leader)
    c.ensure_path("/kf")
    acked = write_batch(c, "/kf/a", 10)
    lat = []
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            t = time.monotonic()
            bounded(c.create_async("/kf/w%d" % i, b"w"), 5)
            acked["/kf/w%d" % i] = b"w"
            lat.append(time.monotonic() - t)
            i += 1

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    time.sleep(0.5)
    ens.kill9(f)
    time.sleep(2.0)
    assert ens.wait_leader() == leader, "killing a follower must not change the leader"
    ens.start_member(f)
    time.sleep(0.5)
    stop.set()
    th.join(10)
    assert not th.is_alive()
    assert len(lat) > 20
    assert max(lat) < 2.0, "a write stalled %.2fs while a follower died" % max(lat)
    expect_roles(ens, leader)
    ens.wait_converged()
    assert_same_everywhere(ens, "/kf", expect_subset=acked)


@pytest.mark.parametrize("n", [3, 5])
def test_kill_majority_and_back(make_ensemble, n):
    ens = make_ensemble(n)
    c = ens.client()
    c.ensure_path("/maj")
    acked = write_batch(c, "/maj/a", 30)
    leader = ens.wait_leader()
    followers = [i for i in ens.ids() if i != leader]
    victims = [leader] + followers[: n // 2]  # leader + enough followers to lose the quorum
    survivors = [i for i in ens.ids() if i not in victims]
    probe = fast_client(ens, survivors[0])
    for v in victims:
        ens.kill9(v)
    # no member may accept writes without a quorum
    attempts = []
    deadline = time.time() + 4
    while time.time() < deadline:
        p = "/maj/noquorum%d" % len(attempts)
        ok, res = attempt(lambda: bounded(probe.create_async(p, b"x"), 1.0))
        attempts.append((p, ok, res))
        time.sleep(0.05)
    assert attempts and not any(ok for _, ok, _ in attempts), \
        "writes acknowledged without a quorum: %s" % [p for p, ok, _ in attempts if ok]
    # ... and the survivors say so
    wait_until(lambda: all(ens.members[i].mode() == "not serving" for i in survivors), 10, "survivors stop serving")
    # everyone back: acknowledged data is all there
    for v in victims:
        ens.start_member(v, wait=False)
    ens.wait_healthy(timeout=30)
    ens.wait_converged()
    acked.update(write_batch(c, "/maj/b", 10))
    ens.wait_converged()
    assert_same_everywhere(ens, "/maj", expect_subset=acked)


def test_kill_all_and_back(ens3):
    ens = ens3
    c = ens.client()
    c.ensure_path("/all")
    acked = write_batch(c, "/all/a", 50)
    st = c.set("/all/a0", b"changed")
    acked["/all/a0"] = b"changed"
    zx = ens.zxids()
    for i in ens.ids():
        ens.kill9(i)
    for i in ens.ids():
        ens.start_member(i, wait=False)
    ens.wait_healthy(timeout=30)
    ens.wait_converged()
    # nothing acknowledged was lost, and zxids did not go back
    assert all(z >= st.mzxid for z in ens.zxids().values())
    assert min(ens.zxids().values()) >= max(zx.values())
    assert_same_everywhere(ens, "/all", expect_subset=acked)
    # and the ensemble works again
    c2 = ens.client()
    retry(lambda: bounded(c2.create_async("/all/after", b"x"), 5), 30)
