"""Audit log (audit.enable=true): the same client operations give the same audit lines on rzk and
Apache ZooKeeper - ZooKeeper's fields (session, user, ip, operation, znode, znode_type, acl,
result), tab-separated, in its order, one line per create/delete/setData/setAcl, per multi
(its writes on success, one multiOperation failure otherwise), per ephemeral node deleted when
its session closes, and for server start and stop. Reads are not audited.

The expected lines below are what Apache ZooKeeper 3.8 writes; session ids are replaced by S1,
S2, ... in order of appearance, the server's own user by SYSTEM."""

import os

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError, NodeExistsError
from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE

import servers

pytestmark = pytest.mark.skipif(bool(os.environ.get("ZK_CONNECT")),
                                reason="starts its own server with audit.enable=true")


@pytest.fixture
def audited():
    srv = servers.ZkServer(audit=True)
    srv.start()
    yield srv
    srv.cleanup()


def client(srv, **kw):
    c = KazooClient(hosts=srv.hosts, timeout=10.0, **kw)
    c.start(timeout=15)
    return c


def normalized(lines, system_user):
    sessions = {}
    out = []
    for line in lines:
        fields = []
        for kv in line.split("\t"):
            k, _, v = kv.partition("=")
            if k == "session":
                v = sessions.setdefault(v, "S%d" % (len(sessions) + 1))
            if k == "user" and v == system_user:
                v = "SYSTEM"
            fields.append("%s=%s" % (k, v))
        out.append("\t".join(fields))
    return out


def wait_lines(srv, n, timeout=10.0):
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = srv.audit_lines()
        if len(lines) >= n:
            return lines
        time.sleep(0.1)
    return srv.audit_lines()


def test_audit_lines_match_zookeeper(audited):
    zk = client(audited)
    zk.create("/a")
    with pytest.raises(NodeExistsError):
        zk.create("/a")
    zk.set("/a", b"x")
    with pytest.raises(BadVersionError):
        zk.set("/a", b"y", version=7)
    zk.get("/a")
    zk.get_children("/")
    zk.exists("/nothing")
    zk.set_acls("/a", OPEN_ACL_UNSAFE)
    zk.create("/seq")
    zk.create("/seq/s-", sequence=True)
    tx = zk.transaction()
    tx.create("/b")
    tx.set_data("/b", b"1")
    tx.check("/b", 1)
    tx.delete("/b")
    results = tx.commit()
    assert not any(isinstance(r, Exception) for r in results), results
    tx = zk.transaction()
    tx.create("/c")
    tx.delete("/missing")
    assert any(isinstance(r, NoNodeError) for r in tx.commit())
    zk.delete("/a")
    with pytest.raises(NoNodeError):
        zk.delete("/a")

    other = client(audited, auth_data=[("digest", "bob:secret")])
    other.create("/e", ephemeral=True)
    other.create("/d", acl=[make_digest_acl("bob", "secret", all=True)])
    other.add_auth("digest", "al:x")
    other.set("/d", b"z")
    other.stop()
    other.close()

    expected_ops = [
        "user=SYSTEM\toperation=serverStart\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=create\tznode=/a\tznode_type=persistent\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=create\tznode=/a\tznode_type=persistent\tresult=failure",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=setData\tznode=/a\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=setData\tznode=/a\tresult=failure",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=setAcl\tznode=/a\tacl=world:anyone:cdrwa\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=create\tznode=/seq\tznode_type=persistent\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=create\tznode=/seq/s-0000000000\tznode_type=persistent_sequential\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=create\tznode=/b\tznode_type=persistent\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=setData\tznode=/b\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=delete\tznode=/b\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=multiOperation\tresult=failure",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=delete\tznode=/a\tresult=success",
        "session=S1\tuser=127.0.0.1\tip=127.0.0.1\toperation=delete\tznode=/a\tresult=failure",
        "session=S2\tuser=bob,127.0.0.1\tip=127.0.0.1\toperation=create\tznode=/e\tznode_type=ephemeral\tresult=success",
        "session=S2\tuser=bob,127.0.0.1\tip=127.0.0.1\toperation=create\tznode=/d\tznode_type=persistent\tresult=success",
        "session=S2\tuser=bob,al,127.0.0.1\tip=127.0.0.1\toperation=setData\tznode=/d\tresult=success",
        "session=S2\tuser=SYSTEM\toperation=ephemeralZNodeDeletionOnSessionCloseOrExpire\tznode=/e\tresult=success",
    ]
    lines = wait_lines(audited, len(expected_ops))
    system_user = lines[0].split("\t")[0].partition("=")[2] if lines else None
    assert system_user, lines
    got = normalized(lines, system_user)
    assert got == expected_ops, "\n".join(got)

    zk.stop()
    zk.close()
    audited.stop()
    last = normalized(audited.audit_lines(), system_user)[-1]
    assert last == "user=SYSTEM\toperation=serverStop\tresult=invoked", last
