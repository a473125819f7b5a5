"""Apache ZooKeeper's own Java CLI (zkCli.sh, Debian zookeeper-bin) against the server under test.

Each test works under its own root (created by the `root` fixture). zkCli prints results on stdout
and most messages ("Created /x", errors) on stderr; it exits 1 after a failed command in
one-command mode. In script mode (commands on stdin, one session) outputs are split per command.
"""

import re
import time

import pytest
from kazoo.security import make_digest_acl_credential

import zkcli
from compat_util import wait_until

pytestmark = pytest.mark.skipif(not __import__("os").path.exists(zkcli.ZKCLI),
                                reason="zkCli.sh not installed (tests/install-deps.sh)")

REAP_TIMEOUT = 15.0


def run(zk_server, *args):
    return zkcli.run(zk_server, *args)


def test_create_get_set_stat(zk_server, root):
    p = root + "/n"
    r = run(zk_server, "create", p, "hello")
    assert r.rc == 0 and "Created " + p in r.lines, r
    r = run(zk_server, "get", p)
    assert r.rc == 0 and r.out == ["hello"], r
    r = run(zk_server, "stat", p)
    st = zkcli.parse_stat(r.out)
    assert set(zkcli.STAT_KEYS) <= set(st), r
    assert st["cZxid"] == st["mZxid"] == st["pZxid"] > 0
    assert st["dataVersion"] == 0 and st["cversion"] == 0 and st["aclVersion"] == 0
    assert st["ephemeralOwner"] == 0 and st["dataLength"] == 5 and st["numChildren"] == 0
    r = run(zk_server, "set", "-s", p, "world!")
    st2 = zkcli.parse_stat(r.out)
    assert r.rc == 0 and st2["dataVersion"] == 1 and st2["mZxid"] > st["mZxid"]
    assert st2["cZxid"] == st["cZxid"] and st2["dataLength"] == 6
    r = run(zk_server, "get", "-s", p)
    assert r.out[0] == "world!" and zkcli.parse_stat(r.out[1:])["dataVersion"] == 1


def test_ls_variants(zk_server, make_client, root):
    zk = make_client()
    for c in ("b", "a", "c"):
        zk.create(root + "/" + c)
    zk.create(root + "/a/x")
    zk.create(root + "/a/x/y")
    r = run(zk_server, "ls", root)
    assert r.rc == 0 and len(r.out) == 1
    assert sorted(r.out[0].strip("[]").split(", ")) == ["a", "b", "c"]
    r = run(zk_server, "ls", "-R", root)
    assert r.rc == 0
    assert set(r.out) == {root, root + "/a", root + "/b", root + "/c", root + "/a/x",
                          root + "/a/x/y"}
    assert r.out[0] == root
    r = run(zk_server, "ls", "-s", root)
    st = zkcli.parse_stat(r.out[1:])
    assert st["numChildren"] == 3 and st["cversion"] == 3
    r = run(zk_server, "ls", root + "/b")
    assert r.out == ["[]"]


def test_delete_and_deleteall(zk_server, root):
    p = root + "/d"
    assert run(zk_server, "create", p, "x").rc == 0
    r = run(zk_server, "delete", "-v", "5", p)
    assert r.rc == 1 and r.err == ["version No is not valid : " + p], r
    assert run(zk_server, "delete", "-v", "0", p).rc == 0
    assert run(zk_server, "get", p).rc == 1
    outs, _ = zkcli.script(zk_server, ["create %s/t" % root, "create %s/t/a" % root,
                                       "create %s/t/a/b" % root, "create %s/t/c" % root,
                                       "delete %s/t" % root, "deleteall %s/t" % root,
                                       "ls %s" % root])
    assert outs[4] == ["Node not empty: %s/t" % root]
    assert outs[5] == []
    assert outs[6] == ["[]"]


