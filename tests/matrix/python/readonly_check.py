"""Read-only mode after quorum loss (readonlymode.enabled=true on both servers), with kazoo.

    python readonly_check.py prepare host:port   # before: write a node through that member
    python readonly_check.py check host:port     # after the other two members were stopped

Apache ZooKeeper: a member that loses its quorum serves clients that asked for read-only mode
(canBeReadOnly): reads work, writes fail with NotReadOnlyCall. Prints RESULT lines.
"""
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.protocol.states import KeeperState

PATH = "/matrix-readonly"


def main():
    what, host = sys.argv[1], sys.argv[2]
    if what == "prepare":
        c = KazooClient(hosts=host, timeout=15.0)
        c.start(timeout=30)
        c.ensure_path(PATH)
        c.set(PATH, b"before quorum loss")
        c.sync(PATH)
        c.stop()
        c.close()
        return 0
    c = KazooClient(hosts=host, timeout=10.0, read_only=True, connection_retry={"max_tries": -1, "max_delay": 1})
    ro = threading.Event()

    def listen(state):
        if c.client_state == KeeperState.CONNECTED_RO:
            ro.set()

    c.add_listener(listen)
    ok, why = False, ""
    try:
        c.start_async()
        if not ro.wait(45):
            why = "no read-only session within 45 s after quorum loss (client state %s)" % c.client_state
        else:
            data, _ = c.get(PATH)
            if data != b"before quorum loss":
                why = "read %r" % data
            else:
                try:
                    c.create(PATH + "/x")
                    why = "write accepted in read-only mode"
                except NotReadOnlyCallError:
                    ok = True
    except Exception as e:
        why = "%s: %s" % (type(e).__name__, e)
    finally:
        try:
            c.stop()
            c.close()
        except Exception:
            pass
    print("RESULT read_only_mode %s %s" % ("PASS" if ok else "FAIL", why), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
