"""TLS client port, x509 ACLs, AdminServer authentication and certificate rotation: the same
scenarios against Apache ZooKeeper 3.8 (Netty connection factory, PEM stores) and rzk, with the
certificates tests/security/gencerts.sh made (SEC_CERTS).

Where a scenario needs something ZooKeeper 3.8 lacks (AdminServer auth and client.certReload are
3.9 features) it is skipped on Apache with the reason. For rzk every refused connection must
also leave a clear log line, and the server must go on serving other clients.
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import InvalidACLError, NoAuthError  # noqa: E402
from kazoo.security import make_acl, make_digest_acl  # noqa: E402

import servers  # noqa: E402
import zkcli  # noqa: E402
from zkwire import connect_frame, frame, read_frame  # noqa: E402

CERTS = os.environ["SEC_CERTS"]
IMPL = servers.impl_name()
X509 = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"


# Debian's zookeeper.jar manifest leaves netty-codec and netty-resolver out of its Class-Path,
# which the Netty connection factory and ClientCnxnSocketNetty need: a later -cp with it wins over zkEnv.sh's.
NETTY_CP = "-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar"
if IMPL == "apache":
    os.environ["SERVER_JVMFLAGS"] = NETTY_CP + " " + os.environ.get("SERVER_JVMFLAGS", "")


def cert(name):
    return os.path.join(CERTS, name)


def dn(name):
    with open(cert(name + ".dn")) as f:
        return f.read().strip()


def tls_cfg(keystore, **extra):
    cfg = {
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.keyStore.location": keystore,
        "ssl.keyStore.type": "PEM",
        "ssl.keyStore.password": "",
        "ssl.trustStore.location": cert("ca.crt"),
        "ssl.trustStore.type": "PEM",
        "ssl.clientAuth": "need",
        "authProvider.x509": X509,
        "rzk.certReloadIntervalMs": "300",
    }
    cfg.update(extra)
    return cfg


def start_server(extra):
    srv = servers.ZkServer(impl=IMPL, extra_cfg=extra)
    # Its own copy of the server key store (rotation replaces it).
    ks = os.path.join(srv.base_dir, "server.pem")
    shutil.copy(cert("server.pem"), ks)
    srv.extra_cfg = {k: (ks if v == "@KS" else v) for k, v in srv.extra_cfg.items()}
    srv.keystore = ks
    srv.start(timeout=90)
    return srv


@pytest.fixture(scope="module")
def main_srv():
    """clientPort (plaintext) + secureClientPort (TLS, clientAuth=need, x509 provider); rzk: also
    the AdminServer."""
    sport = servers.free_port()
    extra = tls_cfg("@KS", secureClientPort=str(sport))
    if IMPL == "rzk":
        extra.update({"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
                      "admin.serverPort": str(servers.free_port()),
                      "metricsProvider.httpPort": str(servers.free_port())})
    srv = start_server(extra)
    srv.sport = sport
    srv.admin_port = int(extra.get("admin.serverPort", 0))
    yield srv
    srv.cleanup()


def log_has(srv, text, timeout=5.0):
    if IMPL != "rzk":
        return True  # only rzk's log lines are checked
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in srv.output_tail(1 << 20):
            return True
        time.sleep(0.1)
    return False


def tls_client(port, name="client", **kw):
    kw.setdefault("timeout", 10.0)
    zk = KazooClient(hosts="127.0.0.1:%d" % port, use_ssl=True, verify_certs=True,
                     ca=cert("ca.crt"), certfile=cert(name + ".crt"), keyfile=cert(name + ".key"), **kw)
    zk.start(timeout=15)
    return zk


def plain_client(srv):
    zk = KazooClient(hosts=srv.hosts, timeout=10.0)
    zk.start(timeout=15)
    return zk


def zk_session_over(sock):
    """Sends a ConnectRequest; True if a ConnectResponse came back."""
    sock.sendall(connect_frame())
    data = b""
    while len(data) < 4 + 36:
        b = sock.recv(4096)
        if not b:
            break
        data += b
    return len(data) >= 40 and struct.unpack(">i", data[:4])[0] in (36, 37)


def tls_try(port, name=None, ca="ca.crt"):
    """A TLS connection with client certificate `name` (None: none): True if a session opened."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cert(ca))
    if name:
        ctx.load_cert_chain(cert(name + ".crt"), cert(name + ".key"))
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        ss = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        return zk_session_over(ss)
    except (ssl.SSLError, OSError):
        return False
    finally:
        s.close()


