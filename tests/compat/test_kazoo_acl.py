"""ACLs: per-permission denial (NoAuth), digest auth, world / ip / auth schemes, InvalidACL."""

import base64
import hashlib

import pytest
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    InvalidACLError,
    NoAuthError,
)
from kazoo.security import (
    ACL,
    Id,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Permissions,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)

ALL = Permissions.ALL


def world(**perms):
    return make_acl("world", "anyone", **perms)


def test_read_permission(make_client, root):
    owner, other = make_client(), make_client()
    p = root + "/n"
    owner.create(p, b"secret", acl=[world(write=True, create=True, delete=True, admin=True)])
    owner.create(p + "/child", acl=OPEN_ACL_UNSAFE)
    with pytest.raises(NoAuthError):
        other.get(p)
    with pytest.raises(NoAuthError):
        other.get_children(p)
    # exists needs no permission
    assert other.exists(p).dataLength == 6
    # getACL needs READ or ADMIN: ADMIN is granted here
    acls, _ = other.get_acls(p)
    assert len(acls) == 1 and acls[0].perms == Permissions.ALL & ~Permissions.READ


def test_write_permission(make_client, root):
    owner, other = make_client(), make_client()
    p = root + "/n"
    owner.create(p, b"v", acl=[world(read=True)])
    with pytest.raises(NoAuthError):
        other.set(p, b"x")
    with pytest.raises(NoAuthError):
        owner.set(p, b"x")  # the creator has no special rights
    assert other.get(p)[0] == b"v"


def test_create_permission(make_client, root):
    owner = make_client()
    p = root + "/n"
    owner.create(p, acl=[world(read=True, delete=True)])
    with pytest.raises(NoAuthError):
        owner.create(p + "/child")
    with pytest.raises(NoAuthError):
        owner.create(p + "/child", ephemeral=True)
    with pytest.raises(NoAuthError):
        owner.create(p + "/s-", sequence=True)


def test_delete_permission_is_checked_on_parent(make_client, root):
    owner = make_client()
    p = root + "/n"
    owner.create(p, acl=[world(read=True, create=True)])
    owner.create(p + "/child", acl=OPEN_ACL_UNSAFE)
    with pytest.raises(NoAuthError):
        owner.delete(p + "/child")
    # the ACL check comes before the existence check
    with pytest.raises(NoAuthError):
        owner.delete(p + "/missing")
    # the node's own ACL does not matter for deleting it: parent (root) allows delete
    owner.create(root + "/locked", acl=[world(read=True)])
    owner.delete(root + "/locked")


def test_admin_permission(make_client, root):
    owner = make_client()
    p = root + "/n"
    owner.create(p, acl=[world(read=True, write=True)])
    with pytest.raises(NoAuthError):
        owner.set_acls(p, OPEN_ACL_UNSAFE)
    owner.create(root + "/a", acl=[world(admin=True)])
    st = owner.set_acls(root + "/a", READ_ACL_UNSAFE)
    assert st.aversion == 1


def test_get_acls_needs_read_or_admin(make_client, root):
    owner = make_client()
    owner.create(root + "/w", acl=[world(write=True)])
    with pytest.raises(NoAuthError):
        owner.get_acls(root + "/w")
    owner.create(root + "/r", acl=[world(read=True)])
    acls, st = owner.get_acls(root + "/r")
    assert acls == [ACL(Permissions.READ, Id("world", "anyone"))]
    assert st.aversion == 0
    owner.create(root + "/none", acl=[world()])  # perms 0 is a valid ACL
    with pytest.raises(NoAuthError):
        owner.get_acls(root + "/none")
    with pytest.raises(NoAuthError):
        owner.get(root + "/none")


def test_default_acl_is_open(zk, root):
    zk.create(root + "/d")
    acls, _ = zk.get_acls(root + "/d")
    assert acls == [ACL(Permissions.ALL, Id("world", "anyone"))]


