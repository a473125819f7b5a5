#!/usr/bin/env python3
"""Kazoo / raw-socket / four-letter-word phase of capture_vectors.sh.

Drives a real ZooKeeper through zk_capture_proxy.py so the proxy records the
frames.  Needs kazoo==2.11.0 (run it with the capture venv's python).

    capture_kazoo.py --proxy 127.0.0.1:P --control 127.0.0.1:C \
        --zk 127.0.0.1:Z --fourlw-dir DIR

Phases (each announced to the proxy with "mark" and each client connection
labelled with "label", so the curation step can find the frames):
  kazoo-main    connect, auth (xid -4), create, create2, exists, getChildren2,
                getData on a missing node, multi ok / multi fail, watch fired
                by another client, watch fired by its own write, ping,
                connection killed while a watch is set (reconnect), sync,
                close (-11)
  kazoo-writer  second session that triggers the watch
  raw-noro      hand-made ConnectRequest WITHOUT the trailing readOnly byte,
                to see what the server answers to an "old" client
  4lw           srvr stat mntr conf envi isro ruok cons wchs dirs, sent
                directly to the ZooKeeper port (not via the proxy)
"""

import argparse
import os
import socket
import struct
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError, BadVersionError
from kazoo.security import make_digest_acl


def addr(s):
    h, _, p = s.rpartition(":")
    return h, int(p)


class Control:
    def __init__(self, hostport):
        self.sock = socket.create_connection(addr(hostport))
        self.f = self.sock.makefile("rwb", buffering=0)

    def cmd(self, line):
        self.f.write((line + "\n").encode())
        reply = self.f.readline().decode().strip()
        if not reply.startswith("ok"):
            raise RuntimeError("proxy control %r -> %r" % (line, reply))
        return reply[2:].split()

    def mark(self, text):
        self.cmd("mark " + text)

    def label(self, text):
        self.cmd("label " + text)


def four_letter_words(zk, outdir):
    os.makedirs(outdir, exist_ok=True)
    for cmd in ["srvr", "stat", "mntr", "conf", "envi", "isro", "ruok",
                "cons", "wchs", "dirs"]:
        s = socket.create_connection(addr(zk), timeout=5)
        s.sendall(cmd.encode())
        chunks = []
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            chunks.append(d)
        s.close()
        with open(os.path.join(outdir, "4lw_%s.txt" % cmd), "wb") as f:
            f.write(b"".join(chunks))


def wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def raw_connect_without_readonly(proxy):
    """ConnectRequest of 44 bytes (no readOnly byte), then closeSession."""
    body = struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16
    s = socket.create_connection(addr(proxy), timeout=5)
    s.sendall(struct.pack(">i", len(body)) + body)

    def read_frame():
        hdr = b""
        while len(hdr) < 4:
            d = s.recv(4 - len(hdr))
            if not d:
                raise EOFError
            hdr += d
        n = struct.unpack(">i", hdr)[0]
        buf = b""
        while len(buf) < n:
            d = s.recv(n - len(buf))
            if not d:
                raise EOFError
            buf += d
        return buf

    resp = read_frame()
    close = struct.pack(">ii", 1, -11)
    s.sendall(struct.pack(">i", len(close)) + close)
    try:
        read_frame()
    except (EOFError, OSError):
        pass
    s.close()
    return resp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--zk", required=True)
    ap.add_argument("--fourlw-dir", required=True)
    args = ap.parse_args()
    ctl = Control(args.control)

    # ---------------------------------------------------------------- main
    ctl.label("kazoo-main")
    ctl.mark("kazoo: connect")
    zk = KazooClient(hosts=args.proxy, timeout=6.0)
    zk.start(timeout=15)
    conn_main = max(int(c) for c in ctl.cmd("list"))

    ctl.mark("kazoo: auth digest")
    zk.add_auth("digest", "user1:pass1")

    ctl.mark("kazoo: create persistent")
    zk.create("/kz", b"root")
    ctl.mark("kazoo: create2 (include_data)")
    zk.create("/kz/c2", b"x", include_data=True)
    ctl.mark("kazoo: create ephemeral sequential")
    zk.create("/kz/es-", b"", ephemeral=True, sequence=True)
    ctl.mark("kazoo: create with digest acl")
    zk.create("/kz/acl", b"secret",
              acl=[make_digest_acl("user1", "pass1", all=True)])

    ctl.mark("kazoo: exists")
    zk.exists("/kz")
    ctl.mark("kazoo: exists missing")
    zk.exists("/kz/nothing")
    ctl.mark("kazoo: getChildren2")
    zk.get_children("/kz", include_data=True)
    ctl.mark("kazoo: getChildren")
    zk.get_children("/kz")
    ctl.mark("kazoo: getACL")
    zk.get_acls("/kz/acl")

    ctl.mark("kazoo: getData missing (NoNode)")
    try:
        zk.get("/kz/missing")
    except NoNodeError:
        pass

    ctl.mark("kazoo: multi ok")
    t = zk.transaction()
    t.create("/kz/m1", b"a")
    t.set_data("/kz", b"b")
    t.check("/kz", 1)
    t.delete("/kz/m1")
    res = t.commit()
    print("multi ok results:", res)

    ctl.mark("kazoo: multi fail")
    t = zk.transaction()
    t.create("/kz/m2", b"a")
    t.set_data("/kz", b"c")
    t.check("/kz", 99)
    t.delete("/kz/m2")
    res = t.commit()
    print("multi fail results:", res)

    # ------------------------------------------------- watch, other writer
    events = []
    ev = threading.Event()

    def cb(e):
        events.append(e)
        ev.set()

    ctl.mark("kazoo: getData with watch")
    zk.get("/kz", watch=cb)

    ctl.label("kazoo-writer")
    ctl.mark("kazoo: writer connect")
    zk2 = KazooClient(hosts=args.proxy, timeout=6.0)
    zk2.start(timeout=15)
    ctl.mark("kazoo: writer setData fires watch")
    zk2.set("/kz", b"from-writer")
    assert ev.wait(10), "watch did not fire"
    print("event:", events[-1])

    # -------------------------------------------- watch, same-conn writer
    ev.clear()
    ctl.mark("kazoo: getData with watch (same conn write)")
    zk.get("/kz", watch=cb)
    ctl.mark("kazoo: setData on the watching connection")
    zk.set("/kz", b"self")
    assert ev.wait(10), "self watch did not fire"

    # --------------------------------------------------------- 4lw (live)
    ev.clear()
    zk.get("/kz", watch=cb)
    zk.exists("/kz/later", watch=cb)
    zk.get_children("/kz", watch=cb)
    ctl.mark("4lw (not proxied)")
    four_letter_words(args.zk, args.fourlw_dir)

    # ---------------------------------------------------------------- ping
    ctl.mark("kazoo: idle for pings")
    time.sleep(5.0)

    # ------------------------------------------ reconnect with watch set
    ctl.mark("kazoo: kill connection with watches set")
    ctl.label("kazoo-main-reconnect")
    ctl.cmd("kill %d" % conn_main)
    assert wait_for(lambda: len(ctl.cmd("list")) >= 2 and zk.connected, 20)
    time.sleep(1.0)
    # kazoo 2.11.0 has no SetWatches record: on connection loss it fires
    # every registered watcher locally with EventType NONE and forgets
    # them, so nothing is re-registered on the new connection.
    local = [e for e in events if e.type == "NONE"]
    print("kazoo fired %d watcher(s) locally with type NONE on disconnect"
          % len(local))
    events.clear()
    ev.clear()
    ctl.mark("kazoo: writer setData after reconnect")
    zk2.set("/kz", b"after-reconnect")
    fired = ev.wait(3)
    print("server notification after kazoo reconnect:", fired, events)
    ctl.mark("kazoo: server notification after reconnect=%s" % fired)

    ctl.mark("kazoo: setData bad version")
    try:
        zk.set("/kz", b"x", version=1234)
    except BadVersionError:
        pass

    ctl.mark("kazoo: sync")
    zk.sync("/kz")

    ctl.mark("kazoo: delete")
    zk.delete("/kz/c2")

    ctl.mark("kazoo: writer close")
    zk2.stop()
    zk2.close()
    ctl.mark("kazoo: close")
    zk.stop()
    zk.close()

    # ------------------------------------------------ no-readOnly connect
    ctl.label("raw-noro")
    ctl.mark("raw: ConnectRequest without readOnly byte")
    resp = raw_connect_without_readonly(args.proxy)
    print("connect response without readOnly: %d bytes" % len(resp))
    ctl.label("")
    ctl.mark("kazoo phase done")


if __name__ == "__main__":
    main()
