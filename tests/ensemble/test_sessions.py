"""Ensemble-wide sessions: ephemerals across failover, expiry on every member, real clients with a
multi-server connect string riding through a leader kill, sessions moving between members."""

import threading
import time

import pytest
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NoNodeError, SessionExpiredError
from kazoo.retry import KazooRetry

from ens_util import FAILOVERS, RETRYABLE, bounded, fast_client, retry, sync_retrying, wait_until, write_ok
from proxy import TcpProxy

SESSION_S = 4.0  # minSessionTimeout is 2 ticks = 2 s


def client_via(ens, hosts, timeout=SESSION_S):
    c = KazooClient(hosts=hosts, timeout=timeout, randomize_hosts=False,
                    connection_retry=KazooRetry(max_tries=-1, delay=0.05, backoff=1, max_delay=0.1, max_jitter=0.01))
    ens.clients.append(c)
    c.start(timeout=15)
    return c


def exists_on_each(ens, path, ids=None):
    """{member: ephemeralOwner or None} for path, read on each member after sync."""
    out = {}
    for i in ids or ens.live():
        c = ens.client(i)
        try:
            sync_retrying(c, path)
            st = c.exists(path)
            out[i] = st.ephemeralOwner if st else None
        finally:
            c.stop()
            c.close()
            ens.clients.remove(c)
    return out


def test_ephemerals_survive_leader_failover(ens3):
    ens = ens3
    leader = ens.wait_leader()
    ids = ens.ids()
    owners = {}
    clients = {}
    for home in ids:  # one session homed on each member, the leader included
        order = [home] + [i for i in ids if i != home]
        c = client_via(ens, ens.connect_string(order))
        c.ensure_path("/eph")
        c.create("/eph/s%d" % home, b"x", ephemeral=True)
        owners["/eph/s%d" % home] = c.client_id[0]
        clients[home] = c
    lost = []
    for c in clients.values():
        c.add_listener(lambda s: lost.append(s) if s == KazooState.LOST else None)
    ens.kill9(leader)
    new = ens.wait_leader(timeout=20)
    # longer than a session timeout after the failover: nobody's ephemerals may go away
    time.sleep(SESSION_S * 1.5)
    assert not lost, "sessions expired across a leader failover"
    for home, c in clients.items():
        assert c.state == KazooState.CONNECTED, (home, c.state)
        assert c.client_id[0] == owners["/eph/s%d" % home]
    for p, owner in owners.items():
        seen = exists_on_each(ens, p)
        assert all(v == owner for v in seen.values()), (p, hex(owner), seen)
    # the old leader comes back with the same ephemerals
    ens.start_member(leader)
    ens.wait_converged()
    for p, owner in owners.items():
        assert exists_on_each(ens, p, [leader]) == {leader: owner}
    print("new leader", new)


@pytest.mark.parametrize("home_role", ["leader", "follower"])
def test_expired_session_ephemerals_vanish_on_all_members(ens3, home_role):
    """A session whose client goes silent expires; its ephemerals disappear on every member."""
    ens = ens3
    leader = ens.wait_leader()
    home = leader if home_role == "leader" else [i for i in ens.ids() if i != leader][0]
    m = ens.members[home]
    px = TcpProxy(m.ip, m.client_port)
    try:
        c = client_via(ens, px.hosts)
        c.ensure_path("/exp")
        sid = c.client_id[0]
        for name in ("a", "b", "c"):
            c.create("/exp/" + name, b"e", ephemeral=True)
        keeper = ens.client()  # a live session with an ephemeral that must stay
        keeper.create("/exp/keep", b"k", ephemeral=True)
        # mntr reads local state: wait until every member has applied the creates
        wait_until(lambda: {int(ens.mntr(i)["zk_ephemerals_count"]) for i in ens.ids()} == {4}, 10,
                   "4 ephemerals on every member")
        t0 = time.monotonic()
        px.blackhole()  # the server stops hearing from the client; the client never says goodbye
        wait_until(lambda: all(v is None for v in exists_on_each(ens, "/exp/a").values()), 20,
                   "ephemerals of the expired session gone on all members")
        took = time.monotonic() - t0
        assert took > SESSION_S * 0.9, "expired after %.1fs, before its timeout" % took
        for name in ("a", "b", "c"):
            seen = exists_on_each(ens, "/exp/" + name)
            assert all(v is None for v in seen.values()), (name, seen)
        seen = exists_on_each(ens, "/exp/keep")
        assert all(v == keeper.client_id[0] for v in seen.values()), seen
        wait_until(lambda: {int(ens.mntr(i)["zk_ephemerals_count"]) for i in ens.ids()} == {1}, 10,
                   "only the live session's ephemeral left on every member")
        # the old client, once it can talk again, learns its session has expired
        px.forward()
        px.cut()
        wait_until(lambda: c.state == KazooState.LOST or c.client_id is None or c.client_id[0] != sid, 20,
                   "client notices the expiry")
        print("session 0x%x expired after %.2fs (timeout %.1fs)" % (sid, took, SESSION_S))
    finally:
        px.close()


