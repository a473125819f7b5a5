"""ZooKeeper -> rzk -> ZooKeeper migration, end to end (tests/migrate/run.sh).

1. Apache ZooKeeper 3.8 (snapCount=1000, so many fuzzy snapshots and a log tail) gets a varied
   tree through kazoo: ~10k znodes, nested, sequential, ephemeral (a live session), TTL and
   container nodes, digest ACLs, data up to ~1 MB, several versions. Every znode's data, ACL
   and stat is recorded through the client; ZooKeeper is killed with SIGKILL.
2. `rzk-server import-zookeeper`, rzk started on the result (same port): every znode compared
   field by field; the live kazoo client reconnects by itself with its session and last zxid,
   and its ephemerals are still there; versions and sequence numbers continue.
3. Damaged input: a truncated snapshot and a log record with a flipped byte fail with the file
   and byte offset, leaving no output directory; a torn log tail imports.
4. gz and snappy snapshots (zookeeper.snapshot.compression.method) import.
5. `rzk-server export-zookeeper`, Apache ZooKeeper started on the export: tree compared again.
"""

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.protocol.states import KazooState  # noqa: E402
from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE  # noqa: E402

import kazoo_ext  # noqa: E402
from servers import ZkServer, four_letter, free_port, wait_ready, _die_with_parent  # noqa: E402

logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # reconnect attempts are expected here

