"""Dynamic reconfiguration (ZooKeeper `reconfig`, incremental) and roles in srvr/mntr."""

import time

import pytest
from kazoo.exceptions import BadArgumentsError, NewConfigNoQuorumError

from ens_util import assert_same_everywhere, attempt, bounded, fast_client, retry, sync_retrying, wait_until
from test_failover import write_batch


def parse_config(data):
    """/zookeeper/config text -> ({id: role}, version)."""
    if isinstance(data, bytes):
        data = data.decode()
    roles, version = {}, None
    for line in data.splitlines():
        line = line.strip()
        if line.startswith("server."):
            k, _, spec = line.partition("=")
            addr = spec.split(";")[0].split(":")
            roles[int(k[len("server."):])] = addr[3] if len(addr) > 3 else "participant"
        elif line.startswith("version="):
            version = int(line.split("=", 1)[1], 16)
    return roles, version


def config_on(ens, ids=None):
    """{member: ({id: role}, version)} of /zookeeper/config read on each member after sync."""
    out = {}
    for i in ids or ens.live():
        c = ens.client(i)
        try:
            sync_retrying(c, "/zookeeper/config")
            out[i] = parse_config(c.get("/zookeeper/config")[0])
        finally:
            c.stop()
            c.close()
            ens.clients.remove(c)
    return out


def wait_config(ens, roles, ids=None, timeout=20):
    """Wait until every given member shows exactly this membership in /zookeeper/config."""
    return wait_until(lambda: (lambda seen: seen if all(r == roles for r, _ in seen.values()) else None)(
        config_on(ens, ids)), timeout, "config %s on members %s" % (roles, ids or ens.live()))


def su(ens, ids=None):
    return ens.client(ids, auth_super=True)


def test_reconfig_remove_add_back_and_observer(ens3):
    ens = ens3
    leader = ens.wait_leader()
    f, g = [i for i in ens.ids() if i != leader]
    # the admin session is not on f, the member removed first (its session would lose its server)
    c = su(ens, [leader, g])
    c.ensure_path("/rc")
    acked = write_batch(c, "/rc/a", 5)
    _, v0 = wait_config(ens, {i: "participant" for i in ens.ids()})[leader]

    # 1. remove a follower
    data, _ = c.reconfig(joining=None, leaving=str(f), new_members=None)
    roles, v1 = parse_config(data)
    assert roles == {leader: "participant", g: "participant"}, data
    assert v1 > v0
    wait_config(ens, roles, [leader, g])
    acked.update(write_batch(c, "/rc/b", 5))  # two voters: both needed, both alive

    # 2. add it back
    data, _ = c.reconfig(joining=ens.members[f].spec(), leaving=None, new_members=None)
    roles, v2 = parse_config(data)
    assert roles == {leader: "participant", f: "participant", g: "participant"}, data
    assert v2 > v1
    wait_config(ens, roles)
    wait_until(lambda: ens.members[f].mode() == "follower", 20, "re-added member follows")
    acked.update(write_batch(c, "/rc/c", 5))
    ens.wait_converged()
    assert_same_everywhere(ens, "/rc", expect_subset=acked)  # f caught up on what it missed

    # 3. turn it into an observer
    data, _ = c.reconfig(joining=ens.members[f].spec(role="observer"), leaving=None, new_members=None)
    roles, v3 = parse_config(data)
    assert roles == {leader: "participant", f: "observer", g: "participant"}, data
    assert v3 > v2
    wait_config(ens, roles)
    wait_until(lambda: ens.members[f].mode() == "observer", 20, "srvr Mode: observer")
    acked.update(write_batch(c, "/rc/d", 5))

    # an observer does not vote: with the other follower dead there is no quorum of {leader, g}
    probe = fast_client(ens, f)
    ens.kill9(g)
    deadline = time.time() + 3
    tries = []
    while time.time() < deadline:
        ok, _ = attempt(lambda: bounded(probe.create_async("/rc/noquorum%d" % len(tries), b"x"), 1.0))
        tries.append(ok)
    assert not any(tries), "writes acknowledged by leader + observer alone"
    ens.start_member(g, wait=False)
    ens.wait_healthy(timeout=30)

    # 4. and back to participant
    data, _ = c.reconfig(joining=ens.members[f].spec(role="participant"), leaving=None, new_members=None)
    roles, v4 = parse_config(data)
    assert roles == {leader: "participant", f: "participant", g: "participant"}, data
    wait_config(ens, roles)
    wait_until(lambda: ens.members[f].mode() == "follower", 20, "back to follower")
    acked.update(write_batch(c, "/rc/e", 5))
    ens.wait_converged()
    assert_same_everywhere(ens, "/rc", expect_subset=acked)


