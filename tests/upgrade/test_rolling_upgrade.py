"""A rolling upgrade from the previous release to this build, under write load.

Three members start on the earlier release (RZK_OLD_BIN). They are replaced one at a time by
this build, followers first and the leader last, with a graceful stop (SIGTERM) as Kubernetes
does. Throughout: writers keep creating znodes, every acknowledged write must end up on every
member, and a session holding an ephemeral node and a watch must survive. Once every member
runs this build the leader raises the cluster feature level. Then everything restarts (kill -9)
on this build and the data is checked again.
"""

import threading

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

from ens_util import CreateWriter, assert_same_everywhere, stop_writers, wait_until


def retrying_client(ens, timeout=30.0):
    c = KazooClient(hosts=ens.connect_string(), timeout=timeout,
                    connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.3))
    ens.clients.append(c)
    c.start(timeout=15)
    return c


def mntr_int(ens, mid, key):
    for line in ens.members[mid].four("mntr").splitlines():
        k, _, v = line.partition("\t")
        if k == key:
            return int(v)
    return None


def feature_level(ens, mid):
    """rzk_feature_level from mntr (None: a release without feature levels, i.e. v0.1.0)."""
    return mntr_int(ens, mid, "rzk_feature_level")


def test_rolling_upgrade_from_previous_release(versioned_ensemble, old_bin, new_bin):
    ens = versioned_ensemble({1: old_bin, 2: old_bin, 3: old_bin})
    c = ens.client()
    c.ensure_path("/up")

    holder = retrying_client(ens)
    sid = holder.client_id[0]
    holder.create("/up/eph", b"held by one session", ephemeral=True)
    holder.create("/up/watched", b"0")
    fired = threading.Event()
    holder.get("/up/watched", watch=lambda e: fired.set())

    writers = [CreateWriter(retrying_client(ens, 10.0), "/up/w%d-" % k) for k in range(3)]
    for w in writers:
        w.start()
    acked_total = lambda: sum(len(w.acked) for w in writers)  # noqa: E731
    assert {feature_level(ens, i) for i in ens.ids()} == {None}
    try:
        wait_until(lambda: acked_total() >= 30, 20, "writes on the old release")
        leader = ens.wait_leader()
        order = [i for i in ens.ids() if i != leader] + [leader]
        for m in order:
            ens.stop_member(m)
            ens.members[m].bin = new_bin
            ens.start_member(m)
            ens.wait_healthy(timeout=40)
            mid = acked_total()
            wait_until(lambda: acked_total() >= mid + 30, 30,
                       "writes progressing with member %d upgraded (%s)"
                       % (m, {i: ("new" if ens.members[i].bin == new_bin else "old") for i in ens.ids()}))
            z = max(v for v in ens.zxids([ens.wait_leader()]).values() if v)
            wait_until(lambda: (ens.zxids([m])[m] or 0) >= z, 30, "member %d catching up to zxid %#x" % (m, z))
            if m != order[-1]:
                # An old member is left: the level must stay at 1 (0.1.0 could not decode more).
                assert feature_level(ens, m) == 1, "feature level raised while a 0.1.0 member runs"
        # Every member runs this build now: the leader raises the feature level to what this
        # build supports, and all apply it.
        top = mntr_int(ens, ens.ids()[0], "rzk_feature_level_supported")
        assert top and top >= 2
        wait_until(lambda: all(feature_level(ens, i) == top for i in ens.ids()), 30,
                   "the cluster feature level raised to %s on every member" % top)
        mid = acked_total()
        wait_until(lambda: acked_total() >= mid + 30, 30, "writes after the feature level change")
    finally:
        acked = stop_writers(writers)
    assert acked, "no write was acknowledged"
    assert_same_everywhere(ens, "/up", expect_subset=acked)

    # The session, its ephemeral and its watch survived the upgrade.
    assert holder.client_id[0] == sid, "the session was replaced"
    _, st = holder.get("/up/eph")
    assert st.ephemeralOwner == sid
    c2 = ens.client()
    c2.set("/up/watched", b"1")
    assert fired.wait(15), "the watch set on the old release did not fire"

    # Restart everything on this build (crash): the data dirs, written by both releases, reopen.
    for i in ens.ids():
        ens.kill9(i)
    for i in ens.ids():
        ens.start_member(i, wait=False)
    ens.wait_healthy(timeout=60)
    assert_same_everywhere(ens, "/up", expect_subset=acked)
    _, st = ens.client().get("/up/eph")
    assert st.ephemeralOwner == sid, "the ephemeral's session did not survive the restart"
