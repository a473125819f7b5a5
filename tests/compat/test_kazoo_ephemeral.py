"""Ephemeral znodes and session lifetime: close, expiry, reconnect with the same session."""

import re

import pytest
from kazoo.exceptions import NoChildrenForEphemeralsError
from kazoo.protocol.states import KazooState

import servers
from compat_util import wait_until
from proxy import TcpProxy


def test_ephemeral_vanishes_on_close(make_client, root):
    owner = make_client()
    watcher = make_client()
    owner.create(root + "/e", b"x", ephemeral=True)
    owner.create(root + "/es-", ephemeral=True, sequence=True)
    assert len(watcher.get_children(root)) == 2
    owner.stop()
    # a session close is synchronous on the server: gone as soon as stop() returned
    assert watcher.get_children(root) == []


def test_ephemeral_cannot_have_children(zk, root):
    zk.create(root + "/e", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(root + "/e/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(root + "/e/child", ephemeral=True)
    assert zk.exists(root + "/e").numChildren == 0


def test_ephemerals_of_other_sessions_survive(make_client, root):
    a = make_client()
    b = make_client()
    a.create(root + "/a", ephemeral=True)
    b.create(root + "/b", ephemeral=True)
    a.stop()
    assert b.get_children(root) == ["b"]
    assert b.exists(root + "/b").ephemeralOwner == b.client_id[0]


def test_second_connection_with_same_session_then_close(make_client, root):
    """A second client that attaches to the session (id + password) and closes it ends the
    session: the first client's ephemerals vanish and the first client learns it is LOST."""
    a = make_client()
    states = []
    a.add_listener(states.append)
    a.create(root + "/e", ephemeral=True)
    sid, passwd = a.client_id
    b = make_client(client_id=(sid, passwd))
    assert b.client_id[0] == sid
    assert b.exists(root + "/e").ephemeralOwner == sid  # same session sees its own ephemeral
    b.stop()
    other = make_client()
    assert other.exists(root + "/e") is None
    assert wait_until(lambda: KazooState.LOST in states, 20), states


def test_reattach_with_wrong_password_gets_new_session(make_client, root):
    """Apache closes the connection currently attached to the session *before* it checks the
    password of the new connect request; the legitimate client just reconnects (same session)."""
    a = make_client()
    a.create(root + "/e", ephemeral=True)
    sid, passwd = a.client_id
    bad = bytes((b ^ 0xFF) for b in passwd)
    b = make_client(client_id=(sid, bad))
    assert b.connected
    assert b.client_id[0] != sid  # server refused the session, kazoo started a fresh one
    assert b.exists(root + "/e").ephemeralOwner == sid
    assert wait_until(lambda: a.connected, 15)
    assert a.client_id[0] == sid
    assert a.exists(root + "/e").ephemeralOwner == sid


def test_reconnect_same_session_keeps_ephemerals(make_client, zk_server_handle, root):
    """Connection drop (not expiry): kazoo reconnects with its session id + password and the
    server keeps the session, its ephemerals and its id."""
    proxy = TcpProxy(zk_server_handle.host, zk_server_handle.port)
    try:
        a = make_client(hosts=proxy.hosts, timeout=10.0)
        states = []
        a.add_listener(states.append)
        sid = a.client_id[0]
        a.create(root + "/e", ephemeral=True)
        proxy.cut()
        assert wait_until(lambda: KazooState.SUSPENDED in states, 10), states
        assert wait_until(lambda: a.state == KazooState.CONNECTED, 15)
        assert a.client_id[0] == sid
        assert KazooState.LOST not in states
        assert a.exists(root + "/e").ephemeralOwner == sid
        # and the session works for writes again
        a.create(root + "/e2", ephemeral=True)
    finally:
        proxy.close()


@pytest.mark.toggle_session_bounds
def test_session_expiry_removes_ephemerals(make_client, zk_server_handle, root):
    """Real expiry: the client's traffic is black-holed for longer than the negotiated session
    timeout (4 s = the server's minSessionTimeout); the server expires the session, deletes its
    ephemerals, and the client is told SessionExpired when traffic flows again."""
    proxy = TcpProxy(zk_server_handle.host, zk_server_handle.port)
    try:
        a = make_client(hosts=proxy.hosts, timeout=servers.MIN_SESSION_TIMEOUT_MS / 1000.0)
        observer = make_client()
        states = []
        a.add_listener(states.append)
        sid = a.client_id[0]
        a.create(root + "/e", ephemeral=True)
        a.create(root + "/es-", ephemeral=True, sequence=True)
        a.create(root + "/persistent")
        proxy.blackhole()
        assert wait_until(lambda: observer.get_children(root) == ["persistent"], 20), \
            "ephemerals not removed after session expiry"
        proxy.forward()
        assert wait_until(lambda: KazooState.LOST in states, 20), states
        # kazoo starts a new session after expiry
        assert wait_until(lambda: a.state == KazooState.CONNECTED, 20)
        assert a.client_id[0] != sid
    finally:
        proxy.close()


def _negotiated_timeout(client):
    """kazoo does not keep the negotiated timeout; the server's `cons` shows it as to=<ms>."""
    sid = "sid=0x%x," % client.client_id[0]
    for line in client.command(b"cons").splitlines():
        if sid in line:
            return int(re.search(r"[(,]to=(\d+)", line).group(1))
    raise AssertionError("session not in cons output")


@pytest.mark.toggle_session_bounds
def test_session_id_and_timeout_negotiation(make_client, zk_server_handle):
    if not isinstance(zk_server_handle, servers.ZkServer):
        pytest.skip("needs the harness' min/maxSessionTimeout")
    a = make_client(timeout=1.0)  # below minSessionTimeout -> raised to the minimum
    assert _negotiated_timeout(a) == servers.MIN_SESSION_TIMEOUT_MS
    b = make_client(timeout=600.0)  # above maxSessionTimeout -> lowered to the maximum
    assert _negotiated_timeout(b) == servers.MAX_SESSION_TIMEOUT_MS
    c = make_client(timeout=10.0)
    assert _negotiated_timeout(c) == 10000
    ids = {a.client_id[0], b.client_id[0], c.client_id[0]}
    assert len(ids) == 3 and 0 not in ids
    assert all(len(x.client_id[1]) == 16 for x in (a, b, c))


def test_requests_after_close_fail(make_client, root):
    a = make_client()
    a.create(root + "/x")
    a.stop()
    with pytest.raises(Exception):
        a.get(root + "/x")