def test_reconfig_refuses_removal_without_quorum(ens3):
    """3 voters, one dead: removing one of the two live ones would leave {leader, dead} -> only one
    of two voters in sync -> NewConfigNoQuorumError, and nothing may change."""
    ens = ens3
    leader = ens.wait_leader()
    f, g = [i for i in ens.ids() if i != leader]
    c = su(ens, [leader])
    before = wait_config(ens, {i: "participant" for i in ens.ids()}, [leader, f])
    ens.kill9(g)
    time.sleep(2.0)
    with pytest.raises(NewConfigNoQuorumError):
        c.reconfig(joining=None, leaving=str(f), new_members=None)
    # nothing changed anywhere, and the ensemble still works
    assert config_on(ens, [leader, f]) == before
    retry(lambda: bounded(c.create_async("/still-works", b"x"), 2), 10)
    # a configuration without any participant is refused too
    with pytest.raises(BadArgumentsError):
        c.reconfig(joining=None, leaving=",".join(str(i) for i in ens.ids()), new_members=None)
    assert config_on(ens, [leader, f]) == before
    ens.start_member(g)


def test_reconfig_refuses_removing_all_participants(ens3):
    ens = ens3
    c = su(ens)
    before = wait_config(ens, {i: "participant" for i in ens.ids()})
    with pytest.raises(BadArgumentsError):
        c.reconfig(joining=None, leaving=",".join(str(i) for i in ens.ids()), new_members=None)
    assert config_on(ens) == before
    retry(lambda: bounded(c.create_async("/still-works", b"x"), 2), 10)


def test_reconfig_remove_the_leader(ens3):
    ens = ens3
    leader = ens.wait_leader()
    rest = [i for i in ens.ids() if i != leader]
    c = su(ens, rest)
    c.ensure_path("/rl")
    acked = write_batch(c, "/rl/a", 5)
    wait_config(ens, {i: "participant" for i in ens.ids()})
    problems = []
    try:
        data, _ = c.reconfig(joining=None, leaving=str(leader), new_members=None)
        roles, _ = parse_config(data)
        assert roles == {i: "participant" for i in rest}, data
    except Exception as e:
        problems.append("the reconfig removing the leader answered %r instead of the new config" % e)
    roles = {i: "participant" for i in rest}
    new = ens.wait_leader(ids=rest, timeout=20)
    assert new in rest
    wait_config(ens, roles, rest)
    acked.update(write_batch(c, "/rl/b", 5))
    ens.wait_converged(ids=rest)
    assert_same_everywhere(ens, "/rl", ids=rest, expect_subset=acked)
    # the removed member must not present itself as part of the ensemble
    md = ens.members[leader].mode()
    if md in ("leader", "follower", "observer"):
        problems.append("the removed member %d still reports Mode: %s in srvr" % (leader, md))
    assert not problems, problems

    # and back, with a non-incremental reconfig (go-zookeeper's TestIntegration_Reconfig does this;
    # openraft 0.9 panicked here when the old leader had removed itself)
    data, _ = c.reconfig(joining=None, leaving=None, new_members=",".join(ens.members[i].spec() for i in ens.ids()))
    roles, _ = parse_config(data)
    assert roles == {i: "participant" for i in ens.ids()}, data
    wait_config(ens, roles)
    wait_until(lambda: ens.members[leader].mode() in ("leader", "follower"), 20, "re-added member serves")
    acked.update(write_batch(c, "/rl/c", 5))
    ens.wait_converged()
    assert_same_everywhere(ens, "/rl", expect_subset=acked)


