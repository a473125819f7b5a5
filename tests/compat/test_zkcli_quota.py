"""Enforced quotas (enforceQuota=true, as tests/lib/servers.py configures both servers): a hard
limit set with `zkCli.sh setquota -N/-B` refuses writes of a real client with QuotaExceeded; soft
limits (`-n/-b`) only warn. `listquota` shows limits and usage, `delquota` lifts the limit."""

import os

import pytest
from kazoo.exceptions import QuotaExceededError

import zkcli

pytestmark = pytest.mark.skipif(not os.path.exists(zkcli.ZKCLI),
                                reason="zkCli.sh not installed (tests/install-deps.sh)")


def run(zk_server, *args):
    return zkcli.run(zk_server, *args)


def test_hard_count_quota_refuses_creates(zk_server, make_client, root):
    zk = make_client()
    q = root + "/q"
    zk.create(q)
    r = run(zk_server, "setquota", "-N", "3", q)
    assert r.rc == 0, r
    r = run(zk_server, "listquota", q)
    assert r.rc == 0, r
    assert r.out[0] == "Output quota for %s count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3" % q, r
    assert r.out[1] == "Output stat for %s count=1,bytes=0" % q, r
    zk.create(q + "/a")
    zk.create(q + "/b", b"xy")
    with pytest.raises(QuotaExceededError):
        zk.create(q + "/c")
    assert zk.exists(q + "/c") is None
    assert sorted(zk.get_children(q)) == ["a", "b"]
    # setData changes no count: still allowed at the count limit
    zk.set(q + "/a", b"12345")
    # a multi that would pass the limit fails as a whole
    tx = zk.transaction()
    tx.delete(q + "/b")
    tx.create(q + "/d")
    tx.create(q + "/e")
    results = tx.commit()
    assert any(isinstance(x, QuotaExceededError) for x in results), results
    assert sorted(zk.get_children(q)) == ["a", "b"]
    r = run(zk_server, "listquota", q)
    assert r.out[1] == "Output stat for %s count=3,bytes=7" % q, r
    # zkCli's own create is refused too
    r = run(zk_server, "create", q + "/z")
    assert r.rc != 0 and zk.exists(q + "/z") is None, r
    assert run(zk_server, "delquota", q).rc == 0
    r = run(zk_server, "listquota", q)
    assert "quota for %s does not exist." % q in r.err, r
    zk.create(q + "/c")
    zk.delete("/zookeeper/quota" + root, recursive=True)


def test_hard_byte_quota_refuses_writes(zk_server, make_client, root):
    zk = make_client()
    q = root + "/q"
    zk.create(q, b"1234")
    r = run(zk_server, "setquota", "-B", "10", q)
    assert r.rc == 0, r
    r = run(zk_server, "listquota", q)
    assert r.out[0] == "Output quota for %s count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1" % q, r
    zk.create(q + "/a", b"123456")
    with pytest.raises(QuotaExceededError):
        zk.create(q + "/b", b"x")
    with pytest.raises(QuotaExceededError):
        zk.set(q + "/a", b"1234567")
    assert zk.get(q + "/a")[0] == b"123456"
    zk.create(q + "/b")  # no bytes
    zk.set(q + "/a", b"1")
    r = run(zk_server, "listquota", q)
    assert r.out[1] == "Output stat for %s count=3,bytes=5" % q, r
    assert run(zk_server, "delquota", q).rc == 0
    zk.delete("/zookeeper/quota" + root, recursive=True)


def test_soft_quota_only_warns(zk_server, make_client, root):
    zk = make_client()
    q = root + "/q"
    zk.create(q)
    r = run(zk_server, "setquota", "-n", "1", q)
    assert r.rc == 0, r
    for i in range(3):
        zk.create("%s/n%d" % (q, i), b"ab")
    r = run(zk_server, "listquota", q)
    assert r.out[0].startswith("Output quota for %s count=1,bytes=-1" % q), r
    assert r.out[1] == "Output stat for %s count=4,bytes=6" % q, r
    assert run(zk_server, "delquota", q).rc == 0
    zk.delete("/zookeeper/quota" + root, recursive=True)