RZK_BIN = os.environ.get("RZK_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "rzk-server"))
MAXBUF = "4194304"
JVM = "-Djute.maxbuffer=%s" % MAXBUF
USER, PASSWORD = "migrator", "secret"

passed, failed = 0, 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   - %s" % what)
    else:
        failed += 1
        print("FAIL - %s" % what)
    return cond


def client(hosts, timeout=30.0, auth=True):
    c = KazooClient(
        hosts=hosts,
        timeout=timeout,
        connection_retry=dict(max_tries=-1, delay=0.2, max_delay=1.0),
        command_retry=dict(max_tries=3, delay=0.2),
    )
    c.start(timeout=30)
    if auth:
        c.add_auth("digest", "%s:%s" % (USER, PASSWORD))
    return c


def zk_server(base=None, port=None, compression=None):
    os.environ["SERVER_JVMFLAGS"] = JVM + (
        " -Dzookeeper.snapshot.compression.method=%s" % compression if compression else ""
    )
    return ZkServer(impl="apache", base_dir=base, port=port, extra_cfg={"snapCount": "1000"})


def dump(c):
    """Every znode: path -> (data, acl list, stat tuple); /zookeeper/config excluded."""
    out = {}
    level = ["/"]
    while level:
        gets = [(p, c.get_async(p), c.get_acls_async(p), c.get_children_async(p)) for p in level]
        nxt = []
        for p, g, a, ch in gets:
            data, st = g.get(timeout=30)
            acl, _ = a.get(timeout=30)
            kids = ch.get(timeout=30)
            if p != "/zookeeper/config":
                out[p] = (
                    data,
                    sorted((x.perms, x.id.scheme, x.id.id) for x in acl),
                    (st.czxid, st.mzxid, st.pzxid, st.ctime, st.mtime, st.version, st.cversion,
                     st.aversion, st.ephemeralOwner, st.dataLength, st.numChildren),
                )
            for k in kids:
                nxt.append(("/" if p == "/" else p + "/") + k)
        level = nxt
    return out


def compare(want, got, what):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    diff = [p for p in want if p in got and want[p] != got[p]]
    for p in diff[:5]:
        print("   %s:\n     want %r\n     got  %r" % (p, want[p][1:], got[p][1:]))
    check(not missing and not extra and not diff,
          "%s: %d znodes compared field by field (missing %d %s, extra %d %s, different %d)"
          % (what, len(want), len(missing), missing[:3], len(extra), extra[:3], len(diff)))


def populate(c, n_plain=9000):
    digest = make_digest_acl(USER, PASSWORD, all=True)
    t0 = time.time()
    c.ensure_path("/app")
    futs = []
    # nested: /app/g<i>/n<j>/leaf
    for g in range(30):
        futs.append(c.create_async("/app/g%02d" % g, b"group %d" % g))
    [f.get() for f in futs]
    futs = []
    for i in range(n_plain):
        g = i % 30
        futs.append(c.create_async("/app/g%02d/n%05d" % (g, i), b"v0-%d" % i))
        if len(futs) >= 500:
            [f.get() for f in futs]
            futs = []
    [f.get() for f in futs]
    futs = []
    for i in range(0, n_plain, 10):
        futs.append(c.create_async("/app/g%02d/n%05d/leaf" % (i % 30, i), b"leaf"))
    [f.get() for f in futs]
    # several versions
    futs = []
    for i in range(0, n_plain, 3):
        p = "/app/g%02d/n%05d" % (i % 30, i)
        for v in range(1 + i % 4):
            futs.append(c.set_async(p, b"v%d-%d" % (v + 1, i)))
        if len(futs) >= 500:
            [f.get() for f in futs]
            futs = []
    [f.get() for f in futs]
    # sequential (persistent), some deleted so counters differ from child counts
    c.create("/seq", b"")
    seq = [c.create("/seq/item-", b"s", sequence=True) for _ in range(120)]
    for p in seq[::7]:
        c.delete(p)
    # digest ACLs: fully private, and world-readable but digest-writable
    c.create("/secure", b"top secret", acl=[digest])
    for i in range(50):
        c.create("/secure/s%02d" % i, b"private %d" % i, acl=[digest])
    c.create("/mixed", b"readable", acl=[digest, READ_ACL_UNSAFE[0]])
    c.set_acls("/mixed", [digest, READ_ACL_UNSAFE[0]])
    c.set_acls("/mixed", [digest, READ_ACL_UNSAFE[0]])
    # containers and TTL nodes
    kazoo_ext.create_container(c, "/box")
    for i in range(5):
        c.create("/box/item%d" % i, b"in box")
    c.delete("/box/item0")
    c.create("/ttl", b"")
    for i in range(5):
        kazoo_ext.create_ttl(c, "/ttl/t%d" % i, 3_600_000, b"ttl node")
    kazoo_ext.create_ttl(c, "/ttl/seq-", 3_600_000, b"ttl seq", sequential=True)
    # large data
    c.create("/big", b"")
    c.create("/big/one-mb", b"x" * 1_000_000)
    c.create("/big/half", bytes(range(256)) * 2048)
    c.set("/big/half", bytes(reversed(range(256))) * 2048)
    # null-ish and empty data, multi
    c.create("/empty")
    tx = c.transaction()
    tx.create("/multi", b"m")
    tx.create("/multi/a", b"a")
    tx.set_data("/empty", b"now set")
    tx.commit()
    tx = c.transaction()  # a failing multi: nothing changes
    tx.create("/multi/b", b"b")
    tx.create("/multi/a", b"dup")
    tx.commit()
    # a tail of small writes after the last snapshot
    for i in range(600):
        c.set("/app/g00/n%05d" % ((i * 30) % n_plain), b"tail %d" % i)
    print("populated in %.1fs" % (time.time() - t0))


def run_import(zk_data, out, cfg=None):
    cmd = [RZK_BIN, "import-zookeeper", zk_data, out] + (["--config", cfg] if cfg else [])
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return r, time.time() - t0


def leftovers(parent, name):
    return [f for f in os.listdir(parent) if f.startswith(".%s.import-" % name)]


def damaged_inputs(zk_data, work):
    v2 = os.path.join(zk_data, "version-2")
    snaps = sorted((int(f.split(".")[1], 16), f) for f in os.listdir(v2) if f.startswith("snapshot."))
    logs = sorted((int(f.split(".")[1], 16), f) for f in os.listdir(v2) if f.startswith("log."))
    newest_snap = snaps[-1][1]
    last_log = logs[-1][1]

    def variant(name, mutate):
        d = os.path.join(work, name, "zk")
        shutil.copytree(zk_data, d)
        mutate(os.path.join(d, "version-2"))
        out = os.path.join(work, name, "rzk")
        r, _ = run_import(d, out)
        return r, out

    def truncate_snapshot(v):
        p = os.path.join(v, newest_snap)
        size = os.path.getsize(p)
        with open(p, "r+b") as f:
            f.truncate(size // 2)

    r, out = variant("trunc-snap", truncate_snapshot)
    check(r.returncode != 0 and newest_snap in r.stderr and "at byte" in r.stderr,
          "truncated snapshot refused with file and offset: %s" % r.stderr.strip()[:200])
    check(not os.path.exists(out) and not leftovers(os.path.dirname(out), "rzk"),
          "truncated snapshot: no output directory left behind")

    def flip_log_byte(v):
        p = os.path.join(v, last_log)
        with open(p, "r+b") as f:
            f.seek(16 + 40)  # inside the first record's transaction
            b = f.read(1)
            f.seek(16 + 40)
            f.write(bytes([b[0] ^ 0xFF]))

    # The damaged record must lie after the snapshot to matter; the first record of the last log
    # file does when the log starts after the newest snapshot, which is checked here.
    r, out = variant("crc-log", flip_log_byte)
    check(r.returncode != 0 and last_log in r.stderr and "at byte 16" in r.stderr,
          "log record with a flipped byte refused with file and offset: %s" % r.stderr.strip()[:200])
    check(not os.path.exists(out), "damaged log: no output directory left behind")

    def tear_log(v):
        p = os.path.join(v, last_log)
        data = open(p, "rb").read()
        # cut inside the last non-zero record: find the end of the data, keep a partial record
        end = len(data.rstrip(b"\0"))
        with open(p, "r+b") as f:
            f.truncate(max(16, end - 7))

    r, out = variant("torn-log", tear_log)
    check(r.returncode == 0 and "partial record" in r.stdout,
          "torn log tail imports (replay stops there): %s" % (r.stdout + r.stderr).strip()[-200:])

    r, out = run_import(zk_data, os.path.join(work, "trunc-snap", "zk"))
    check(r.returncode != 0 and "not empty" in r.stderr, "non-empty target refused")


def ensemble(zk_data, want, work, live_timeout_ms):
    """One import with a 3-server zoo.cfg, copied to three members (each its own myid)."""
    peers = [(free_port(), free_port(), free_port()) for _ in range(3)]
    servers = "".join("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n" % (i + 1, q, e, c)
                      for i, (c, q, e) in enumerate(peers))
    cfgs = []
    for i in range(3):
        d = os.path.join(work, "m%d" % (i + 1))
        os.makedirs(d)
        cfg = os.path.join(d, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\n" % os.path.join(d, "data"))
            f.write("clientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n" % peers[i][0])
            f.write("admin.enableServer=false\njute.maxbuffer=%s\nmaxSessionTimeout=60000\n%s" % (MAXBUF, servers))
        cfgs.append((d, cfg))
    imported = os.path.join(work, "imported")
    r, secs = run_import(zk_data, imported, cfgs[0][1])
    check(r.returncode == 0 and "members [1, 2, 3]" in r.stdout,
          "import with a 3-server zoo.cfg: %s" % (r.stdout + r.stderr).strip()[-160:])
    procs = []
    try:
        for i, (d, cfg) in enumerate(cfgs):
            shutil.copytree(imported, os.path.join(d, "data"))
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write("%d\n" % (i + 1))
            out = open(os.path.join(d, "out.log"), "wb")
            procs.append(subprocess.Popen([RZK_BIN, "start-foreground", cfg], stdout=out,
                                          stderr=subprocess.STDOUT, preexec_fn=_die_with_parent))
        for c, _, _ in peers:
            wait_ready("127.0.0.1", c, timeout=60)
        t0 = time.time()
        c = client(",".join("127.0.0.1:%d" % p[0] for p in peers[1:2]))
        compare(want, dump(c), "ZooKeeper -> 3-member rzk ensemble (read on member 2)")
        st = c.set("/app/g00/n00030", b"ensemble write")
        check(st.version == want["/app/g00/n00030"][2][5] + 1, "the ensemble takes writes (version %d)" % st.version)
        # Nobody resumes the live session here: it expires after its timeout (30 s, counted from
        # the leader's start) and its ephemerals go, as they would have on ZooKeeper.
        timeout_s = live_timeout_ms / 1000.0
        while time.time() - t0 < timeout_s + 30 and c.exists("/app/live-eph") is not None:
            time.sleep(0.5)
        gone_after = time.time() - t0
        check(c.exists("/app/live-eph") is None and timeout_s - 5 <= gone_after <= timeout_s + 30,
              "the imported session expired on the ensemble after %.1fs (timeout %.0fs), its ephemeral with it"
              % (gone_after, timeout_s))
        c.stop()
        c.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def from_apache_ensemble(work):
    """An Apache ZooKeeper 3-member ensemble (zxids of epoch >= 2 after a leader change): one
    member's dataDir imported; a client connected to that member reconnects to rzk started on
    its address, with a last zxid of epoch >= 2."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "matrix"))
    from ensemble import Ensemble

    ens = Ensemble("apache", os.path.join(work, "zk-ens"), extra_cfg=["snapCount=200"])
    ens.start()
    try:
        host1 = "%s:%d" % (ens.hosts[0], ens.client_port)
        c = client(ens.connect, auth=False)
        c.create("/e", b"ensemble")
        for i in range(300):
            c.create("/e/n%03d" % i, b"%d" % i)
        leader = [i for i, m in enumerate(ens.modes(), 1) if m == "leader"][0]
        ens.stop_member(leader)  # a new epoch
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                c.set("/e", b"after election")
                break
            except Exception:
                time.sleep(0.5)
        ens.start_member(leader)
        ens.wait_ready(90)
        for i in range(300, 500):
            c.create("/e/n%03d" % i, b"%d" % i)
        live = client(host1, auth=False)
        live.create("/e/live", b"", ephemeral=True)
        live.sync("/e")
        live.get("/e")
        want = dump(c)
        zk_last = max(st[1] for _, _, st in want.values())
        check(zk_last >> 32 >= 2, "Apache ensemble zxids reached epoch %d (last 0x%x)" % (zk_last >> 32, zk_last))
        c.stop()
        c.close()
    finally:
        ens.stop()
    rz = ZkServer(impl="rzk", host=ens.hosts[0], port=ens.client_port,
                  base_dir=os.path.join(work, "rzk-from-ens"), extra_cfg={"jute.maxbuffer": MAXBUF})
    rz.write_cfg()
    r, secs = run_import(os.path.join(ens.member_dir(1), "data"), rz.data_dir, rz.cfg_path)
    check(r.returncode == 0 and "tree digest matches" in r.stdout,
          "import of an ensemble member's dataDir: %s" % (r.stdout + r.stderr).strip()[-200:])
    rz.start()
    try:
        deadline = time.time() + 30
        while time.time() < deadline and live.state != KazooState.CONNECTED:
            time.sleep(0.2)
        check(live.state == KazooState.CONNECTED and live.exists("/e/live") is not None,
              "a client that last saw zxid of epoch %d reconnected to rzk with its session" % (zk_last >> 32))
        c = client(rz.hosts, auth=False)
        got = dump(c)
        # Member 1's dataDir holds what member 1 had logged: the whole tree (it was in sync).
        compare(want, got, "Apache ensemble -> rzk")
        st = c.set("/e", b"on rzk")
        check(st.mzxid > zk_last, "rzk zxid 0x%x above ZooKeeper's 0x%x" % (st.mzxid, zk_last))
        c.stop()
        c.close()
    finally:
        live.stop()
        live.close()
        rz.stop()


def compressed(work, method):
    base = os.path.join(work, "zk-" + method)
    zk = zk_server(base=base, compression=method)
    zk.start()
    c = client(zk.hosts, auth=False)
    c.create("/c", b"compressed " + method.encode())
    for i in range(1500):  # more than snapCount: snapshots in the compressed format
        c.create("/c/n%04d" % i, b"%d" % i)
    want = dump(c)
    c.stop()
    c.close()
    zk.kill9()
    names = os.listdir(os.path.join(zk.data_dir, "version-2"))
    suffix = ".gz" if method == "gz" else ".snappy"
    check(any(n.endswith(suffix) for n in names), "%s: ZooKeeper wrote %s snapshots" % (method, suffix))
    rz = ZkServer(impl="rzk", base_dir=os.path.join(work, "rzk-" + method), extra_cfg={"jute.maxbuffer": MAXBUF})
    rz.write_cfg()
    r, secs = run_import(zk.data_dir, rz.data_dir, rz.cfg_path)
    check(r.returncode == 0, "%s import: %s" % (method, (r.stdout + r.stderr).strip()[:300]))
    rz.start()
    c = client(rz.hosts, auth=False)
    compare(want, dump(c), "%s snapshot imported" % method)
    c.stop()
    c.close()
    rz.stop()


def main():
    work = tempfile.mkdtemp(prefix="rzk-migrate-")
    print("work dir", work)
    zk = zk_server(base=os.path.join(work, "zk"))
    zk.start()
    c = client(zk.hosts)
    populate(c)
    # A session that stays alive through the migration, with ephemerals.
    live = client(zk.hosts, timeout=30.0)
    live.add_auth("digest", "%s:%s" % (USER, PASSWORD))
    live.create("/app/live-eph", b"mine", ephemeral=True)
    live.create("/seq/eph-", b"e", ephemeral=True, sequence=True)
    live_id, live_pw = live.client_id
    live_timeout = live._session_timeout
    live_zxid = live._connection.zxid if hasattr(live._connection, "zxid") else None
    live.get("/app")  # the session has seen a recent zxid
    # An ended session's ephemeral is gone.
    gone = client(zk.hosts)
    gone.create("/app/gone-eph", b"", ephemeral=True)
    gone.stop()
    gone.close()
    want = dump(c)
    zk_last = max(st[1] for _, _, st in want.values())
    print("recorded %d znodes from ZooKeeper, last mzxid 0x%x" % (len(want), zk_last))
    c.stop()
    c.close()
    time.sleep(1)  # let a background snapshot that started finish writing (a torn one is refused)
    zk.kill9()

    v2 = os.path.join(zk.data_dir, "version-2")
    snaps = [f for f in os.listdir(v2) if f.startswith("snapshot.")]
    logs = [f for f in os.listdir(v2) if f.startswith("log.")]
    check(len(snaps) > 5, "ZooKeeper wrote %d snapshots and %d logs" % (len(snaps), len(logs)))

    rz = ZkServer(impl="rzk", port=zk.port, base_dir=os.path.join(work, "rzk"),
                  extra_cfg={"jute.maxbuffer": MAXBUF})
    rz.write_cfg()
    r, secs = run_import(zk.data_dir, rz.data_dir, rz.cfg_path)
    print(r.stdout.strip())
    if not check(r.returncode == 0, "import-zookeeper succeeded in %.2fs" % secs):
        print(r.stderr)
        return
    replayed = int(r.stdout.split(" txns replayed")[0].rsplit("(", 1)[1])
    check(replayed > 0, "%d transactions replayed from the log tail after the newest snapshot" % replayed)
    check("tree digest matches ZooKeeper's" in r.stdout, "replayed tree has the digest ZooKeeper logged")
    rz.start()

    # The live client reconnects on its own (same host:port) with its session id and password.
    deadline = time.time() + 30
    while time.time() < deadline and live.state != KazooState.CONNECTED:
        time.sleep(0.2)
    check(live.state == KazooState.CONNECTED and live.client_id[0] == live_id,
          "live ZooKeeper session 0x%x reconnected to rzk with its session (state %s)" % (live_id, live.state))
    check(live.exists("/app/live-eph") is not None and live.exists("/app/live-eph").ephemeralOwner == live_id,
          "its ephemeral is still there, owned by it")
    c = client(rz.hosts)
    got = dump(c)
    compare(want, got, "ZooKeeper -> rzk")
    check("/app/gone-eph" not in got, "the closed session's ephemeral is gone")

    # Versions, sequence counters and zxids continue.
    st = c.set("/app/g00/n00000", b"after migration")
    check(st.version == want["/app/g00/n00000"][2][5] + 1 and st.mzxid > zk_last,
          "setData on rzk: version %d, mzxid 0x%x > ZooKeeper's 0x%x" % (st.version, st.mzxid, zk_last))
    p = c.create("/seq/item-", b"s", sequence=True)
    last_seq = max(int(k.rsplit("-", 1)[1]) for k in want if k.startswith("/seq/") and "-" in k)
    check(int(p.rsplit("-", 1)[1]) == last_seq + 1,
          "sequential counter continues: %s after ...%010d" % (p, last_seq))
    kazoo_ext.create_ttl(c, "/ttl/after", 3_600_000, b"new ttl")
    after = dump(c)
    c.stop()
    c.close()
    # rzk restarts from the imported snapshot plus its own log.
    rz.restart()
    c = client(rz.hosts)
    compare(after, dump(c), "rzk restarted after the import")
    c.stop()
    c.close()
    rz.stop()

    damaged_inputs(zk.data_dir, os.path.join(work, "damaged"))
    ensemble(zk.data_dir, want, os.path.join(work, "ensemble"), live_timeout)
    from_apache_ensemble(work)
    for method in ("gz", "snappy"):
        compressed(work, method)

    # Export: rzk -> ZooKeeper.
    back = zk_server(base=os.path.join(work, "zk-back"))
    t0 = time.time()
    r = subprocess.run([RZK_BIN, "export-zookeeper", rz.data_dir, back.data_dir],
                       capture_output=True, text=True, timeout=300)
    print(r.stdout.strip())
    check(r.returncode == 0, "export-zookeeper succeeded in %.2fs %s" % (time.time() - t0, r.stderr.strip()[:300]))
    # ZooKeeper's own FileSnap reads the export; its tree digest is the one export wrote.
    j = subprocess.run(["java", "-cp", "/usr/share/java/zookeeper.jar:/usr/share/java/*",
                        os.path.join(os.path.dirname(__file__), "SnapshotDigest.java"),
                        os.path.join(back.data_dir, "version-2")], capture_output=True, text=True, timeout=120)
    wrote = r.stdout.split("digest ")[1].split(")")[0]
    check(("digest=%s " % wrote) in j.stdout,
          "ZooKeeper's FileSnap loads the export with the digest export wrote (%s): %s" % (wrote, j.stdout.strip()))
    back.start()
    c = client(back.hosts)
    compare(after, dump(c), "rzk -> ZooKeeper (export)")
    mntr = four_letter(back.host, back.port, "mntr")
    check("zk_digest_mismatches_count\t0" in mntr, "ZooKeeper counts no digest mismatch")
    c.stop()
    c.close()
    live.stop()
    live.close()
    back.stop()
    if not os.environ.get("ZK_KEEP_DIRS"):
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)