def test_session_of_killed_member_expires_everywhere(ens3):
    """The only member a client can reach dies: its session expires on the others, and the member
    does not resurrect the ephemerals when it comes back."""
    ens = ens3
    leader = ens.wait_leader()
    f = [i for i in ens.ids() if i != leader][0]
    c = client_via(ens, ens.members[f].hosts)
    c.ensure_path("/dead")
    c.create("/dead/e", b"e", ephemeral=True)
    ens.kill9(f)
    wait_until(lambda: all(v is None for v in exists_on_each(ens, "/dead/e").values()), 20,
               "ephemeral of the dead member's session gone")
    ens.start_member(f)
    ens.wait_converged()
    assert exists_on_each(ens, "/dead/e") == {i: None for i in ens.ids()}


def test_kazoo_rides_through_leader_kill(ens3, request):
    """A kazoo client with a multi-server connect string, connected to the leader, keeps its
    session across a kill -9 of the leader and goes on writing. (kazoo itself drops its watches
    on every disconnect and never sends SetWatches; the Java client test below covers watches.)"""
    ens = ens3
    leader = ens.wait_leader()
    order = [leader] + [i for i in ens.ids() if i != leader]
    c = client_via(ens, ens.connect_string(order), timeout=10.0)
    sid = c.client_id[0]
    c.ensure_path("/ride")
    c.create("/ride/w", b"0")
    c.create("/ride/eph", b"e", ephemeral=True)
    states = []
    c.add_listener(lambda s: states.append(s))
    ens.kill9(leader)
    t0 = time.monotonic()
    retry(lambda: bounded(c.set_async("/ride/w", b"after", -1), 2), 30)
    took = time.monotonic() - t0
    FAILOVERS.append({"test": request.node.name, "n": 3, "old_leader": leader, "election": None, "write": took,
                      "via": "kazoo, connect string of all members"})
    assert c.client_id[0] == sid, "the session changed"
    assert KazooState.LOST not in states, states
    assert KazooState.SUSPENDED in states and states[-1] == KazooState.CONNECTED, states
    for i in range(20):
        c.set("/ride/w", b"%d" % i)
    assert c.get("/ride/w")[0] == b"19"
    assert c.exists("/ride/eph").ephemeralOwner == sid


class ZkCli:
    """An interactive zkCli.sh (Apache ZooKeeper's Java client) fed line by line."""

    def __init__(self, hosts):
        import subprocess

        import zkcli

        self.lines = []
        self.p = subprocess.Popen([zkcli.ZKCLI, "-server", hosts], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=zkcli._env(), bufsize=1)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def send(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()

    def wait_for(self, text, timeout=30):
        wait_until(lambda: any(text in l for l in self.lines), timeout, "zkCli printing %r" % text)

    def close(self):
        try:
            self.send("quit")
            self.p.wait(20)
        except Exception:
            self.p.kill()
            self.p.wait(5)


def connected_member(ens, known_sids):
    """The member holding a client connection whose session is not one of known_sids."""
    import re

    for i in ens.live():
        out = ens.members[i].four("cons")
        for sid in re.findall(r"sid=0x([0-9a-f]+)", out):
            if int(sid, 16) not in known_sids:
                return i
    return None


def test_java_client_keeps_session_and_watch_through_leader_kill(ens3):
    """zkCli.sh with a multi-server connect string: after the leader is killed (and, if the CLI sat
    on a follower, that follower too) its session survives, its data watch (re-registered with
    SetWatches on the new server) fires, and commands work."""
    import os

    import zkcli

    if not os.path.exists(zkcli.ZKCLI):
        pytest.skip("zkCli.sh not installed")
    ens = ens3
    c = ens.client()
    c.ensure_path("/jcli")
    c.set("/jcli", b"before")
    cli = ZkCli(ens.connect_string())
    try:
        cli.send("get -w /jcli")
        cli.wait_for("before", 60)
        home = wait_until(lambda: connected_member(ens, {c.client_id[0]}), 10, "zkCli's server")
        leader = ens.wait_leader()
        ens.kill9(leader)
        ens.wait_leader(timeout=20)
        if home != leader:
            # make the CLI move to another server as well
            ens.start_member(leader)
            ens.kill9(home)
            ens.wait_leader(timeout=20)
        c2 = ens.client([i for i in ens.live()])
        retry(lambda: bounded(c2.set_async("/jcli", b"changed", -1), 2), 30)
        cli.wait_for("type:NodeDataChanged path:/jcli", 40)
        cli.send("create /jcli/child hello")
        cli.send("get /jcli/child")
        cli.wait_for("hello", 30)
        assert not any("Expired" in l for l in cli.lines), cli.lines[-30:]
        assert c2.get("/jcli/child")[0] == b"hello"
    finally:
        cli.close()


def test_session_moves_between_members_reads_own_writes(ens3):
    """A session alternating between two members always reads its own latest write."""
    ens = ens3
    a, b = ens.ids()[0], ens.ids()[1]
    ma, mb = ens.members[a], ens.members[b]
    px = TcpProxy(ma.ip, ma.client_port)
    try:
        c = client_via(ens, px.hosts, timeout=10.0)
        sid = c.client_id[0]
        c.ensure_path("/move")
        for i in range(30):
            target = mb if i % 2 else ma
            retry(lambda: write_ok(c, "/move", b"v%d" % i), 10)
            px.upstream = (target.ip, target.client_port)
            px.cut()  # the client reconnects through the proxy, now to the other member
            (data, _), _ = retry(lambda: bounded(c.get_async("/move"), 3), 10)
            assert data == b"v%d" % i, "after moving to member %d, read %r, wrote v%d" % (
                b if i % 2 else a, data, i)
        assert c.client_id[0] == sid
    finally:
        px.close()