def test_roles_in_srvr_and_mntr(make_ensemble):
    """srvr Mode everywhere; the leader's mntr counts its (synced) followers like ZooKeeper's:
    followers that are connected and in sync, so a dead follower is not counted."""
    ens = make_ensemble(3, observers=1, observer_join="reconfig")  # see test_observer_from_zoo_cfg
    leader = ens.wait_leader()
    modes = ens.wait_healthy()
    assert modes[4] == "observer"
    assert sorted(m for i, m in modes.items() if i != 4) == ["follower", "follower", "leader"]
    mntr = ens.mntr(leader)
    assert mntr["zk_server_state"] == "leader"
    assert int(mntr["zk_synced_followers"]) == 2, mntr
    for i in ens.ids():
        if i != leader:
            assert ens.mntr(i)["zk_server_state"] == modes[i]
            assert "zk_synced_followers" not in ens.mntr(i)
    # failover: roles move, the observer stays an observer
    ens.kill9(leader)
    new = ens.wait_leader(timeout=20)
    modes = ens.wait_healthy()
    assert modes == {i: ("down" if i == leader else "leader" if i == new else "observer" if i == 4 else "follower")
                     for i in ens.ids()} or modes[4] == "observer"
    assert ens.members[4].mode() == "observer"
    mntr = ens.mntr(new)
    assert mntr["zk_server_state"] == "leader"
    # one participant follower left alive (the old leader is dead)
    wait_until(lambda: int(ens.mntr(new)["zk_synced_followers"]) == 1, 10,
               "zk_synced_followers drops to 1 when a follower is dead (mntr: %s)" % mntr)


def test_observer_from_zoo_cfg(make_ensemble):
    """A brand-new ensemble whose zoo.cfg lists an observer (server.4=...:observer) must start with
    member 4 serving as observer (the bootstrapping member adds it as a learner)."""
    ens = make_ensemble(3, observers=1, start=False)
    try:
        ens.start(timeout=20)
    except TimeoutError as e:
        pytest.fail("observer from zoo.cfg never joined: %s; bootstrapper log: %s" % (
            e, [l for l in ens.members[1].log_tail(20000).splitlines() if "observer" in l][-2:]))
    assert ens.members[4].mode() == "observer"


def test_reconfig_through_the_member_being_removed(ens3):
    """The reconfig request arrives at the very member it removes: the change is applied and the
    client gets the new configuration back (ZooKeeper answers through the old configuration)."""
    ens = ens3
    leader = ens.wait_leader()
    f = [i for i in ens.ids() if i != leader][0]
    rest = [i for i in ens.ids() if i != f]
    wait_config(ens, {i: "participant" for i in ens.ids()})
    c = su(ens, [f])
    answer = None
    try:
        data, _ = c.reconfig(joining=None, leaving=str(f), new_members=None)
        answer = parse_config(data)[0]
    except Exception as e:
        answer = e
    roles = {i: "participant" for i in rest}
    wait_config(ens, roles, rest)  # the change itself happened
    assert answer == roles, "reconfig answered %r" % (answer,)


def test_zookeeper_config_present_from_the_start(make_ensemble):
    """/zookeeper/config holds the membership as soon as the ensemble serves (ZooKeeper writes it
    from the configuration at startup), on every member."""
    ens = make_ensemble(3)
    seen = {}
    for i in ens.ids():
        c = ens.client(i)
        seen[i] = parse_config(c.get("/zookeeper/config")[0])[0]
    want = {i: "participant" for i in ens.ids()}
    assert all(r == want for r in seen.values()), seen
