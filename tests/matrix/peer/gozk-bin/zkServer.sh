#!/usr/bin/env python3
"""zkServer.sh stand-in for go-zookeeper's own test harness (server_java_test.go), which runs
`$ZOOKEEPER_BIN_PATH/zkServer.sh start-foreground <zoo.cfg>` with SERVER_JVMFLAGS=-D... .

MATRIX_IMPL=rzk runs $RZK_BIN, MATRIX_IMPL=apache runs Apache ZooKeeper's QuorumPeerMain (java), on
the same config. The harness's -Dzookeeper.X=Y flags become X=Y config lines for rzk (rzk reads
settings from the config file only).

Adapter, for both implementations alike: the harness waits for `zk.FLWSrvr` to parse `srvr`, and
go-zookeeper v1.0.4 only parses the ZooKeeper <= 3.4 header date ("built on 03/10/2020 20:43 GMT");
3.5+ servers (Apache 3.8 and rzk) print "built on 2022-02-25 08:49 UTC", and its version token
must be [A-Za-z0-9.-]+ (Debian's Apache prints "3.8.0-${mvngit.commit.id}"). So the server listens on
a private port and this process forwards the configured client port to it byte for byte, except
that in replies to `srvr`/`stat` the first line is rewritten into the old form. Nothing else is
touched.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading

MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
APACHE_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/*"
HEADER = re.compile(rb"^Zookeeper version: ([^,\n]*), built on (\d{4})-(\d{2})-(\d{2}) (\d{2}:\d{2})[^\n]*")


def die_with_parent():
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def jvm_props():
    props = {}
    for tok in os.environ.get("SERVER_JVMFLAGS", "").split():
        if tok.startswith("-D") and "=" in tok:
            k, v = tok[2:].split("=", 1)
            props[k] = v
    return props


def rewrite_header(m):
    # the version token as v1.0.4's regex accepts it ([A-Za-z0-9.-]; Debian's Apache build prints
    # an unexpanded "3.8.0-${mvngit.commit.id}"), and the date as MM/DD/YYYY HH:MM GMT
    version = re.sub(rb"[^A-Za-z0-9.\-]", b"-", m.group(1))
    return b"Zookeeper version: %s, built on %s/%s/%s %s GMT" % (version, m.group(3), m.group(4), m.group(2), m.group(5))


def pipe(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client, backend_port):
    try:
        first = client.recv(4, socket.MSG_PEEK)
        upstream = socket.create_connection(("127.0.0.1", backend_port), timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    if first in (b"srvr", b"stat"):
        try:
            upstream.sendall(client.recv(4))
            out = b""
            while True:
                b = upstream.recv(65536)
                if not b:
                    break
                out += b
            out = HEADER.sub(rewrite_header, out, 1)
            client.sendall(out)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()
        return
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
    pipe(client, upstream)


def main():
    if len(sys.argv) < 3 or sys.argv[1] != "start-foreground":
        print("usage: zkServer.sh start-foreground <zoo.cfg>", file=sys.stderr)
        return 2
    cfg_in = sys.argv[2]
    impl = os.environ.get("MATRIX_IMPL", "rzk")
    lines = open(cfg_in).read().splitlines()
    client_port = None
    kept = []
    for line in lines:
        if line.startswith("clientPort="):
            client_port = int(line.split("=", 1)[1])
        elif not line.startswith("clientPortAddress="):
            kept.append(line)
    backend = free_port()
    kept += ["clientPort=%d" % backend, "clientPortAddress=127.0.0.1"]
    props = jvm_props()
    if impl == "rzk":
        for k, v in props.items():
            kept.append("%s=%s" % (k[len("zookeeper."):] if k.startswith("zookeeper.") else k, v))
        # several members on one host: no metrics endpoints fighting over port 7000
        kept.append("metricsProvider.className=org.apache.zookeeper.metrics.impl.NullMetricsProvider")
    cfg_out = cfg_in + ".matrix"
    with open(cfg_out, "w") as f:
        f.write("\n".join(kept) + "\n")
    if impl == "rzk":
        argv = [os.environ["RZK_BIN"], "start-foreground", cfg_out]
    else:
        argv = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.log.dir=" + os.path.dirname(cfg_out), "-Dzookeeper.admin.enableServer=false"]
        argv += ["-D%s=%s" % kv for kv in props.items()]
        argv += ["-cp", APACHE_CP, MAIN, cfg_out]
    srv = subprocess.Popen(argv, preexec_fn=die_with_parent)
    signal.signal(signal.SIGTERM, lambda *a: (srv.kill(), os._exit(0)))
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("0.0.0.0", client_port))
    lsock.listen(128)

    def accept_loop():
        while True:
            c, _ = lsock.accept()
            threading.Thread(target=serve, args=(c, backend), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return srv.wait()


if __name__ == "__main__":
    sys.exit(main())
