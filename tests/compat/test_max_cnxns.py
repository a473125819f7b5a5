"""maxCnxns: a server takes at most that many client connections in all; the next one is closed,
and a freed place can be taken again. Same scenario against Apache ZooKeeper."""

import os

import pytest
from kazoo.client import KazooClient

import servers

pytestmark = pytest.mark.skipif(bool(os.environ.get("ZK_CONNECT")),
                                reason="starts its own server with maxCnxns=2")


@pytest.fixture
def limited():
    srv = servers.ZkServer(extra_cfg={"maxCnxns": "2"})
    srv.start()
    yield srv
    srv.cleanup()


def client(srv):
    return KazooClient(hosts=srv.hosts, timeout=10.0, connection_retry={"max_tries": 0})


def test_connections_beyond_max_cnxns_are_refused(limited):
    a, b, c = client(limited), client(limited), client(limited)
    try:
        a.start(timeout=15)
        b.start(timeout=15)
        a.ensure_path("/m")
        with pytest.raises(Exception):
            c.start(timeout=4)
        c.stop()
        b.stop()
        b.close()
        d = client(limited)
        try:
            d.start(timeout=15)
            assert d.exists("/m") is not None
        finally:
            d.stop()
            d.close()
    finally:
        for x in (a, c):
            try:
                x.stop()
                x.close()
            except Exception:
                pass
