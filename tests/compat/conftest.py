"""Fixtures for the compat suite: one server per test session (ZK_IMPL=apache|rzk, or ZK_CONNECT),
fresh kazoo clients per test, and a unique root znode per test."""

import os
import re
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

from kazoo.client import KazooClient  # noqa: E402

import servers  # noqa: E402


# Server feature toggles some tests depend on (tests/lib/servers.py writes them for both impls).
TOGGLE_MARKERS = {
    "toggle_ttl": "needs TTL nodes: extendedTypesEnabled=true (Apache: -Dzookeeper.extendedTypesEnabled=true)",
    "toggle_reaper": "needs a fast container/TTL reaper: Apache -Dznode.container.checkIntervalMs=1000, "
                     "rzk zoo.cfg rzk.containerCheckIntervalMs=1000",
    "toggle_4lw": "needs four-letter words: 4lw.commands.whitelist=*",
    "toggle_session_bounds": "needs minSessionTimeout=4000 / maxSessionTimeout=60000",
}


def pytest_configure(config):
    for name, text in TOGGLE_MARKERS.items():
        config.addinivalue_line("markers", "%s: %s" % (name, text))


def pytest_report_header(config):
    return "zk target: %s" % (os.environ.get("ZK_CONNECT") or servers.impl_name())


@pytest.fixture(scope="session")
def zk_server_handle():
    """The server handle (ZkServer, or ExternalServer under ZK_CONNECT)."""
    srv = servers.server_from_env()
    srv.start()
    yield srv
    srv.cleanup()


@pytest.fixture(scope="session")
def zk_server(zk_server_handle):
    """host:port of the server under test."""
    return zk_server_handle.hosts


@pytest.fixture
def make_client(zk_server):
    """Factory: make_client(**kazoo_kwargs) -> started KazooClient; all stopped at teardown."""
    made = []

    def factory(hosts=None, start=True, **kwargs):
        kwargs.setdefault("timeout", 10.0)
        c = KazooClient(hosts=hosts or zk_server, **kwargs)
        made.append(c)
        if start:
            c.start(timeout=15)
        return c

    yield factory
    for c in made:
        try:
            c.stop()
            c.close()
        except Exception:
            pass


@pytest.fixture
def zk(make_client):
    return make_client()


@pytest.fixture
def root(request, zk_server):
    """A unique, empty persistent znode for this test; removed (best effort) afterwards."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60]
    path = "/compat-%s-%s" % (name, uuid.uuid4().hex[:8])
    admin = KazooClient(hosts=zk_server, timeout=10.0)
    admin.start(timeout=15)
    admin.create(path)
    yield path
    try:
        admin.delete(path, recursive=True)
    except Exception:
        pass  # nodes with restrictive ACLs may stay; every test uses its own root
    admin.stop()
    admin.close()

