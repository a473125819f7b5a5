"""multi / transactions: atomicity and per-op result codes exactly as kazoo reports them on ZK.

On real ZooKeeper a failed multi is *not* an error reply: the reply header err is 0 and the body
carries one ErrorResult per op: ops before the failing one -> 0 (kazoo: RolledBackError), the failing
op -> its error code, ops after it -> -2 (kazoo: RuntimeInconsistency)."""

from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import ZnodeStat
from kazoo.security import make_acl


def _classes(results):
    return [type(r) for r in results]


def test_successful_multi(zk, root):
    zk.create(root + "/existing", b"v0")
    t = zk.transaction()
    t.create(root + "/new", b"n")
    t.set_data(root + "/existing", b"v1")
    t.check(root + "/existing", 1)
    t.create(root + "/seq-", sequence=True)
    t.delete(root + "/new")
    results = t.commit()
    assert results[0] == root + "/new"
    assert isinstance(results[1], ZnodeStat) and results[1].version == 1
    assert results[2] is True
    assert results[3] == root + "/seq-0000000002"
    assert results[4] is True
    assert zk.get(root + "/existing")[0] == b"v1"
    assert zk.exists(root + "/new") is None
    assert sorted(zk.get_children(root)) == ["existing", "seq-0000000002"]


def test_context_manager_transaction(zk, root):
    with zk.transaction() as t:
        t.create(root + "/a", b"1")
        t.create(root + "/a/b", b"2")  # later ops see earlier ones
    assert zk.get(root + "/a/b")[0] == b"2"


def test_all_ops_share_one_zxid(zk, root):
    t = zk.transaction()
    t.create(root + "/x")
    t.create(root + "/y")
    t.create(root + "/z")
    t.commit()
    zxids = {zk.exists(root + "/" + n).czxid for n in "xyz"}
    assert len(zxids) == 1
    assert zk.exists(root).pzxid == zxids.pop()


def test_failure_in_middle_rolls_back_everything(zk, root):
    zk.create(root + "/m", b"orig")
    t = zk.transaction()
    t.create(root + "/created")
    t.set_data(root + "/m", b"changed", version=7)   # fails: BadVersion
    t.delete(root + "/nonexistent")
    t.check(root + "/m", 0)
    results = t.commit()
    assert _classes(results) == [RolledBackError, BadVersionError, RuntimeInconsistency,
                                 RuntimeInconsistency]
    assert zk.exists(root + "/created") is None
    data, st = zk.get(root + "/m")
    assert data == b"orig" and st.version == 0
    assert zk.exists(root).cversion == 1  # only the /m create


def test_failure_first_op(zk, root):
    t = zk.transaction()
    t.delete(root + "/nope")
    t.create(root + "/a")
    t.create(root + "/b")
    assert _classes(t.commit()) == [NoNodeError, RuntimeInconsistency, RuntimeInconsistency]
    assert zk.get_children(root) == []


def test_failure_last_op(zk, root):
    t = zk.transaction()
    t.create(root + "/a")
    t.create(root + "/b")
    t.create(root + "/a")  # NodeExists because of op 1
    assert _classes(t.commit()) == [RolledBackError, RolledBackError, NodeExistsError]
    assert zk.get_children(root) == []


def test_check_version_op(zk, root):
    p = root + "/c"
    zk.create(p)
    zk.set(p, b"1")
    t = zk.transaction()
    t.check(p, 1)
    t.create(root + "/guarded")
    assert t.commit() == [True, root + "/guarded"]
    t = zk.transaction()
    t.check(p, 0)
    t.create(root + "/guarded2")
    assert _classes(t.commit()) == [BadVersionError, RuntimeInconsistency]
    assert zk.exists(root + "/guarded2") is None


def test_check_on_missing_node(zk, root):
    t = zk.transaction()
    t.check(root + "/missing", 0)
    assert _classes(t.commit()) == [NoNodeError]


def test_check_any_version(zk, root):
    zk.create(root + "/c")
    t = zk.transaction()
    t.check(root + "/c", -1)
    assert t.commit() == [True]


def test_empty_transaction(zk):
    assert zk.transaction().commit() == []


def test_delete_then_recreate_in_one_multi(zk, root):
    p = root + "/r"
    _, st0 = zk.create(p, b"old", include_data=True)
    t = zk.transaction()
    t.delete(p)
    t.create(p, b"new")
    assert t.commit() == [True, p]
    data, st = zk.get(p)
    assert data == b"new" and st.czxid > st0.czxid and st.version == 0


def test_not_empty_and_ephemeral_errors_in_multi(zk, root):
    zk.create(root + "/p")
    zk.create(root + "/p/c")
    zk.create(root + "/e", ephemeral=True)
    t = zk.transaction()
    t.delete(root + "/p")
    assert _classes(t.commit()) == [NotEmptyError]
    t = zk.transaction()
    t.create(root + "/ok")
    t.create(root + "/e/child")
    assert _classes(t.commit()) == [RolledBackError, NoChildrenForEphemeralsError]
    assert zk.exists(root + "/ok") is None


def test_ephemeral_and_delete_with_version_in_multi(zk, root):
    zk.create(root + "/v", b"x")
    t = zk.transaction()
    t.create(root + "/eph", ephemeral=True)
    t.delete(root + "/v", version=0)
    assert t.commit() == [root + "/eph", True]
    assert zk.exists(root + "/eph").ephemeralOwner == zk.client_id[0]


def test_acl_denied_op_in_multi(make_client, root):
    owner = make_client()
    owner.create(root + "/ro", b"x", acl=[make_acl("world", "anyone", read=True)])
    other = make_client()
    t = other.transaction()
    t.create(root + "/fine")
    t.set_data(root + "/ro", b"y")
    assert _classes(t.commit()) == [RolledBackError, NoAuthError]
    assert other.exists(root + "/fine") is None


def test_multi_fires_watches_only_on_success(zk, root):
    from compat_util import EventLog

    zk.create(root + "/w", b"0")
    log = EventLog()
    zk.get(root + "/w", watch=log)
    t = zk.transaction()
    t.set_data(root + "/w", b"1")
    t.check(root + "/w", 42)
    t.commit()
    assert log.settle() == []
    t = zk.transaction()
    t.set_data(root + "/w", b"1")
    t.check(root + "/w", 1)
    t.commit()
    assert len(log.wait(1)) == 1
