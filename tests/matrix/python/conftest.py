"""kazoo recipes against the ensemble in ZK_CONNECT (host:port,host:port,...)."""
import os
import uuid

import pytest
from kazoo.client import KazooClient

CONNECT = os.environ.get("ZK_CONNECT", "127.0.0.1:2181")
WAIT = 30.0


@pytest.fixture
def make_client():
    made = []

    def make(**kw):
        c = KazooClient(hosts=CONNECT, timeout=15.0, **kw)
        c.start(timeout=WAIT)
        made.append(c)
        return c

    yield make
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
def root(zk, request):
    path = "/matrix-py-%s-%s" % (request.node.name.replace("[", "-").replace("]", ""), uuid.uuid4().hex[:8])
    zk.ensure_path(path)
    yield path
    try:
        zk.delete(path, recursive=True)
    except Exception:
        pass
