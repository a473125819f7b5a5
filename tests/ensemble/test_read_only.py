"""Read-only mode (readonlymode.enabled=true): a member cut off from its quorum serves clients that
allow read-only sessions (reads from its last state, writes get NotReadOnly, isro says ro, srvr
says read-only), refuses the others, and once the quorum is back closes the read-only sessions so
that the clients come back read-write. The same client behaviour against Apache ZooKeeper is in
the client matrix (tests/matrix, readonly job: kazoo and the Java client)."""

import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.protocol.states import KeeperState

from ens_util import wait_until


def test_read_only_mode_and_back(make_ensemble):
    ens = make_ensemble(3, extra_cfg={"readonlymode.enabled": "true"})
    ens.wait_healthy()
    c = ens.client(1)
    c.ensure_path("/ro")
    c.set("/ro", b"before")
    c.sync("/ro")
    c.stop()
    assert ens.members[1].four("isro").strip() == "rw"

    ens.stop_member(2)
    ens.stop_member(3)
    ro = KazooClient(hosts=ens.members[1].hosts, timeout=10.0, read_only=True,
                     connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 1})
    ens.clients.append(ro)
    states = []
    got_ro, got_rw = threading.Event(), threading.Event()

    def listen(_state):
        states.append(ro.client_state)
        if ro.client_state == KeeperState.CONNECTED_RO:
            got_ro.set()
        elif ro.client_state == KeeperState.CONNECTED and got_ro.is_set():
            got_rw.set()

    ro.add_listener(listen)
    ro.start_async()
    assert got_ro.wait(45), "no read-only session within 45 s (states %s)" % states
    assert ro.get("/ro")[0] == b"before"
    with pytest.raises(NotReadOnlyCallError):
        ro.create("/ro/x")
    with pytest.raises(NotReadOnlyCallError):
        ro.set("/ro", b"during")
    assert ens.members[1].four("isro").strip() == "ro"
    assert ens.members[1].srvr()["mode"] == "read-only"

    # a client that does not allow read-only sessions gets none
    rw = KazooClient(hosts=ens.members[1].hosts, timeout=10.0)
    ens.clients.append(rw)
    with pytest.raises(Exception):
        rw.start(timeout=6)
    rw.stop()

    ens.start_member(2)
    ens.start_member(3)
    assert got_rw.wait(60), "the read-only session did not come back read-write (states %s)" % states
    wait_until(lambda: ens.members[1].four("isro").strip() == "rw", 30, "isro rw again")
    deadline = time.time() + 30
    while True:
        try:
            ro.set("/ro", b"after")
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
    assert ro.get("/ro")[0] == b"after"


def test_isro_null_without_read_only_mode(make_ensemble):
    """Without readonlymode.enabled a member that lost its quorum runs no server: isro says null
    (as ZooKeeper's), and no client gets a session."""
    ens = make_ensemble(3)
    ens.wait_healthy()
    ens.stop_member(2)
    ens.stop_member(3)
    wait_until(lambda: ens.members[1].four("isro").strip() == "null", 30, "isro null")
