"""Durability across a server restart (graceful and kill -9), on a dedicated server instance with its
own data dir (needs the harness to own the server: skipped under ZK_CONNECT)."""

import os

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from kazoo.security import make_digest_acl

import servers
from compat_util import wait_until

pytestmark = pytest.mark.skipif(bool(os.environ.get("ZK_CONNECT")),
                                reason="needs a server the harness can restart")


@pytest.fixture(scope="module")
def own_server():
    srv = servers.ZkServer()
    srv.start()
    yield srv
    srv.cleanup()


@pytest.fixture
def client_of(own_server):
    made = []

    def factory(**kw):
        kw.setdefault("timeout", 10.0)
        c = KazooClient(hosts=own_server.hosts, **kw)
        c.start(timeout=20)
        made.append(c)
        return c

    yield factory
    for c in made:
        try:
            c.stop()
            c.close()
        except Exception:
            pass


@pytest.mark.parametrize("crash", [False, True], ids=["graceful", "kill9"])
def test_data_survives_restart(own_server, client_of, crash):
    base = "/durable-%s" % ("kill9" if crash else "graceful")
    c = client_of()
    c.create(base, b"root")
    c.create(base + "/a", b"1")
    c.set(base + "/a", b"2")
    c.create(base + "/s-", sequence=True)
    c.create(base + "/acl", b"x", acl=[make_digest_acl("u", "p", all=True)])
    c.delete(base + "/s-0000000001")
    before = {p: c.exists(base + p) for p in ("", "/a", "/acl")}
    last_zxid = c.exists(base).pzxid
    c.stop()
    own_server.restart(crash=crash)
    c2 = client_of(auth_data=[("digest", "u:p")])
    assert c2.get(base + "/a")[0] == b"2"
    for p, st in before.items():
        assert c2.exists(base + p) == st, p
    assert c2.get_acls(base + "/acl")[0][0].id.id.startswith("u:")
    # the sequential counter and the zxid carry on
    assert c2.create(base + "/s-", sequence=True) == base + "/s-0000000003"
    assert c2.exists(base + "/s-0000000003").czxid > last_zxid


def test_session_and_ephemerals_survive_restart(own_server, client_of):
    """Sessions are part of the replicated state: a client that reconnects within its session
    timeout after a server crash keeps its session id and its ephemeral nodes."""
    c = client_of(timeout=30.0)
    states = []
    c.add_listener(states.append)
    sid = c.client_id[0]
    c.create("/eph-survivor", ephemeral=True)
    own_server.restart(crash=True)
    assert wait_until(lambda: KazooState.SUSPENDED in states, 20), states
    assert wait_until(lambda: c.state == KazooState.CONNECTED, 30), states
    assert KazooState.LOST not in states
    assert c.client_id[0] == sid
    assert c.exists("/eph-survivor").ephemeralOwner == sid
    c.stop()
    other = client_of()
    assert other.exists("/eph-survivor") is None


def test_closed_session_stays_closed_after_restart(own_server, client_of):
    a = client_of()
    a.create("/eph-closed", ephemeral=True)
    a.stop()
    own_server.restart(crash=True)
    b = client_of()
    assert b.exists("/eph-closed") is None