def test_digest_auth(make_client, root):
    alice = make_client(auth_data=[("digest", "alice:secret")])
    anon = make_client()
    wrong = make_client()
    wrong.add_auth("digest", "alice:wrong")  # digest auth itself always "succeeds"
    p = root + "/private"
    alice.create(p, b"hers", acl=[make_digest_acl("alice", "secret", all=True)])
    assert alice.get(p)[0] == b"hers"
    for c in (anon, wrong):
        with pytest.raises(NoAuthError):
            c.get(p)
        with pytest.raises(NoAuthError):
            c.set(p, b"x")
    wrong.add_auth("digest", "alice:secret")  # adding the right one later works
    assert wrong.get(p)[0] == b"hers"
    acls, _ = anon.get_acls(root)
    acls, _ = alice.get_acls(p)
    expected_id = "alice:" + base64.b64encode(hashlib.sha1(b"alice:secret").digest()).decode()
    assert acls == [ACL(Permissions.ALL, Id("digest", expected_id))]
    assert make_digest_acl_credential("alice", "secret") == expected_id


def test_digest_acl_mixed_with_world_read(make_client, root):
    alice = make_client(auth_data=[("digest", "alice:pw")])
    anon = make_client()
    p = root + "/mixed"
    alice.create(p, b"d", acl=[make_digest_acl("alice", "pw", all=True), world(read=True)])
    assert anon.get(p)[0] == b"d"
    with pytest.raises(NoAuthError):
        anon.set(p, b"x")
    alice.set(p, b"x")


def test_auth_scheme_acl_expands_to_session_identities(make_client, root):
    c = make_client()
    c.add_auth("digest", "u1:p1")
    c.add_auth("digest", "u2:p2")
    p = root + "/auth"
    c.create(p, acl=[make_acl("auth", "ignored-id", all=True)])
    acls, _ = c.get_acls(p)
    ids = sorted(a.id.id for a in acls)
    assert all(a.id.scheme == "digest" and a.perms == ALL for a in acls)
    assert ids == sorted([make_digest_acl_credential("u1", "p1"),
                          make_digest_acl_credential("u2", "p2")])


def test_invalid_acls(make_client, root):
    anon = make_client()
    bad = {
        "auth-without-identities": [make_acl("auth", "", all=True)],
        "unknown-scheme": [make_acl("nosuchscheme", "x", all=True)],
        "world-not-anyone": [make_acl("world", "someone", all=True)],
        "ip-not-an-address": [make_acl("ip", "not-an-ip", all=True)],
        "ip-bad-mask": [make_acl("ip", "127.0.0.1/40", all=True)],
        "digest-without-colon": [make_acl("digest", "nocolon", all=True)],
        "super-scheme": [make_acl("super", "x", all=True)],
    }
    for name, acl in bad.items():
        with pytest.raises(InvalidACLError):
            anon.create(root + "/" + name.replace("/", "_"), acl=acl)
        assert anon.exists(root + "/" + name) is None
    anon.create(root + "/target")
    with pytest.raises(InvalidACLError):
        anon.set_acls(root + "/target", [])  # empty ACL list
    with pytest.raises(InvalidACLError):
        anon.set_acls(root + "/target", [make_acl("nosuchscheme", "x", all=True)])
    assert anon.get_acls(root + "/target")[1].aversion == 0


def test_ip_acl(make_client, root):
    c = make_client()
    c.create(root + "/local", b"l", acl=[make_acl("ip", "127.0.0.1", read=True)])
    c.create(root + "/cidr", b"c", acl=[make_acl("ip", "127.0.0.0/8", read=True)])
    c.create(root + "/remote", b"r", acl=[make_acl("ip", "10.1.2.3", all=True)])
    assert c.get(root + "/local")[0] == b"l"
    assert c.get(root + "/cidr")[0] == b"c"
    with pytest.raises(NoAuthError):
        c.get(root + "/remote")
    with pytest.raises(NoAuthError):
        c.set(root + "/local", b"x")


def test_set_acls_version_check(zk, root):
    p = root + "/v"
    zk.create(p)
    with pytest.raises(BadVersionError):
        zk.set_acls(p, READ_ACL_UNSAFE, version=3)
    assert zk.set_acls(p, OPEN_ACL_UNSAFE, version=0).aversion == 1
    with pytest.raises(BadVersionError):
        zk.set_acls(p, OPEN_ACL_UNSAFE, version=0)
    assert zk.set_acls(p, OPEN_ACL_UNSAFE, version=-1).aversion == 2


def test_unknown_auth_scheme_fails_session(make_client):
    """The server answers an auth packet with an unknown scheme with AUTH_FAILED (-115) and closes
    the connection; kazoo then refuses further requests."""
    c = make_client()
    with pytest.raises(AuthFailedError):
        c.add_auth("nosuchscheme", "whatever")
    with pytest.raises(AuthFailedError):
        c.get("/")
