"""ZooKeeper 3.5/3.6 operations kazoo 2.11 has no API for, sent through kazoo's connection
(tests/lib/kazoo_ext.py): container and TTL nodes, getEphemerals, getAllChildrenNumber, whoAmI,
persistent / persistent-recursive watches, checkWatches / removeWatches.

SERVER FEATURE TOGGLES these tests need (written by tests/lib/servers.py):
  * TTL nodes: extendedTypesEnabled=true (Apache: -Dzookeeper.extendedTypesEnabled=true); without it
    createTTL is rejected.
  * container / TTL reaper every 1 s: Apache -Dznode.container.checkIntervalMs=1000,
    rzk zoo.cfg rzk.containerCheckIntervalMs=1000 (default 60 s would make these tests slow).
"""

import time

import pytest
from kazoo.exceptions import (
    BadArgumentsError,
    MarshallingError,
    NoNodeError,
    NoWatcherError,
    NodeExistsError,
)
from kazoo.security import make_digest_acl_credential

import kazoo_ext as X
from compat_util import EventLog, wait_until

REAP_TIMEOUT = 15.0


# ---------------------------------------------------------------- containers


def test_container_create_and_stat(zk, root):
    path, st = X.create_container(zk, root + "/c", b"cdata")
    assert path == root + "/c"
    assert st.ephemeralOwner == 0  # the container marker is not visible to clients
    assert st.dataLength == 5
    with pytest.raises(NodeExistsError):
        X.create_container(zk, root + "/c")


@pytest.mark.toggle_reaper
def test_container_reaped_after_last_child_deleted(zk, root):
    X.create_container(zk, root + "/c")
    zk.create(root + "/c/child")
    zk.create(root + "/c/child2")
    time.sleep(2.5)  # several reaper passes: a container with children stays
    assert zk.exists(root + "/c") is not None
    zk.delete(root + "/c/child")
    time.sleep(2.5)
    assert zk.exists(root + "/c") is not None  # still one child left
    zk.delete(root + "/c/child2")
    assert wait_until(lambda: zk.exists(root + "/c") is None, REAP_TIMEOUT)


@pytest.mark.toggle_reaper
def test_container_never_had_children_is_kept(zk, root):
    X.create_container(zk, root + "/lonely")
    time.sleep(3.0)
    assert zk.exists(root + "/lonely") is not None


@pytest.mark.toggle_reaper
def test_container_watch_fires_on_reap(zk, root):
    X.create_container(zk, root + "/c")
    zk.create(root + "/c/k")
    log = EventLog()
    zk.exists(root + "/c", watch=log)
    zk.delete(root + "/c/k")
    events = log.wait(1, timeout=REAP_TIMEOUT)
    assert [(e.type, e.path) for e in events] == [("DELETED", root + "/c")]


@pytest.mark.toggle_reaper
def test_container_children_may_be_ephemeral(make_client, root):
    a = make_client()
    watcher = make_client()
    X.create_container(a, root + "/c")
    a.create(root + "/c/lock-", ephemeral=True, sequence=True)
    a.stop()  # ephemeral removed -> container empty -> reaped
    assert wait_until(lambda: watcher.exists(root + "/c") is None, REAP_TIMEOUT)


# ---------------------------------------------------------------- TTL nodes (toggle!)


@pytest.mark.toggle_ttl
def test_ttl_node_create_and_stat(zk, root):
    path, st = X.create_ttl(zk, root + "/t", 60000, b"ttl")
    assert path == root + "/t"
    assert st.ephemeralOwner == 0  # TTL is not visible in the client Stat
    path, _ = X.create_ttl(zk, root + "/ts-", 60000, sequential=True)
    assert path == root + "/ts-0000000001"


@pytest.mark.toggle_ttl
@pytest.mark.toggle_reaper
def test_ttl_node_expires_when_unmodified_and_childless(zk, root):
    X.create_ttl(zk, root + "/t", 1000)
    assert zk.exists(root + "/t") is not None
    assert wait_until(lambda: zk.exists(root + "/t") is None, REAP_TIMEOUT)


@pytest.mark.toggle_ttl
@pytest.mark.toggle_reaper
def test_ttl_node_with_children_is_kept(zk, root):
    X.create_ttl(zk, root + "/t", 500)
    zk.create(root + "/t/child")
    time.sleep(3.0)
    assert zk.exists(root + "/t") is not None
    zk.delete(root + "/t/child")
    assert wait_until(lambda: zk.exists(root + "/t") is None, REAP_TIMEOUT)


@pytest.mark.toggle_ttl
def test_ttl_bad_arguments(zk, root):
    for ttl in (0, -5, 1 << 41):
        with pytest.raises(BadArgumentsError):
            X.create_ttl(zk, root + "/bad", ttl)
    # createTTL with a non-TTL mode, or create2 with a TTL mode, is rejected
    for flags in (X.PERSISTENT, X.EPHEMERAL, X.CONTAINER):
        with pytest.raises(BadArgumentsError):
            X.call(zk, X.CreateTTL(root + "/bad", b"", X.OPEN_ACL_UNSAFE, flags, 1000))
    for flags in (X.PERSISTENT_WITH_TTL, X.PERSISTENT_SEQUENTIAL_WITH_TTL, 7, 99):
        with pytest.raises(BadArgumentsError):
            X.create_raw(zk, root + "/bad", flags=flags)
    assert zk.get_children(root) == []


# ---------------------------------------------------------------- getEphemerals / getAllChildrenNumber / whoAmI


