"""Back-pressure (globalOutstandingLimit): with a tiny limit a client that pipelines hundreds of
requests still gets every answer, in order, and nothing is lost; rzk counts the waits
(mntr zk_request_throttle_wait_count). Same scenario against Apache ZooKeeper."""

import os

import pytest
from kazoo.client import KazooClient

import servers

pytestmark = pytest.mark.skipif(bool(os.environ.get("ZK_CONNECT")),
                                reason="starts its own server with globalOutstandingLimit=4")


@pytest.fixture
def limited():
    srv = servers.ZkServer(extra_cfg={"globalOutstandingLimit": "4", "zookeeper.globalOutstandingLimit": "4"})
    srv.start()
    yield srv
    srv.cleanup()


def test_pipelined_requests_all_answered_under_a_small_limit(limited):
    clients = [KazooClient(hosts=limited.hosts, timeout=15.0) for _ in range(3)]
    for c in clients:
        c.start(timeout=15)
    try:
        clients[0].ensure_path("/t")
        pending = []
        for n, c in enumerate(clients):
            for i in range(200):
                pending.append((n, i, c.create_async("/t/c%d-%03d" % (n, i), b"%d" % i)))
        for n, i, a in pending:
            assert a.get(timeout=60) == "/t/c%d-%03d" % (n, i)
        reads = [(i, clients[1].get_async("/t/c0-%03d" % i)) for i in range(200)]
        for i, a in reads:
            assert a.get(timeout=60)[0] == b"%d" % i
        assert len(clients[2].get_children("/t")) == 600
        if limited.impl == "rzk":
            mntr = servers.four_letter(limited.host, limited.port, "mntr")
            waits = [int(l.split("\t")[1]) for l in mntr.splitlines()
                     if l.startswith("zk_request_throttle_wait_count\t")]
            assert waits and waits[0] > 0, mntr
    finally:
        for c in clients:
            c.stop()
            c.close()