def test_error_messages(zk_server, root):
    r = run(zk_server, "get", root + "/missing")
    assert r.rc == 1 and r.err == ["Node does not exist: %s/missing" % root], r
    r = run(zk_server, "create", root + "/missing/child")
    assert r.rc == 1 and r.err == ["Node does not exist: %s/missing/child" % root], r
    r = run(zk_server, "create", root)
    assert r.rc == 1 and r.err == ["Node already exists: " + root], r
    r = run(zk_server, "set", "-v", "3", root, "x")
    assert r.rc == 1 and r.err == ["version No is not valid : " + root], r
    outs, _ = zkcli.script(zk_server, ["create -e %s/e" % root, "create %s/e/child" % root])
    assert outs[1] == ["Ephemerals cannot have children: %s/e/child" % root]


def test_create_ephemeral_and_sequential(zk_server, make_client, root):
    outs, _ = zkcli.script(zk_server, [
        "create -e %s/eph data" % root,
        "create -s %s/seq- a" % root,
        "create -s %s/seq- b" % root,
        "create -e -s %s/eseq- c" % root,
        "stat %s/eph" % root,
        "getEphemerals %s" % root,
        "whoami",
    ])
    assert outs[0] == ["Created %s/eph" % root]
    assert outs[1] == ["Created %s/seq-0000000001" % root]
    assert outs[2] == ["Created %s/seq-0000000002" % root]
    assert outs[3] == ["Created %s/eseq-0000000003" % root]
    assert zkcli.parse_stat(outs[4])["ephemeralOwner"] != 0
    eph = outs[5][0].strip("[]").split(", ")
    assert sorted(eph) == [root + "/eph", root + "/eseq-0000000003"]
    # zkCli closed its session on exit: the ephemerals are gone
    zk = make_client()
    assert sorted(zk.get_children(root)) == ["seq-0000000001", "seq-0000000002"]


@pytest.mark.toggle_reaper
def test_create_container(zk_server, make_client, root):
    c = root + "/cont"
    outs, _ = zkcli.script(zk_server, ["create -c %s" % c, "create %s/k" % c, "delete %s/k" % c])
    assert outs[0] == ["Created " + c]
    zk = make_client()
    assert wait_until(lambda: zk.exists(c) is None, REAP_TIMEOUT), "container not reaped"


@pytest.mark.toggle_ttl
@pytest.mark.toggle_reaper
def test_create_ttl(zk_server, make_client, root):
    """Needs extendedTypesEnabled=true on the server (set by the harness)."""
    t = root + "/ttl"
    r = run(zk_server, "create", "-t", "1000", t, "v")
    assert r.rc == 0 and "Created " + t in r.lines, r
    zk = make_client()
    assert wait_until(lambda: zk.exists(t) is None, REAP_TIMEOUT), "TTL node not removed"
    r = run(zk_server, "create", "-t", "1000", "-s", root + "/ttls-", "v")
    assert r.rc == 0 and "Created %s/ttls-0000000001" % root in r.lines, r


def test_acls_and_addauth(zk_server, root):
    p = root + "/secured"
    r = run(zk_server, "getAcl", root)
    assert r.out == ["'world,'anyone", ": cdrwa"], r
    outs, _ = zkcli.script(zk_server, [
        "addauth digest alice:secret",
        "create %s data auth::cdrwa" % p,
        "getAcl %s" % p,
        "get %s" % p,
        "whoami",
        "create %s/ro d world:anyone:r" % root,
        "set %s/ro x" % root,
        "setAcl %s/ro world:anyone:rw" % root,
        "create %s/ra d world:anyone:ra" % root,
        "setAcl %s/ra ip:127.0.0.1:cdrwa,world:anyone:r" % root,
        "getAcl %s/ra" % root,
    ])
    assert outs[1] == ["Created " + p]
    assert outs[2] == ["'digest,'alice:" + make_digest_acl_credential("alice", "secret")[6:],
                       ": cdrwa"]
    assert outs[3] == ["data"]
    assert outs[4][0] == "Auth scheme: User"
    assert sorted(outs[4][1:]) == ["digest: alice", "ip: 127.0.0.1"]
    assert outs[6] == ["Insufficient permission : %s/ro" % root]
    assert outs[7] == ["Insufficient permission : %s/ro" % root]  # no ADMIN
    assert outs[8] == ["Created %s/ra" % root]
    assert outs[9] == []
    assert outs[10] == ["'ip,'127.0.0.1", ": cdrwa", "'world,'anyone", ": r"]
    # another session without the digest identity
    r = run(zk_server, "get", p)
    assert r.rc == 1 and r.err == ["Insufficient permission : " + p], r
    r = run(zk_server, "getAcl", p)
    assert r.rc == 1 and r.err == ["Insufficient permission : " + p], r
    # wrong password: still no access
    outs, _ = zkcli.script(zk_server, ["addauth digest alice:wrong", "get %s" % p])
    assert outs[1] == ["Insufficient permission : " + p]


