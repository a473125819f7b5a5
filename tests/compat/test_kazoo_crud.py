"""Basic CRUD through kazoo and the errors real ZooKeeper answers."""

import pytest
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    ConnectionLoss,
    NoNodeError,
    NodeExistsError,
    NotEmptyError,
)
from kazoo.protocol.states import KazooState

from compat_util import wait_until


def test_create_get_set_delete(zk, root):
    p = root + "/node"
    assert zk.create(p, b"hello") == p
    data, stat = zk.get(p)
    assert data == b"hello"
    assert stat.version == 0
    st = zk.set(p, b"world")
    assert st.version == 1
    assert zk.get(p)[0] == b"world"
    assert zk.exists(p) is not None
    assert zk.delete(p) is True
    assert zk.exists(p) is None
    with pytest.raises(NoNodeError):
        zk.get(p)


def test_create_include_data_returns_stat(zk, root):
    path, stat = zk.create(root + "/n", b"abc", include_data=True)
    assert path == root + "/n"
    assert stat.dataLength == 3 and stat.version == 0 and stat.numChildren == 0
    assert stat == zk.exists(root + "/n")


def test_empty_and_null_data(zk, root):
    zk.create(root + "/empty", b"")
    assert zk.get(root + "/empty")[0] == b""
    # kazoo sends a null buffer for None; ZooKeeper keeps it null (length -1 on the wire)
    zk.create(root + "/null", None)
    data, stat = zk.get(root + "/null")
    assert data is None and stat.dataLength == 0
    zk.set(root + "/empty", None)
    assert zk.get(root + "/empty")[0] is None
    zk.set(root + "/null", b"")
    assert zk.get(root + "/null")[0] == b""


def test_binary_data_roundtrip(zk, root):
    blob = bytes(range(256)) * 40
    zk.create(root + "/bin", blob)
    assert zk.get(root + "/bin")[0] == blob
    assert zk.exists(root + "/bin").dataLength == len(blob)


def test_makepath_and_ensure_path(zk, root):
    zk.create(root + "/a/b/c", b"x", makepath=True)
    assert zk.get_children(root) == ["a"]
    assert zk.get_children(root + "/a") == ["b"]
    assert zk.get(root + "/a/b/c")[0] == b"x"
    zk.ensure_path(root + "/a/b/d/e")
    assert sorted(zk.get_children(root + "/a/b")) == ["c", "d"]


def test_node_exists(zk, root):
    zk.create(root + "/dup")
    with pytest.raises(NodeExistsError):
        zk.create(root + "/dup")
    with pytest.raises(NodeExistsError):
        zk.create(root + "/dup", ephemeral=True)
    with pytest.raises(NodeExistsError):
        zk.create("/")


def test_no_node_errors(zk, root):
    missing = root + "/missing"
    with pytest.raises(NoNodeError):
        zk.get(missing)
    with pytest.raises(NoNodeError):
        zk.set(missing, b"x")
    with pytest.raises(NoNodeError):
        zk.delete(missing)
    with pytest.raises(NoNodeError):
        zk.delete(missing, version=3)
    with pytest.raises(NoNodeError):
        zk.get_children(missing)
    with pytest.raises(NoNodeError):
        zk.get_acls(missing)
    with pytest.raises(NoNodeError):
        zk.create(missing + "/child")  # parent missing
    assert zk.exists(missing) is None


def test_not_empty(zk, root):
    zk.create(root + "/p")
    zk.create(root + "/p/c")
    with pytest.raises(NotEmptyError):
        zk.delete(root + "/p")
    zk.delete(root + "/p", recursive=True)
    assert zk.exists(root + "/p") is None


def test_bad_version_on_set_and_delete(zk, root):
    p = root + "/v"
    zk.create(p, b"0")
    with pytest.raises(BadVersionError):
        zk.set(p, b"x", version=5)
    with pytest.raises(BadVersionError):
        zk.set(p, b"x", version=-2)
    assert zk.set(p, b"1", version=0).version == 1
    assert zk.set(p, b"2", version=1).version == 2
    assert zk.set(p, b"3", version=-1).version == 3  # -1 matches any version
    with pytest.raises(BadVersionError):
        zk.delete(p, version=0)
    assert zk.get(p)[0] == b"3"
    zk.delete(p, version=3)
    assert zk.exists(p) is None


def test_get_children_and_include_data(zk, root):
    for name, data in (("a", b"1"), ("b", b"22"), ("c", b"")):
        zk.create(root + "/" + name, data)
    assert sorted(zk.get_children(root)) == ["a", "b", "c"]
    children, stat = zk.get_children(root, include_data=True)
    assert sorted(children) == ["a", "b", "c"]
    assert stat.numChildren == 3 and stat.cversion == 3
    assert stat == zk.exists(root)
    assert zk.get_children(root + "/a") == []


def test_delete_root_and_zookeeper_subtree_rejected(zk):
    with pytest.raises(BadArgumentsError):
        zk.delete("/")
    for p in ("/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        with pytest.raises(BadArgumentsError):
            zk.delete(p)
    assert zk.exists("/zookeeper") is not None


def test_zookeeper_system_nodes(zk):
    children = zk.get_children("/zookeeper")
    assert "quota" in children and "config" in children
    st = zk.exists("/")
    assert st.czxid == 0 and st.ctime == 0 and st.ephemeralOwner == 0
    assert "zookeeper" in zk.get_children("/")


def test_sync(zk, root):
    zk.create(root + "/s", b"1")
    assert zk.sync(root + "/s") == root + "/s"
    # sync does not check that the node exists
    assert zk.sync(root + "/does-not-exist") == root + "/does-not-exist"


def test_large_value_limit(make_client, root):
    """Values just under 1 MB work; a request over jute.maxbuffer (1 MB) makes the server drop the
    connection (kazoo: ConnectionLoss) and the client reconnects to the same session."""
    zk = make_client()
    sid = zk.client_id[0]
    ok = b"v" * 1000000
    zk.create(root + "/big", ok)
    assert zk.get(root + "/big")[0] == ok
    with pytest.raises(ConnectionLoss):
        zk.create(root + "/too-big", b"x" * (1024 * 1024 + 1))
    assert wait_until(lambda: zk.state == KazooState.CONNECTED, 15)
    assert zk.client_id[0] == sid
    assert zk.exists(root + "/too-big") is None
