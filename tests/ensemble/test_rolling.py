"""Rolling restart of every member under write load: no acknowledged write lost, sessions kept,
writes make progress while each member is down."""

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.retry import KazooRetry

from ens_util import CreateWriter, assert_same_everywhere, stop_writers, wait_until


class Writer(CreateWriter):
    def __init__(self, ens, name, order):
        c = KazooClient(hosts=ens.connect_string(order), timeout=10.0, randomize_hosts=False,
                        connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.3))
        ens.clients.append(c)
        c.start(timeout=15)
        super().__init__(c, "/roll/%s-" % name)
        self.name_ = name
        self.sid = c.client_id[0]
        self.states = []
        c.add_listener(lambda s: self.states.append(s))


@pytest.mark.parametrize("graceful", [True, False], ids=["sigterm", "kill9"])
def test_rolling_restart_under_load(ens3, graceful):
    ens = ens3
    c = ens.client()
    c.ensure_path("/roll")
    ids = ens.ids()
    writers = [Writer(ens, "w%d" % k, ids[k % 3:] + ids[:k % 3]) for k in range(3)]
    for w in writers:
        w.start()
    progress = []
    try:
        leader = ens.wait_leader()
        order = [i for i in ids if i != leader] + [leader]  # followers first, the leader last
        for m in order:
            before = sum(len(w.acked) for w in writers)
            if graceful:
                ens.stop_member(m)
            else:
                ens.kill9(m)
            # writes keep flowing while the member is down ...
            wait_until(lambda: sum(len(w.acked) for w in writers) >= before + 30, 20,
                       "writes progressing while member %d is down" % m)
            down = sum(len(w.acked) for w in writers) - before
            ens.start_member(m)
            ens.wait_healthy(timeout=30)
            # ... and after it is back
            mid = sum(len(w.acked) for w in writers)
            wait_until(lambda: sum(len(w.acked) for w in writers) >= mid + 30, 20,
                       "writes progressing after restarting member %d" % m)
            progress.append((down, sum(len(w.acked) for w in writers) - mid))
            # the restarted member has caught up before the next one goes down
            target = ens.zxids([ens.wait_leader()])
            z = max(v for v in target.values() if v)
            wait_until(lambda: (ens.zxids([m])[m] or 0) >= z, 20, "member %d catching up to zxid %d" % (m, z))
    finally:
        acked = stop_writers(writers)
    for w in writers:
        assert w.c.client_id[0] == w.sid, "session of %s changed" % w.name_
        assert KazooState.LOST not in w.states, (w.name_, w.states)
    ens.wait_converged()
    tree = assert_same_everywhere(ens, "/roll", expect_subset=acked)
    phantom = set(tree) - set(acked) - set().union(*(w.unknown for w in writers)) - {"/roll"}
    assert not phantom, "nodes nobody created: %s" % sorted(phantom)[:10]
    print("acked %d creates; progress per step %s; leader now %s" % (len(acked), progress, ens.leader()))
