"""Regenerates server/zkfiles/tests/fixtures/zk38: a small data dir written by Apache ZooKeeper 3.8
(a snapshot taken at a restart, then a log tail with every transaction type kazoo can send),
the preallocated zeros of the logs trimmed. Also writes expected.txt: path, data length,
version, cversion (client view), aversion, ephemeral flag for every znode, read through kazoo.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import make_digest_acl  # noqa: E402

import kazoo_ext  # noqa: E402
from servers import ZkServer  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "server", "zkfiles", "tests", "fixtures", "zk38")


def walk(c, p="/"):
    yield p
    for k in sorted(c.get_children(p)):
        yield from walk(c, ("/" if p == "/" else p + "/") + k)


def main():
    zk = ZkServer(impl="apache")
    zk.start()
    c = KazooClient(hosts=zk.hosts)
    c.start()
    c.create("/a", b"first")
    for i in range(5):
        c.create("/a/s-", b"%d" % i, sequence=True)
    c.set("/a", b"second")
    c.create("/acl", b"private", acl=[make_digest_acl("u", "p", all=True)])
    c.stop()
    zk.kill9()
    zk.start()  # ZooKeeper snapshots what it loaded
    c = KazooClient(hosts=zk.hosts, timeout=30)
    c.start()
    c.add_auth("digest", "u:p")
    c.delete("/a/s-0000000001")
    c.set("/a", b"third")
    c.set_acls("/acl", [make_digest_acl("u", "p", all=True)])
    kazoo_ext.create_container(c, "/box")
    c.create("/box/x", b"")
    kazoo_ext.create_ttl(c, "/ttl", 600000, b"t")
    tx = c.transaction()
    tx.create("/m", b"m")
    tx.check("/a", 2)
    tx.set_data("/m", b"m2")
    tx.commit()
    tx = c.transaction()
    tx.create("/m2", b"")
    tx.delete("/nope")
    tx.commit()
    other = KazooClient(hosts=zk.hosts)
    other.start()
    other.create("/gone", b"", ephemeral=True)
    other.stop()
    c.create("/live", b"", ephemeral=True)
    c.create2("/c2", b"create2") if hasattr(c, "create2") else c.create("/c2", b"create2", include_data=True)
    rows = []
    for p in walk(c):
        if p == "/zookeeper/config":
            continue
        data, st = c.get(p)
        rows.append("%s %d %d %d %d %d %d %d" % (p, len(data), st.version, st.cversion, st.aversion,
                                                 1 if st.ephemeralOwner else 0, st.czxid, st.mzxid))
    zk.kill9()
    v2 = os.path.join(zk.data_dir, "version-2")
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "version-2"))
    snaps = sorted((int(f.split(".")[1], 16), f) for f in os.listdir(v2) if f.startswith("snapshot."))
    newest = snaps[-1][0]
    shutil.copy(os.path.join(v2, snaps[-1][1]), os.path.join(OUT, "version-2"))
    for f in os.listdir(v2):
        if f.startswith("log.") and int(f.split(".")[1], 16) >= 0:
            data = open(os.path.join(v2, f), "rb").read().rstrip(b"\0")
            open(os.path.join(OUT, "version-2", f), "wb").write(data)
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("# path data_len version cversion aversion ephemeral czxid mzxid (kazoo, ZooKeeper 3.8)\n")
        f.write("# snapshot zxid %d\n" % newest)
        f.write("\n".join(rows) + "\n")
    zk.cleanup()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
