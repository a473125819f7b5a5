"""Four-letter words through kazoo's `client.command` (one recv of <= 8 KB: the important keys must
come early in long answers such as mntr). Structure is asserted, not values."""

import re

import pytest

import servers

pytestmark = pytest.mark.toggle_4lw


def kv_lines(text, sep):
    out = {}
    for line in text.splitlines():
        if sep in line:
            k, v = line.split(sep, 1)
            out[k.strip()] = v.strip()
    return out


def test_ruok(zk):
    assert zk.command(b"ruok") == "imok"


def test_isro(zk):
    assert zk.command(b"isro") == "rw"


def test_srvr(zk):
    out = zk.command(b"srvr")
    d = kv_lines(out, ":")
    for key in ("Zookeeper version", "Latency min/avg/max", "Received", "Sent", "Connections",
                "Outstanding", "Zxid", "Mode", "Node count"):
        assert key in d, (key, out)
    assert d["Mode"] == "standalone"
    assert re.fullmatch(r"0x[0-9a-f]+", d["Zxid"])
    assert re.fullmatch(r"\d+/[\d.]+/\d+", d["Latency min/avg/max"])
    assert int(d["Node count"]) >= 4  # /, /zookeeper, /zookeeper/quota, /zookeeper/config
    assert int(d["Connections"]) >= 1


def test_stat_lists_clients(zk):
    out = zk.command(b"stat")
    assert out.startswith("Zookeeper version: ")
    assert "\nClients:\n" in out
    assert re.search(r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+\)$", out, re.M), out
    assert "Mode: standalone" in out
    assert "Node count: " in out


def test_mntr(zk, root):
    def mntr():
        d = {}
        for line in zk.command(b"mntr").splitlines():
            parts = line.split("\t")
            if len(parts) == 2:
                d[parts[0]] = parts[1]
        return d

    before = mntr()
    for key in ("zk_version", "zk_server_state", "zk_znode_count", "zk_ephemerals_count",
                "zk_num_alive_connections", "zk_avg_latency", "zk_outstanding_requests",
                "zk_watch_count", "zk_approximate_data_size"):
        assert key in before, key
    assert before["zk_server_state"] == "standalone"
    for i in range(3):
        zk.create(root + "/n%d" % i)
    zk.create(root + "/e", ephemeral=True)
    after = mntr()
    assert int(after["zk_znode_count"]) >= int(before["zk_znode_count"]) + 4
    assert int(after["zk_ephemerals_count"]) >= 1


def test_conf(zk, zk_server_handle):
    d = kv_lines(zk.command(b"conf"), "=")
    for key in ("clientPort", "dataDir", "tickTime", "maxClientCnxns", "minSessionTimeout",
                "maxSessionTimeout"):
        assert key in d, key
    if isinstance(zk_server_handle, servers.ZkServer):
        assert int(d["clientPort"]) == zk_server_handle.port
        assert d["tickTime"] == "2000"
        assert d["minSessionTimeout"] == str(servers.MIN_SESSION_TIMEOUT_MS)
        assert d["maxSessionTimeout"] == str(servers.MAX_SESSION_TIMEOUT_MS)


def test_envi(zk):
    out = zk.command(b"envi")
    assert out.startswith("Environment:\n")
    d = kv_lines(out, "=")
    for key in ("zookeeper.version", "host.name", "java.version", "os.name", "user.dir"):
        assert key in d, key


def test_cons_shows_this_session(zk):
    sid = "0x%x" % zk.client_id[0]
    out = zk.command(b"cons")
    line = [l for l in out.splitlines() if "sid=" + sid in l]
    assert line, out
    assert re.match(r"^ /127\.0\.0\.1:\d+\[1\]\(queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,", line[0])
    for field in ("lop=", "est=", "to=", "lcxid=", "lzxid=", "lresp=", "llat=", "minlat=",
                  "avglat=", "maxlat="):
        assert field in line[0], field


def test_wchs_wchc_wchp(zk, root):
    p = root + "/watched"
    zk.create(p)
    zk.get(p, watch=lambda e: None)
    zk.exists(root + "/absent", watch=lambda e: None)
    out = zk.command(b"wchs")
    m = re.match(r"^(\d+) connections watching (\d+) paths\nTotal watches:(\d+)\n?$", out)
    assert m, out
    assert int(m.group(2)) >= 2 and int(m.group(3)) >= 2
    sid = "0x%x" % zk.client_id[0]
    wchc = zk.command(b"wchc")
    # "<sid>\n\t<path>\n\t<path>\n" blocks (data/exists watches)
    block = wchc.split(sid + "\n", 1)[1].split("\n0x", 1)[0]
    assert "\t" + p + "\n" in block and "\t" + root + "/absent" in block
    wchp = zk.command(b"wchp")
    assert p + "\n\t" + sid in wchp


def test_dirs(zk):
    d = kv_lines(zk.command(b"dirs"), ":")
    assert set(d) >= {"datadir_size", "logdir_size"}
    assert int(d["datadir_size"]) >= 0 and int(d["logdir_size"]) >= 0


def test_srst_crst(zk):
    assert zk.command(b"srst").strip() == "Server stats reset."
    assert zk.command(b"crst").strip() == "Connection stats reset."
    assert "Received: " in zk.command(b"srvr")


def test_unknown_word_is_ignored(zk_server_handle):
    assert servers.four_letter(zk_server_handle.host, zk_server_handle.port, "zzzz") == ""


def test_dump_lists_ephemerals(zk, root):
    zk.create(root + "/eph", ephemeral=True)
    out = zk.command(b"dump")
    assert out.startswith("SessionTracker dump:")
    assert "ephemeral nodes dump:" in out
    assert root + "/eph" in out


def test_server_version(zk):
    v = zk.server_version()
    assert isinstance(v, tuple) and len(v) >= 2
    assert all(isinstance(x, int) for x in v)
    assert v >= (3, 5)