def test_invalid_acl(zk_server, root):
    outs, _ = zkcli.script(zk_server, [
        "create %s/a d auth::cdrwa" % root,
        "create %s/b d world:someone:r" % root,
        "create %s/c d ip:300.1.1.1:r" % root,
        "ls %s" % root,
    ])
    for i in range(3):
        assert outs[i] and all("Created" not in l for l in outs[i]), outs[i]
        assert any("InvalidACL" in l for l in outs[i]), outs[i]
    assert outs[3] == ["[]"]


def test_set_acl_recursive(zk_server, make_client, root):
    zk = make_client()
    zk.create(root + "/r/a/b", makepath=True)
    r = run(zk_server, "setAcl", "-R", root + "/r", "world:anyone:cdra")
    assert r.rc == 0, r
    for p in ("/r", "/r/a", "/r/a/b"):
        acls, st = zk.get_acls(root + p)
        assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(29, "world", "anyone")]
        assert st.aversion == 1
    r = run(zk_server, "set", root + "/r/a", "x")
    assert r.rc == 1 and r.err == ["Insufficient permission : %s/r/a" % root], r


def test_get_all_children_number_and_get_ephemerals(zk_server, make_client, root):
    zk = make_client()
    zk.create(root + "/x/y/z", makepath=True)
    zk.create(root + "/w")
    r = run(zk_server, "getAllChildrenNumber", root)
    assert r.rc == 0 and r.out == ["4"], r
    r = run(zk_server, "getAllChildrenNumber", root + "/x")
    assert r.out == ["2"], r
    r = run(zk_server, "getAllChildrenNumber", root + "/nope")
    assert r.rc == 1 and r.err == ["Node does not exist: %s/nope" % root], r
    r = run(zk_server, "getEphemerals", root)
    assert r.rc == 0 and r.out == ["[]"], r  # ephemerals of *this* (new) session only


def test_one_shot_watches(zk_server, root):
    p = root + "/w"
    outs, events = zkcli.script(zk_server, [
        "create %s a" % p,
        "get -w %s" % p,
        "set %s b" % p,
        "set %s c" % p,
        "ls -w %s" % p,
        "create %s/k1" % p,
        "create %s/k2" % p,
        "stat -w %s/later" % p,
        "create %s/later" % p,
        "sync %s" % p,
        "get %s" % p,
    ])
    assert outs[1] == ["a"]
    assert outs[9] == ["Sync is OK"]
    got = [zkcli.parse_event(e) for e in events]
    assert got == [("NodeDataChanged", p), ("NodeChildrenChanged", p),
                   ("NodeCreated", p + "/later")], events


def test_persistent_watch(zk_server, root):
    p = root + "/pw"
    outs, events = zkcli.script(zk_server, [
        "create %s" % p,
        "addWatch -m PERSISTENT %s" % p,
        "set %s 1" % p,
        "set %s 2" % p,
        "create %s/kid" % p,
        "create %s/kid/grandkid" % p,
        "delete %s/kid/grandkid" % p,
        "delete %s/kid" % p,
        "sync %s" % p,
        "get %s" % p,
    ])
    assert outs[1] == []
    got = [zkcli.parse_event(e) for e in events]
    assert got == [("NodeDataChanged", p), ("NodeDataChanged", p), ("NodeChildrenChanged", p),
                   ("NodeChildrenChanged", p)], events


