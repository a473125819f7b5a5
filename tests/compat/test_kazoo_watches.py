"""One-shot watches through kazoo: exactly one notification per registration, right type/path."""

from kazoo.protocol.states import EventType
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from compat_util import EventLog, wait_until


def _types(events):
    return [(e.type, e.path) for e in events]


def test_get_watch_fires_once_on_set(zk, root):
    p = root + "/n"
    zk.create(p, b"0")
    log = EventLog()
    zk.get(p, watch=log)
    zk.set(p, b"1")
    zk.set(p, b"2")  # no second event: the watch was consumed
    assert _types(log.wait(1)) == [(EventType.CHANGED, p)]
    assert len(log.settle()) == 1


def test_get_watch_fires_once_on_delete(zk, root):
    p = root + "/n"
    zk.create(p)
    log = EventLog()
    zk.get(p, watch=log)
    zk.delete(p)
    zk.create(p)
    assert _types(log.wait(1)) == [(EventType.DELETED, p)]
    assert len(log.settle()) == 1


def test_exists_watch_fires_on_create(zk, root):
    p = root + "/later"
    log = EventLog()
    assert zk.exists(p, watch=log) is None
    zk.create(p)
    zk.set(p, b"x")
    assert _types(log.wait(1)) == [(EventType.CREATED, p)]
    assert len(log.settle()) == 1


def test_exists_watch_on_existing_fires_on_change(zk, root):
    p = root + "/n"
    zk.create(p)
    log = EventLog()
    assert zk.exists(p, watch=log) is not None
    zk.set(p, b"y")
    assert _types(log.wait(1)) == [(EventType.CHANGED, p)]
    assert len(log.settle()) == 1


def test_child_watch_fires_once_on_add(zk, root):
    log = EventLog()
    assert zk.get_children(root, watch=log) == []
    zk.create(root + "/a")
    zk.create(root + "/b")
    assert _types(log.wait(1)) == [(EventType.CHILD, root)]
    assert len(log.settle()) == 1


def test_child_watch_fires_once_on_remove(zk, root):
    zk.create(root + "/a")
    zk.create(root + "/b")
    log = EventLog()
    zk.get_children(root, watch=log)
    zk.delete(root + "/a")
    zk.delete(root + "/b")
    assert _types(log.wait(1)) == [(EventType.CHILD, root)]
    assert len(log.settle()) == 1


def test_child_watch_not_fired_by_child_data_change(zk, root):
    zk.create(root + "/a")
    log = EventLog()
    zk.get_children(root, watch=log)
    zk.set(root + "/a", b"changed")
    zk.create(root + "/a/grandchild")
    assert log.settle() == []
    zk.create(root + "/b")
    assert _types(log.wait(1)) == [(EventType.CHILD, root)]


def test_child_watch_gets_deleted_when_node_deleted(zk, root):
    p = root + "/p"
    zk.create(p)
    log = EventLog()
    zk.get_children(p, watch=log)
    zk.delete(p)
    assert _types(log.wait(1)) == [(EventType.DELETED, p)]
    assert len(log.settle()) == 1


def test_data_and_child_watch_on_same_node_both_fire_on_delete(zk, root):
    p = root + "/p"
    zk.create(p)
    data_log, child_log = EventLog(), EventLog()
    zk.get(p, watch=data_log)
    zk.get_children(p, watch=child_log)
    zk.delete(p)
    assert _types(data_log.wait(1)) == [(EventType.DELETED, p)]
    assert _types(child_log.wait(1)) == [(EventType.DELETED, p)]


def test_create_fires_exists_watch_and_parent_child_watch(zk, root):
    p = root + "/c"
    exists_log, parent_log = EventLog(), EventLog()
    zk.exists(p, watch=exists_log)
    zk.get_children(root, watch=parent_log)
    zk.create(p)
    assert _types(exists_log.wait(1)) == [(EventType.CREATED, p)]
    assert _types(parent_log.wait(1)) == [(EventType.CHILD, root)]


def test_watch_from_other_session_fires(make_client, root):
    a, b = make_client(), make_client()
    p = root + "/n"
    a.create(p, b"1")
    log = EventLog()
    a.get(p, watch=log)
    b.set(p, b"2")
    assert _types(log.wait(1)) == [(EventType.CHANGED, p)]


def test_event_arrives_before_read_of_new_value(zk, root):
    """ZooKeeper orders a watch notification before the response of any later request on the
    same session that could observe the change."""
    p = root + "/n"
    zk.create(p, b"old")
    log = EventLog()
    zk.get(p, watch=log)
    zk.set(p, b"new")
    data, _ = zk.get(p)
    assert data == b"new"
    assert len(log.wait(1, timeout=5)) == 1


def test_failed_op_does_not_fire_watch(zk, root):
    p = root + "/n"
    zk.create(p, b"1")
    log = EventLog()
    zk.get(p, watch=log)
    try:
        zk.set(p, b"2", version=99)
    except Exception:
        pass
    assert log.settle() == []


def test_data_watch_recipe(zk, root):
    p = root + "/dw"
    seen = []

    @DataWatch(zk, p)
    def _watch(data, stat, event=None):
        seen.append((data, stat.version if stat else None, event.type if event else None))

    assert wait_until(lambda: len(seen) >= 1)
    assert seen[0] == (None, None, None)  # node does not exist yet
    zk.create(p, b"a")
    assert wait_until(lambda: len(seen) >= 2)
    zk.set(p, b"b")
    assert wait_until(lambda: len(seen) >= 3)
    zk.delete(p)
    assert wait_until(lambda: len(seen) >= 4)
    assert seen[1] == (b"a", 0, EventType.CREATED)
    assert seen[2] == (b"b", 1, EventType.CHANGED)
    assert seen[3] == (None, None, EventType.DELETED)


def test_children_watch_recipe(zk, root):
    seen = []
    ChildrenWatch(zk, root, func=lambda children: seen.append(sorted(children)))
    assert wait_until(lambda: seen == [[]])
    zk.create(root + "/x")
    assert wait_until(lambda: seen[-1] == ["x"])
    zk.create(root + "/y")
    assert wait_until(lambda: seen[-1] == ["x", "y"])
    zk.delete(root + "/x")
    assert wait_until(lambda: seen[-1] == ["y"])


def test_many_watchers_one_change(make_client, root):
    p = root + "/n"
    clients = [make_client() for _ in range(3)]
    clients[0].create(p)
    logs = []
    for c in clients:
        log = EventLog()
        c.get(p, watch=log)
        logs.append(log)
    clients[0].set(p, b"z")
    for log in logs:
        assert _types(log.wait(1)) == [(EventType.CHANGED, p)]
