"""Informational probe (not pass/fail): how often a read on one member, issued right after another
client's write through a different member returned, does not see that write yet.

ZooKeeper does not promise cross-client read-your-writes without sync(); this measures how wide the
window is in practice, to explain flakiness of code that relies on it.

    python visibility_probe.py host:port,host:port,host:port   -> one JSON object on stdout
"""
import json
import socket
import sys
import time
import uuid

from kazoo.client import KazooClient

ROUNDS = 60


def mode(hostport):
    host, port = hostport.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.sendall(b"srvr")
        out = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return "?"


def main():
    hosts = sys.argv[1].split(",")
    modes = {h: mode(h) for h in hosts}
    leader = [h for h in hosts if modes[h] == "leader"]
    followers = [h for h in hosts if modes[h] == "follower"]
    result = {}
    if not leader or not followers:
        print(json.dumps({"error": "modes %r" % modes}))
        return 0
    clients = {h: KazooClient(hosts=h, timeout=15.0) for h in hosts}
    for c in clients.values():
        c.start(timeout=30)
    root = "/matrix-probe-" + uuid.uuid4().hex[:8]
    clients[leader[0]].ensure_path(root)
    pairs = {"writer on leader, reader on follower": (leader[0], followers[0]),
             "writer on follower, reader on other follower": (followers[0], followers[-1])}
    for name, (w, r) in pairs.items():
        wc, rc = clients[w], clients[r]
        misses, lags = 0, []
        for i in range(ROUNDS):
            p = "%s/%s-%d" % (root, "lf" if w in leader else "ff", i)
            wc.create(p)
            if rc.exists(p) is None:
                misses += 1
                t = time.monotonic()
                while rc.exists(p) is None and time.monotonic() - t < 10:
                    time.sleep(0.0005)
                lags.append((time.monotonic() - t) * 1000.0)
        result[name] = {"rounds": ROUNDS, "stale_reads": misses,
                        "max_lag_ms": round(max(lags), 1) if lags else 0.0}
    clients[leader[0]].delete(root, recursive=True)
    for c in clients.values():
        c.stop()
        c.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
