"""Stat field semantics (czxid/mzxid/pzxid, versions, ephemeralOwner, lengths, times)."""

from kazoo.security import OPEN_ACL_UNSAFE, make_acl


def test_stat_of_new_node(zk, root):
    _, st = zk.create(root + "/n", b"abcd", include_data=True)
    assert st.czxid == st.mzxid == st.pzxid
    assert st.czxid > 0
    assert st.version == 0 and st.cversion == 0 and st.aversion == 0
    assert st.ephemeralOwner == 0
    assert st.dataLength == 4
    assert st.numChildren == 0
    assert st.ctime == st.mtime
    assert st.ctime > 1_500_000_000_000  # milliseconds since the epoch


def test_set_data_changes_mzxid_version_mtime_only(zk, root):
    p = root + "/n"
    _, st0 = zk.create(p, b"a", include_data=True)
    st1 = zk.set(p, b"abcdef")
    assert st1.czxid == st0.czxid
    assert st1.mzxid > st0.mzxid
    assert st1.pzxid == st0.pzxid
    assert st1.version == 1
    assert st1.cversion == 0 and st1.aversion == 0
    assert st1.dataLength == 6
    assert st1.ctime == st0.ctime and st1.mtime >= st1.ctime
    st2 = zk.set(p, b"abcdef")  # same bytes still count as a change
    assert st2.version == 2 and st2.mzxid > st1.mzxid


def test_children_change_cversion_pzxid_not_mzxid(zk, root):
    p = root + "/parent"
    _, st0 = zk.create(p, b"", include_data=True)
    _, cst = zk.create(p + "/c1", include_data=True)
    st1 = zk.exists(p)
    assert st1.cversion == 1 and st1.numChildren == 1
    assert st1.pzxid == cst.czxid
    assert st1.mzxid == st0.mzxid and st1.version == 0
    zk.create(p + "/c2")
    zk.delete(p + "/c1")
    st2 = zk.exists(p)
    assert st2.cversion == 3  # +1 per child create and per child delete
    assert st2.numChildren == 1
    assert st2.pzxid > st1.pzxid
    assert st2.mzxid == st0.mzxid
    # data change of a child does not touch the parent
    zk.set(p + "/c2", b"x")
    assert zk.exists(p) == st2


def test_acl_change_bumps_aversion_only(zk, root):
    p = root + "/a"
    _, st0 = zk.create(p, b"d", include_data=True)
    st1 = zk.set_acls(p, [make_acl("world", "anyone", read=True, write=True, create=True,
                                    delete=True, admin=True)])
    assert st1.aversion == 1
    assert st1.version == 0 and st1.cversion == 0
    assert st1.mzxid == st0.mzxid  # setACL does not change mzxid
    st2 = zk.set_acls(p, OPEN_ACL_UNSAFE, version=1)
    assert st2.aversion == 2


def test_ephemeral_owner_is_session_id(zk, root):
    _, st = zk.create(root + "/e", ephemeral=True, include_data=True)
    assert st.ephemeralOwner == zk.client_id[0]
    assert st.ephemeralOwner != 0


def test_zxids_increase_monotonically(zk, root):
    zxids = []
    for i in range(5):
        _, st = zk.create(root + "/z%d" % i, include_data=True)
        zxids.append(st.czxid)
    assert zxids == sorted(zxids) and len(set(zxids)) == 5
    assert zk.exists(root).pzxid == zxids[-1]


def test_sequential_child_updates_parent_like_plain_child(zk, root):
    st0 = zk.exists(root)
    path, st = zk.create(root + "/s-", sequence=True, include_data=True)
    st1 = zk.exists(root)
    assert st1.cversion == st0.cversion + 1
    assert st1.pzxid == st.czxid