def peer_cn(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cert("ca.crt"))
    ctx.load_cert_chain(cert("client.crt"), cert("client.key"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as ss:
            subject = dict(x[0] for x in ss.getpeercert()["subject"])
            return subject.get("commonName")


def still_serving(srv, path):
    """Nothing lost, other clients served: the plaintext and TLS ports both answer."""
    zk = plain_client(srv)
    try:
        assert zk.exists(path) is not None
    finally:
        zk.stop()
    assert tls_try(srv.sport, "client")


# --- positive -----------------------------------------------------------------------------------


def test_kazoo_tls_write_read(main_srv):
    # A TCP probe (connect, close) on the TLS port is not a failed handshake worth a log line.
    socket.create_connection(("127.0.0.1", main_srv.sport), timeout=5).close()
    time.sleep(0.3)
    if IMPL == "rzk":
        assert "TLS handshake failed" not in main_srv.output_tail(1 << 20)
    zk = tls_client(main_srv.sport)
    try:
        zk.create("/tls", b"v1")
        zk.set("/tls", b"v2")
        assert zk.get("/tls")[0] == b"v2"
        zk.create("/tls/child", b"c", ephemeral=True)
        assert zk.get_children("/tls") == ["child"]
    finally:
        zk.stop()
    # The same data on the plaintext port.
    zk = plain_client(main_srv)
    try:
        assert zk.get("/tls")[0] == b"v2"
    finally:
        zk.stop()


def test_zkcli_over_tls(main_srv):
    if not os.path.exists(zkcli.ZKCLI):
        pytest.skip("zkCli.sh not installed")
    flags = " ".join([
        NETTY_CP,
        "-Dzookeeper.client.secure=true",
        "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
        "-Dzookeeper.ssl.keyStore.location=" + cert("client.pem"),
        "-Dzookeeper.ssl.keyStore.type=PEM",
        "-Dzookeeper.ssl.trustStore.location=" + cert("ca.crt"),
        "-Dzookeeper.ssl.trustStore.type=PEM",
    ])
    old = os.environ.get("CLIENT_JVMFLAGS", "")
    os.environ["CLIENT_JVMFLAGS"] = flags
    try:
        hosts = "127.0.0.1:%d" % main_srv.sport
        r = zkcli.run(hosts, "create", "/zkcli-tls", "hello")
        assert r.rc == 0 and "Created /zkcli-tls" in r.lines, r
        r = zkcli.run(hosts, "get", "/zkcli-tls")
        assert r.rc == 0 and r.out == ["hello"], r
    finally:
        os.environ["CLIENT_JVMFLAGS"] = old


def test_x509_acl(main_srv):
    me, other = dn("client"), dn("client2")
    zk = tls_client(main_srv.sport)
    try:
        zk.create("/x509", b"secret", acl=[make_acl("x509", me, all=True)])
        assert zk.get("/x509")[0] == b"secret"
        acl, _ = zk.get_acls("/x509")
        assert [(a.id.scheme, a.id.id) for a in acl] == [("x509", me)]
        # `auth` expands to the session's x509 id.
        zk.create("/x509auth", b"a", acl=[make_acl("auth", "", all=True)])
        acl, _ = zk.get_acls("/x509auth")
        assert [(a.id.scheme, a.id.id) for a in acl] == [("x509", me)]
    finally:
        zk.stop()
    zk2 = tls_client(main_srv.sport, "client2")
    try:
        with pytest.raises(NoAuthError):
            zk2.get("/x509")
        with pytest.raises(NoAuthError):
            zk2.set("/x509", b"x")
        assert other != me
    finally:
        zk2.stop()
    zk = plain_client(main_srv)
    try:
        with pytest.raises(NoAuthError):
            zk.get("/x509")
        # No SASL provider on this server: a sasl: ACL is invalid, as in ZooKeeper.
        with pytest.raises(InvalidACLError):
            zk.create("/sasl-acl", b"", acl=[make_acl("sasl", "bob", all=True)])
    finally:
        zk.stop()


# --- negative -----------------------------------------------------------------------------------


def test_plaintext_to_tls_port(main_srv):
    with socket.create_connection(("127.0.0.1", main_srv.sport), timeout=10) as s:
        try:
            assert not zk_session_over(s)
        except OSError:
            pass
    assert log_has(main_srv, "plaintext (not TLS) on the secure client port")
    still_serving(main_srv, "/tls")


def test_tls_to_plaintext_port(main_srv):
    assert not tls_try(main_srv.port, "client")
    assert log_has(main_srv, "TLS handshake on a plaintext client port")
    still_serving(main_srv, "/tls")


def test_untrusted_ca(main_srv):
    assert not tls_try(main_srv.sport, "evil")
    assert log_has(main_srv, "UnknownIssuer")
    still_serving(main_srv, "/tls")


def test_expired_certificate(main_srv):
    assert not tls_try(main_srv.sport, "expired")
    assert log_has(main_srv, "Expired")
    still_serving(main_srv, "/tls")


def test_no_client_certificate_with_need(main_srv):
    assert not tls_try(main_srv.sport, None)
    assert log_has(main_srv, "peer sent no certificates")
    still_serving(main_srv, "/tls")


def test_client_rejects_untrusted_server(main_srv):
    # The client trusts only the other CA: it refuses the server (nothing logged by a client-side
    # failure but a failed handshake).
    assert not tls_try(main_srv.sport, "client", ca="evilca.crt")
    still_serving(main_srv, "/tls")


# --- AdminServer --------------------------------------------------------------------------------


def admin_get(srv, cmd, auth=None):
    req = urllib.request.Request("http://127.0.0.1:%d/commands/%s" % (srv.admin_port, cmd))
    if auth:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_admin_commands_need_auth(main_srv):
    if IMPL != "rzk":
        pytest.skip("ZooKeeper 3.8's AdminServer has no authentication (3.9 feature)")
    # With the default open ACL of / the operator's calls (no header) keep working.
    st, body = admin_get(main_srv, "dump")
    assert st == 200 and body["error"] is None
    zk = plain_client(main_srv)
    try:
        zk.add_auth("digest", "admin:pw")
        zk.set_acls("/", [make_digest_acl("admin", "pw", all=True)])
        for cmd, want in [("ruok", 200), ("srvr", 200), ("stat", 200), ("mntr", 200), ("isro", 200)]:
            assert admin_get(main_srv, cmd)[0] == want, cmd
        st, body = admin_get(main_srv, "dump")
        assert (st, body) == (401, {"command": "dump", "error": "Auth info is missing for the command"})
        assert log_has(main_srv, "admin command refused")
        st, body = admin_get(main_srv, "cons", "digest admin:wrong")
        assert (st, body["error"]) == (403, "Not authorized")
        st, body = admin_get(main_srv, "wchc", "nosuchscheme x")
        assert (st, body["error"]) == (401, "Not authenticated")
        st, body = admin_get(main_srv, "srst", "ip")
        assert (st, body["error"]) == (403, "Not authorized")
        st, body = admin_get(main_srv, "dump", "digest admin:pw")
        assert st == 200 and body["error"] is None
        st, body = admin_get(main_srv, "stat_reset", "digest admin:pw")
        assert st == 200 and body["error"] is None
    finally:
        zk.set_acls("/", [make_acl("world", "anyone", all=True)])
        zk.stop()
    assert admin_get(main_srv, "dump")[0] == 200


# --- rotation (last: it replaces the server's certificate) ----------------------------------------


def test_certificate_rotation_under_load(main_srv):
    if IMPL != "rzk":
        pytest.skip("ZooKeeper 3.8 has no client certificate reload (client.certReload is 3.9)")
    assert peer_cn(main_srv.sport) == "server1"
    zk = tls_client(main_srv.sport)
    zk.ensure_path("/rot")
    acked, failures, stop = [0], [], threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            i += 1
            try:
                zk.set("/rot", str(i).encode())
                acked[0] = i
            except Exception as e:  # noqa: BLE001 - any failure of an acknowledged-write loop counts
                failures.append(repr(e))
                return

    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(0.5)
        tmp = main_srv.keystore + ".new"
        shutil.copy(cert("server2.pem"), tmp)
        os.replace(tmp, main_srv.keystore)
        deadline = time.time() + 15
        while time.time() < deadline and peer_cn(main_srv.sport) != "server2":
            time.sleep(0.2)
        assert peer_cn(main_srv.sport) == "server2"
        assert log_has(main_srv, "TLS certificates reloaded")
        # A broken file is not taken: the previous certificate stays.
        time.sleep(0.4)
        with open(tmp, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        os.replace(tmp, main_srv.keystore)
        assert log_has(main_srv, "TLS certificate reload failed", timeout=10)
        assert peer_cn(main_srv.sport) == "server2"
        assert tls_try(main_srv.sport, "client2")
        time.sleep(0.5)
    finally:
        stop.set()
        t.join(timeout=30)
    assert failures == [], failures
    assert acked[0] > 10
    assert zk.get("/rot")[0] == str(acked[0]).encode()
    zk.stop()
    # The session opened before the rotation kept working throughout; a new one works too.
    zk = tls_client(main_srv.sport, "client2")
    zk.stop()


# --- port unification ---------------------------------------------------------------------------


def exists_error(sock):
    """Opens a session on `sock`, sends exists("/"); the reply's error code."""
    sock.sendall(connect_frame())
    read_frame(sock)
    path = b"/"
    body = struct.pack(">ii", 1, 3) + struct.pack(">i", len(path)) + path + b"\0"
    sock.sendall(frame(body))
    xid, _zxid, err = struct.unpack(">iqi", read_frame(sock)[:16])
    assert xid == 1
    return err


def test_port_unification_and_enforce_auth():
    """client.portUnification: TLS and plaintext on one port; enforce.auth.schemes=x509,digest:
    a session without one of them is answered SessionClosedRequireSaslAuth (-124) and closed."""
    srv = start_server(tls_cfg("@KS", **{"client.portUnification": "true",
                                         "enforce.auth.enabled": "true",
                                         "enforce.auth.schemes": "x509,digest"}))
    try:
        zk = KazooClient(hosts=srv.hosts, timeout=10.0, auth_data=[("digest", "u:p")])
        zk.start(timeout=15)
        zk.create("/unified", b"plain")
        zk.stop()
        zk = tls_client(srv.port)
        assert zk.get("/unified")[0] == b"plain"
        zk.set("/unified", b"tls")
        zk.stop()
        assert servers.four_letter(srv.host, srv.port, "ruok").strip() == "imok"
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            assert exists_error(sock) == -124
            assert sock.recv(1) == b""  # closed
        assert log_has(srv, "is not authenticated with a scheme enforce.auth.schemes requires")
        zk = tls_client(srv.port, "client2")
        assert zk.get("/unified")[0] == b"tls"
        zk.stop()
    finally:
        srv.cleanup()


@pytest.mark.parametrize("kind,ks,ts", [("JKS", "server.jks", "ca.jks"), ("PKCS12", "server.p12", "ca.p12")])
def test_java_key_and_trust_stores(kind, ks, ts):
    """JKS and PKCS12 stores (what keytool makes and kazoo's own harness configures) serve TLS
    clients with client certificates, as PEM does."""
    sport = servers.free_port()
    extra = tls_cfg(cert(ks), secureClientPort=str(sport))
    extra.update({"ssl.keyStore.type": kind, "ssl.keyStore.password": "secret",
                  "ssl.trustStore.location": cert(ts), "ssl.trustStore.type": kind,
                  "ssl.trustStore.password": "secret"})
    srv = servers.ZkServer(impl=IMPL, extra_cfg=extra)
    try:
        srv.start(timeout=90)
        zk = tls_client(sport)
        try:
            zk.create("/store-" + kind, b"x")
            assert zk.get("/store-" + kind)[0] == b"x"
        finally:
            zk.stop()
        assert peer_cn(sport) == "server1"
    finally:
        srv.cleanup()


def test_wrong_store_password_is_a_startup_error():
    if IMPL != "rzk":
        pytest.skip("checks rzk's startup message")
    extra = tls_cfg(cert("server.jks"), secureClientPort=str(servers.free_port()))
    extra.update({"ssl.keyStore.type": "JKS", "ssl.keyStore.password": "wrong"})
    srv = servers.ZkServer(impl="rzk", extra_cfg=extra)
    srv.write_cfg()
    p = subprocess.run(srv.command(), cwd=srv.base_dir, capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    srv.cleanup()
    assert p.returncode != 0
    assert "ssl.keyStore.location: cannot read %s: the store's integrity check failed: wrong password" % cert("server.jks") in out, out


def test_bad_certificate_file_is_a_startup_error(tmp_path):
    if IMPL != "rzk":
        pytest.skip("checks rzk's startup message")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    srv = servers.ZkServer(impl="rzk", extra_cfg=tls_cfg(str(bad), secureClientPort=str(servers.free_port())))
    srv.write_cfg()
    p = subprocess.run(srv.command(), cwd=srv.base_dir, capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    srv.cleanup()
    assert p.returncode != 0
    assert "ssl.keyStore.location: cannot read %s: no CERTIFICATE in the file" % bad in out, out


def test_admin_https_with_x509():
    """admin.forceHttps: the AdminServer speaks TLS with the ssl.* stores; `Authorization: x509`
    uses the client certificate's DN against the ACL of /."""
    if IMPL != "rzk":
        pytest.skip("ZooKeeper 3.8's AdminServer has no authentication (3.9 feature)")
    aport = servers.free_port()
    srv = start_server(tls_cfg("@KS", **{"client.portUnification": "true", "admin.enableServer": "true",
                                         "admin.serverAddress": "127.0.0.1", "admin.serverPort": str(aport),
                                         "admin.forceHttps": "true",
                                         "metricsProvider.httpPort": str(servers.free_port())}))

    def get(cmd, name="client", auth=None):
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        if name:
            ctx.load_cert_chain(cert(name + ".crt"), cert(name + ".key"))
        req = urllib.request.Request("https://127.0.0.1:%d/commands/%s" % (aport, cmd))
        if auth:
            req.add_header("Authorization", auth)
        try:
            with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    try:
        assert get("ruok")[0] == 200
        with pytest.raises((urllib.error.URLError, OSError, http.client.HTTPException)):
            urllib.request.urlopen("http://127.0.0.1:%d/commands/ruok" % aport, timeout=5).read()
        zk = tls_client(srv.port)
        zk.set_acls("/", [make_acl("x509", dn("client"), all=True)])
        zk.stop()
        assert get("dump", auth="x509")[0] == 200
        assert get("dump", "client2", auth="x509") == (403, {"command": "dump", "error": "Not authorized"})
        assert get("dump", None, auth="x509") == (401, {"command": "dump", "error": "Not authenticated"})
        assert get("dump")[0] == 401
    finally:
        srv.cleanup()


def test_sasl_digest_md5_with_zkcli(tmp_path):
    """authProvider.sasl + a JAAS Server section (DigestLoginModule): zkCli logs in with its JAAS
    Client section; the session's id is sasl:<user>; a wrong password is refused."""
    if not os.path.exists(zkcli.ZKCLI):
        pytest.skip("zkCli.sh not installed")
    server_jaas = tmp_path / "server.jaas"
    server_jaas.write_text('Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                           '  user_bob="bob secret"\n  user_alice="alice;pw"\n  user_carol="c";\n};\n')

    def client_jaas(user, pw):
        p = tmp_path / ("client-%s-%s.jaas" % (user, abs(hash(pw))))
        p.write_text('Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                     '  username="%s"\n  password="%s";\n};\n' % (user, pw))
        return str(p)

    old = os.environ.get("SERVER_JVMFLAGS", "")
    os.environ["SERVER_JVMFLAGS"] = old + " -Djava.security.auth.login.config=" + str(server_jaas)
    try:
        srv = start_server({"authProvider.sasl": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
                            "superUser": "alice"})
    finally:
        os.environ["SERVER_JVMFLAGS"] = old
    old_cli = os.environ.get("CLIENT_JVMFLAGS", "")

    def cli(user, pw, *args):
        os.environ["CLIENT_JVMFLAGS"] = "-Djava.security.auth.login.config=" + client_jaas(user, pw)
        try:
            return zkcli.run(srv.hosts, *args)
        finally:
            os.environ["CLIENT_JVMFLAGS"] = old_cli

    try:
        r = cli("bob", "bob secret", "create", "/sasl", "hi", "sasl:bob:cdrwa")
        assert r.rc == 0 and "Created /sasl" in r.lines, r
        r = cli("bob", "bob secret", "get", "/sasl")
        assert r.rc == 0 and [l for l in r.out if "SaslAuthenticated" not in l] == ["hi"], r
        r = cli("bob", "bob secret", "getAcl", "/sasl")
        assert "'sasl,'bob" in r.out, r
        r = cli("carol", "c", "get", "/sasl")
        assert r.rc != 0 and any("Insufficient permission" in l or "NoAuth" in l for l in r.lines), r
        r = cli("alice", "alice;pw", "get", "/sasl")  # superUser=alice
        assert r.rc == 0 and "hi" in r.out, r
        r = cli("bob", "wrong", "get", "/sasl")
        assert "hi" not in r.out, r
        assert log_has(srv, "SASL authentication failed")
        zk = plain_client(srv)
        try:
            with pytest.raises(NoAuthError):
                zk.get("/sasl")
        finally:
            zk.stop()
    finally:
        srv.cleanup()