def test_get_ephemerals_is_per_session_and_prefix_matched(make_client, root):
    a, b = make_client(), make_client()
    a.create(root + "/app/e1", ephemeral=True, makepath=True)
    a.create(root + "/app/e2", ephemeral=True)
    a.create(root + "/apple", ephemeral=True)
    b.create(root + "/app/b1", ephemeral=True)
    assert sorted(X.get_ephemerals(a, root)) == sorted(
        [root + "/app/e1", root + "/app/e2", root + "/apple"])
    # plain string prefix, not a subtree: "/app" also matches "/apple"
    assert sorted(X.get_ephemerals(a, root + "/app")) == sorted(
        [root + "/app/e1", root + "/app/e2", root + "/apple"])
    assert X.get_ephemerals(b, root) == [root + "/app/b1"]
    assert X.get_ephemerals(a, root + "/nothing-here") == []
    assert root + "/app/e1" in X.get_ephemerals(a, "/")


def test_get_all_children_number(zk, root):
    assert X.get_all_children_number(zk, root) == 0
    zk.create(root + "/a/b/c", makepath=True)
    zk.create(root + "/a/d")
    zk.create(root + "/e", ephemeral=True)
    assert X.get_all_children_number(zk, root) == 5  # descendants, not counting root itself
    assert X.get_all_children_number(zk, root + "/a") == 3
    with pytest.raises(NoNodeError):
        X.get_all_children_number(zk, root + "/missing")


def test_whoami(make_client):
    c = make_client()
    assert X.whoami(c) == [("ip", "127.0.0.1")]
    c.add_auth("digest", "alice:pw")
    c.add_auth("digest", "bob:pw2")
    # order is not defined (the server keeps a set of ids)
    assert sorted(X.whoami(c)) == [("digest", "alice"), ("digest", "bob"), ("ip", "127.0.0.1")]
    assert make_digest_acl_credential("alice", "pw").startswith("alice:")


# ---------------------------------------------------------------- persistent watches


def _events(tap):
    return list(tap.events)


def test_persistent_watch_fires_every_time(make_client, root):
    zk = make_client()
    writer = make_client()
    tap = X.WatchEventTap(zk)
    p = root + "/pw"
    zk.create(p, b"0")
    assert X.add_watch(zk, p, X.WATCH_MODE_PERSISTENT) is True
    writer.set(p, b"1")
    writer.set(p, b"2")
    writer.create(p + "/kid")
    writer.set(p + "/kid", b"x")  # not a child-list change, not this node: no event
    writer.delete(p + "/kid")
    writer.delete(p)
    writer.create(p)
    want = [(X.EV_CHANGED, p), (X.EV_CHANGED, p), (X.EV_CHILD, p), (X.EV_CHILD, p),
            (X.EV_DELETED, p), (X.EV_CREATED, p)]
    assert tap.wait_for(lambda ev: len(ev) >= len(want))
    time.sleep(0.3)
    assert _events(tap) == want


def test_persistent_recursive_watch(make_client, root):
    zk = make_client()
    writer = make_client()
    tap = X.WatchEventTap(zk)
    p = root + "/tree"
    X.add_watch(zk, p, X.WATCH_MODE_PERSISTENT_RECURSIVE)  # node need not exist
    writer.create(p)
    writer.create(p + "/a")
    writer.create(p + "/a/b", b"1")
    writer.set(p + "/a/b", b"2")
    writer.delete(p + "/a/b")
    writer.set(p, b"top")
    writer.create(root + "/tree2")  # sibling with the same prefix: not watched
    want = [(X.EV_CREATED, p), (X.EV_CREATED, p + "/a"), (X.EV_CREATED, p + "/a/b"),
            (X.EV_CHANGED, p + "/a/b"), (X.EV_DELETED, p + "/a/b"), (X.EV_CHANGED, p)]
    assert tap.wait_for(lambda ev: len(ev) >= len(want))
    time.sleep(0.3)
    assert _events(tap) == want  # no NodeChildrenChanged in recursive mode


def test_remove_watches_stops_persistent_watch(zk, root):
    tap = X.WatchEventTap(zk)
    p = root + "/pw"
    zk.create(p)
    X.add_watch(zk, p, X.WATCH_MODE_PERSISTENT_RECURSIVE)
    assert X.check_watches(zk, p) is True
    zk.create(p + "/a")
    assert tap.wait_for(lambda ev: len(ev) >= 1)
    assert X.remove_watches(zk, p, X.WATCHER_ANY) is True
    with pytest.raises(NoWatcherError):
        X.check_watches(zk, p)
    with pytest.raises(NoWatcherError):
        X.remove_watches(zk, p, X.WATCHER_ANY)
    tap.clear()
    zk.create(p + "/b")
    zk.set(p, b"x")
    time.sleep(0.5)
    assert _events(tap) == []  # and the server sends no "watch removed" event: clients make those


def test_remove_one_shot_watches_by_type(zk, root):
    tap = X.WatchEventTap(zk)
    p = root + "/n"
    zk.create(p)
    fired = EventLog()
    zk.get(p, watch=fired)
    with pytest.raises(NoWatcherError):
        X.remove_watches(zk, p, X.WATCHER_CHILDREN)  # only a data watch exists
    assert X.check_watches(zk, p, X.WATCHER_DATA) is True
    assert X.remove_watches(zk, p, X.WATCHER_DATA) is True
    zk.set(p, b"changed")
    assert fired.settle() == [] and _events(tap) == []
    with pytest.raises(NoWatcherError):
        X.check_watches(zk, root + "/never-watched")


def test_add_watch_bad_mode(zk, root):
    with pytest.raises(MarshallingError):
        X.add_watch(zk, root, 5)
