"""Path validation.

kazoo normalises paths before sending (drops a trailing '/', collapses '//', prefixes '/', raises
ValueError for '.' and '..' components), so through its public API only characters reach the
server. The `raw` tests send the path verbatim (kazoo_ext) to pin down the *server's* answer: for a
create, ZooKeeper first looks up the parent (everything before the last '/', NoNode if missing),
and only then validates the whole path (BadArguments)."""

import pytest
from kazoo.exceptions import BadArgumentsError, MarshallingError, NoNodeError, NodeExistsError

import kazoo_ext as X


def test_kazoo_client_side_normalisation(zk, root):
    # trailing slash and double slashes are normalised away by kazoo
    assert zk.create(root + "/a/") == root + "/a"
    with pytest.raises(NodeExistsError):
        zk.create(root + "//a")
    with pytest.raises(ValueError):
        zk.create(root + "/./b")
    with pytest.raises(ValueError):
        zk.create(root + "/../b")
    with pytest.raises(ValueError):
        zk.get(root + "/.")


def test_server_rejects_bad_characters(zk, root):
    for name in ("nul\x00char", "ctl\x01char", "del\x7fchar", "c1\x9fchar", "nonchar\ufffe"):
        with pytest.raises(BadArgumentsError):
            zk.create(root + "/" + name)
    assert zk.get_children(root) == []


def test_server_accepts_odd_but_legal_names(zk, root):
    for name in (".hidden", "..x", "x.", "a b", "ünïcödé", "with:colon", "zookeeper"):
        assert zk.create(root + "/" + name) == root + "/" + name
    assert len(zk.get_children(root)) == 7


def test_raw_bad_paths_when_parent_exists(zk, root):
    zk.create(root + "/a")
    for bad in ("/a/", "/a/.", "/a/.."):
        with pytest.raises(BadArgumentsError):
            X.create_raw(zk, root + bad)
    with pytest.raises(BadArgumentsError):
        X.create_raw(zk, "//")
    with pytest.raises(BadArgumentsError):
        X.create_raw(zk, root[1:])  # relative: parent "" -> BadArguments
    assert zk.get_children(root) == ["a"]


def test_raw_bad_paths_when_parent_missing(zk, root):
    # parent lookup comes first: the parent of "/x/" is "/x", of "/a//b" is "/a/", ...
    for bad in ("/x/", "/a//b", "/a/./b", "/a/../b"):
        with pytest.raises(NoNodeError):
            X.create_raw(zk, root + bad)
    with pytest.raises(NoNodeError):
        X.create_raw(zk, root[1:] + "/x")  # relative, parent "compat-..." does not exist


def test_raw_reads_do_not_validate_paths(zk, root):
    zk.create(root + "/a", b"data")
    for odd in ("/a/", "//a", "/a/."):
        with pytest.raises(NoNodeError):
            X.call(zk, X.RawGetData(root + odd))
    assert X.call(zk, X.RawGetData(root + "/a"))[0] == b"data"


def test_raw_null_path_is_marshalling_error(zk):
    # kazoo writes "" as a null string (length -1); ZooKeeper cannot deserialise the request
    with pytest.raises(MarshallingError):
        X.call(zk, X.RawGetData(""))
    assert zk.exists("/") is not None  # the session survives


def test_raw_sequential_with_trailing_slash(zk, root):
    path, _ = X.create_raw(zk, root + "/", flags=X.PERSISTENT_SEQUENTIAL)
    assert path == root + "/0000000000"


def test_create_root_and_system_nodes(zk):
    with pytest.raises(NodeExistsError):
        X.create_raw(zk, "/")
    with pytest.raises(NodeExistsError):
        zk.create("/zookeeper")
