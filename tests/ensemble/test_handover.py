"""Leadership hand-over, as the operator does it before restarting the leader: the AdminServer
command `transfer_leadership?to=N` on the leader (rzk extension). Under write load, with 3 and 5
members, leadership must leave the old leader every time, the old leader must not win it back, and
no acknowledged write may be lost."""

import time

import pytest

from ens_util import CreateWriter, assert_same_everywhere, fast_client, stop_writers, wait_until


@pytest.mark.parametrize("n", [3, 5])
def test_handover_under_load(make_ensemble, n):
    ens = make_ensemble(n, admin=True)
    c = ens.client()
    c.ensure_path("/ho")
    writers = []
    for k, mid in enumerate(ens.ids()[:3]):
        w = CreateWriter(fast_client(ens, [mid]), "/ho/w%d-" % k)
        w.start()
        writers.append(w)
    rounds = []
    try:
        for r in range(4):
            old = ens.wait_leader()
            followers = [i for i in ens.ids() if i != old]
            target = followers[r % len(followers)]
            before = sum(len(w.acked) for w in writers)
            t0 = time.monotonic()
            ans = ens.members[old].admin("transfer_leadership?to=%d" % target, timeout=20)
            assert ans.get("transferred") is True, ans
            new = wait_until(lambda: (lambda l: l if l not in (None, old) else None)(ens.leader()), 20,
                             "leadership to leave server %d" % old)
            assert ans.get("leader") == new, (ans, new)
            took = time.monotonic() - t0
            # the old leader serves as a follower afterwards (it did not win the leadership back)
            wait_until(lambda: ens.members[old].mode() == "follower", 10, "server %d to follow" % old)
            assert ens.leader() != old
            wait_until(lambda: sum(len(w.acked) for w in writers) > before + 10, 20,
                       "writes after the hand-over %d -> %d" % (old, new))
            rounds.append((old, target, new, took))
            print("hand-over %d: leader %d -> %d (asked %d) in %.2fs" % (r, old, new, target, took))
        # without ?to= the most caught-up voter is chosen; errors are answered, not raised
        leader = ens.wait_leader()
        follower = next(i for i in ens.ids() if i != leader)
        ans = ens.members[leader].admin("transfer_leadership", timeout=20)
        assert ans.get("transferred") is True and ans.get("to") != leader, ans
        leader = wait_until(lambda: ens.leader(), 20, "a leader")
        follower = next(i for i in ens.ids() if i != leader)
        ans = ens.members[follower].admin("transfer_leadership")
        assert ans.get("transferred") is False and "only the leader" in ans.get("error"), ans
        ans = ens.members[leader].admin("transfer_leadership?to=%d" % leader)
        assert ans.get("transferred") is False and "not another voting member" in ans.get("error"), ans
        ans = ens.members[leader].admin("transfer_leadership?to=x")
        assert ans.get("transferred") is False and "bad server id" in ans.get("error"), ans
        assert ens.members[leader].admin("elect").get("triggered") is False
    finally:
        acked = stop_writers(writers)
    assert len(acked) > 50, "too few writes acknowledged: %d" % len(acked)
    assert_same_everywhere(ens, "/ho", expect_subset=acked)
    # how often the asked follower itself won (openraft 0.9 has no targeted transfer): reported only
    print("asked follower won %d of %d hand-overs" % (sum(1 for o, t, nw, _ in rounds if t == nw), len(rounds)))


def test_sigterm_on_the_leader_hands_over(make_ensemble):
    """A leader that gets SIGTERM (Kubernetes stopping its pod) transfers leadership before it exits:
    the survivors have a leader the moment it is gone, and writes through a follower go on."""
    ens = make_ensemble(3)
    c = ens.client()
    c.ensure_path("/term")
    old = ens.wait_leader()
    follower = next(i for i in ens.ids() if i != old)
    w = fast_client(ens, [follower])
    w.create("/term/before", b"1")
    ens.stop_member(old)
    log = ens.members[old].log_tail()
    assert "handed leadership over before stopping" in log, log[-2000:]
    survivors = [i for i in ens.ids() if i != old]
    new = ens.wait_leader(timeout=10, ids=survivors)
    assert new != old
    w.create("/term/after", b"2")
    assert_same_everywhere(ens, "/term", ids=survivors, expect_subset={"/term/before": b"1", "/term/after": b"2"})