def test_persistent_recursive_watch(zk_server, root):
    p = root + "/rw"
    outs, events = zkcli.script(zk_server, [
        "addWatch %s" % p,  # default mode is PERSISTENT_RECURSIVE; node need not exist
        "create %s" % p,
        "create %s/a" % p,
        "create %s/a/b x" % p,
        "set %s/a/b y" % p,
        "delete %s/a/b" % p,
        "create %s2" % p,  # prefix sibling: not watched
        "sync %s" % p,
        "get %s" % p,
    ])
    got = [zkcli.parse_event(e) for e in events]
    assert got == [("NodeCreated", p), ("NodeCreated", p + "/a"), ("NodeCreated", p + "/a/b"),
                   ("NodeDataChanged", p + "/a/b"), ("NodeDeleted", p + "/a/b")], events


def test_removewatches(zk_server, root):
    p = root + "/rm"
    outs, events = zkcli.script(zk_server, [
        "create %s" % p,
        "get -w %s" % p,
        "removewatches %s -d" % p,
        "set %s x" % p,
        "removewatches %s -d" % p,
        "sync %s" % p,
    ])
    assert outs[2] == []
    assert outs[4] == ["KeeperErrorCode = No such watcher for " + p]
    assert [zkcli.parse_event(e) for e in events] == [("DataWatchRemoved", p)], events


def test_whoami_sync_version_config(zk_server, root):
    r = run(zk_server, "whoami")
    assert r.rc == 0 and r.out == ["Auth scheme: User", "ip: 127.0.0.1"], r
    r = run(zk_server, "sync", root)
    assert r.rc == 0 and r.out == ["Sync is OK"], r
    r = run(zk_server, "version")
    assert r.rc == 0 and re.match(r"^ZooKeeper CLI version: 3\.8\.", r.out[0]), r
    # standalone without reconfig: /zookeeper/config exists but holds no data
    r = run(zk_server, "config")
    assert r.rc == 0 and r.out == [], r
    r = run(zk_server, "get", "/zookeeper/config")
    assert r.rc == 0 and r.out == [], r


def test_quota_nodes(zk_server, make_client, root):
    """setquota/listquota/delquota: znodes under /zookeeper/quota; the stats are server-maintained
    (soft quota only: it only warns, even with enforceQuota=true as the suite runs)."""
    zk = make_client()
    zk.create(root + "/q", b"12345")
    zk.create(root + "/q/c")
    r = run(zk_server, "setquota", "-n", "10", root + "/q")
    assert r.rc == 0, r
    r = run(zk_server, "listquota", root + "/q")
    assert r.rc == 0
    assert r.out[0].startswith("Output quota for %s/q count=10,bytes=-1" % root), r
    # the *server* fills zookeeper_stats for the subtree and keeps it up to date
    assert r.out[1] == "Output stat for %s/q count=2,bytes=5" % root, r
    zk.create(root + "/q/c/d", b"abc")
    zk.set(root + "/q", b"1")
    r = run(zk_server, "listquota", root + "/q")
    assert r.out[1] == "Output stat for %s/q count=3,bytes=4" % root, r
    zk.delete(root + "/q/c/d")
    r = run(zk_server, "listquota", root + "/q")
    assert r.out[1] == "Output stat for %s/q count=2,bytes=1" % root, r
    qpath = "/zookeeper/quota" + root + "/q"
    assert sorted(zk.get_children(qpath)) == ["zookeeper_limits", "zookeeper_stats"]
    assert run(zk_server, "delquota", root + "/q").rc == 0
    r = run(zk_server, "listquota", root + "/q")
    assert "quota for %s/q does not exist." % root in r.err, r
    zk.delete("/zookeeper/quota" + root, recursive=True)
