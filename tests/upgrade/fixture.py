"""Golden data directories: written by one rzk release, opened by every later one.

    fixture.py make  RZK_BIN OUT_DIR    # start RZK_BIN, write a varied tree, record it, kill -9
    fixture.py check RZK_BIN FIXTURE    # start RZK_BIN on a copy of FIXTURE/data, compare the tree

`make` runs a single-node server with small snapshot intervals (so the data dir holds snapshots
AND a log tail after the newest one), writes persistent, sequential, ephemeral, container and
TTL nodes, digest ACLs, several versions and data up to 100 KB with kazoo, records every znode's
data, ACL and full stat in OUT_DIR/expected.json, and kills the server with SIGKILL (the last
writes live only in the log). `check` compares the tree a later build serves from a copy of
that data dir with expected.json, field by field, and that writes continue above the old zxids.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import make_digest_acl  # noqa: E402
from kazoo_ext import create_container, create_ttl  # noqa: E402
from zkwire import free_port  # noqa: E402

STAT_FIELDS = ["czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid"]


def start(binary, data_dir, port, log_path):
    cfg = os.path.join(os.path.dirname(data_dir), "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("\n".join([
            "tickTime=500", "dataDir=%s" % data_dir, "clientPort=%d" % port,
            "clientPortAddress=127.0.0.1", "admin.enableServer=false", "metricsProvider.httpPort=%d" % free_port(),
            "4lw.commands.whitelist=*", "maxSessionTimeout=120000", "extendedTypesEnabled=true",
            "rzk.snapshotEveryEntries=100", "autopurge.purgeInterval=0",
        ]) + "\n")
    log = open(log_path, "ab")
    p = subprocess.Popen([binary, "start-foreground", cfg], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError("server exited with %s; log %s" % (p.returncode, log_path))
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as s:
                s.sendall(b"srvr")
                if b"Mode:" in s.recv(4096):
                    return p
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not serve within 30 s; log %s" % log_path)


def dump(zk, path="/", out=None):
    out = {} if out is None else out
    data, stat = zk.get(path)
    acls, _ = zk.get_acls(path)
    out[path] = {
        "data": base64.b64encode(data or b"").decode(),
        "acl": sorted([a.perms, a.id.scheme, a.id.id] for a in acls),
        "stat": {k: getattr(stat, k) for k in STAT_FIELDS},
    }
    for c in sorted(zk.get_children(path)):
        dump(zk, (path.rstrip("/") + "/" + c), out)
    return out


def make(binary, out_dir):
    work = tempfile.mkdtemp(prefix="rzk-fixture-")
    data_dir = os.path.join(work, "data")
    port = free_port()
    p = start(binary, data_dir, port, os.path.join(work, "server.log"))
    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=60)
    zk.start(20)
    owner = KazooClient(hosts="127.0.0.1:%d" % port, timeout=60,
                        auth_data=[("digest", "alice:secret")])
    owner.start(20)
    zk.create("/app", b"root of the app")
    for i in range(40):
        zk.create("/app/n%03d" % i, ("value %d" % i).encode())
    for v in range(5):
        zk.set("/app/n000", ("version %d" % v).encode())
    zk.create("/app/big", b"x" * 100_000)
    zk.create("/app/deep/er/and/deeper", b"nested", makepath=True)
    seqs = [zk.create("/app/seq-", b"s", sequence=True) for _ in range(7)]
    zk.delete(seqs[3])
    zk.create("/app/eph", b"held by a live session", ephemeral=True)
    create_container(zk, "/app/container")
    zk.create("/app/container/child", b"keeps the container")
    create_ttl(zk, "/app/ttl", 3_600_000, b"ttl node")
    owner.create("/app/secret", b"only alice", acl=[make_digest_acl("alice", "secret", all=True)])
    zk.set_acls("/app/n001", [make_digest_acl("bob", "pw", read=True, write=True),
                             make_digest_acl("alice", "secret", read=True)])
    zk.create("/empty", None)
    with zk.transaction() as t:
        t.create("/app/multi-a", b"a")
        t.create("/app/multi-b", b"b")
        t.set_data("/app/n002", b"set in a multi")
    for i in range(230):  # past two snapshot intervals (100 entries, the knob's minimum)
        zk.set("/app/n020", ("churn %d" % i).encode())
    # A tail after the newest snapshot.
    for i in range(15):
        zk.set("/app/n010", ("tail %d" % i).encode())
    expected = dump(owner)
    _, st = zk.get("/app/n010")
    last_zxid = st.mzxid
    session = zk.client_id[0]
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    os.makedirs(out_dir, exist_ok=True)
    shutil.rmtree(os.path.join(out_dir, "data"), ignore_errors=True)
    shutil.copytree(data_dir, os.path.join(out_dir, "data"))
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump({"last_zxid": last_zxid, "ephemeral_session": session,
                   "tree": expected}, f, indent=1, sort_keys=True)
    for c in (zk, owner):
        c.stop()
    shutil.rmtree(work, ignore_errors=True)
    print("fixture written to %s (%d znodes, last zxid %#x)" % (out_dir, len(expected), last_zxid))


def check(binary, fixture):
    with open(os.path.join(fixture, "expected.json")) as f:
        want = json.load(f)
    work = tempfile.mkdtemp(prefix="rzk-fixture-check-")
    data_dir = os.path.join(work, "data")
    shutil.copytree(os.path.join(fixture, "data"), data_dir)
    port = free_port()
    log_path = os.path.join(work, "server.log")
    p = start(binary, data_dir, port, log_path)
    ok = True
    try:
        zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=60, auth_data=[("digest", "alice:secret")])
        zk.start(20)
        got = dump(zk)
        for path in sorted(set(want["tree"]) | set(got)):
            if path == "/zookeeper/config":
                continue  # rewritten from the zoo.cfg on start
            w, g = want["tree"].get(path), got.get(path)
            if w != g:
                ok = False
                print("MISMATCH %s:\n  want %s\n  got  %s" % (path, w, g))
        # Writes continue above every zxid of the old release.
        st = zk.set("/app/n010", b"after upgrade")
        if st.mzxid <= want["last_zxid"]:
            ok = False
            print("MISMATCH new zxid %#x not above the fixture's last %#x" % (st.mzxid, want["last_zxid"]))
        zk.stop()
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(15)
    if ok:
        # And the data dir, now written by this build too, opens again.
        p = start(binary, data_dir, port, log_path)
        zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=60)
        zk.start(20)
        if zk.get("/app/n010")[0] != b"after upgrade":
            ok = False
            print("MISMATCH the write made after opening the fixture is gone after a restart")
        zk.stop()
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    if not ok:
        with open(log_path, "rb") as f:
            sys.stdout.write(f.read()[-4000:].decode(errors="replace"))
        print("FAIL fixture %s with %s (work dir %s)" % (fixture, binary, work))
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("ok   fixture %s opens with %s: %d znodes identical" % (fixture, binary, len(want["tree"])))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    sys.exit(make(sys.argv[2], sys.argv[3]) if sys.argv[1] == "make" else check(sys.argv[2], sys.argv[3]))
