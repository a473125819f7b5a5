#!/usr/bin/env python3
"""Loopback TCP proxy that records ZooKeeper client<->server frames.

Usage:
    zk_capture_proxy.py --listen 127.0.0.1:PORT --target 127.0.0.1:ZKPORT \
        --out capture.jsonl [--control 127.0.0.1:CPORT]

Every byte is forwarded unchanged and immediately.  Independently, each
direction of each connection is split into ZooKeeper frames (4-byte
big-endian length prefix + body) and every complete frame is appended to the
output file as one JSON line:

    {"dir": "c2s"|"s2c", "conn": n, "seq": i, "hex": "<body hex>", "t": secs}

``hex`` is the frame body WITHOUT the length prefix.  ``seq`` is a single
counter over the whole capture (the order in which the proxy saw complete
frames), so frames of different connections and directions can be ordered.
``t`` is seconds since the proxy started.

Non-frame lines (no "dir" key) are also written:

    {"event": "open",   "conn": n, "label": L, "peer": "ip:port", "seq": i}
    {"event": "close",  "conn": n, "seq": i, "by": "client"|"server"|"killed"}
    {"event": "raw",    "conn": n, "dir": ..., ...}   (see below)
    {"mark": "text", "seq": i, "t": secs}

If a connection's first 4 bytes do not look like a sane length (e.g. a
four-letter-word command such as "ruok"), that connection is not framed:
its bytes are recorded as {"dir": ..., "conn": n, "seq": i, "raw": true,
"hex": ...} chunks instead.

Control port (optional, loopback only): one text command per line, one reply
line each:
    label TEXT   label for connections opened from now on
    mark TEXT    write a mark line into the capture
    list         "ok <conn> <conn> ..." currently open connection ids
    kill N       abort connection N (both sides), like a network failure
    killall      abort every open connection
Plain python asyncio, no third-party dependencies.
"""

import argparse
import asyncio
import json
import signal
import sys
import time

MAX_SANE_FRAME = 64 * 1024 * 1024


def parse_addr(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class Recorder:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.seq = 0
        self.t0 = time.monotonic()

    def write(self, rec):
        rec["seq"] = self.seq
        self.seq += 1
        rec["t"] = round(time.monotonic() - self.t0, 6)
        self.f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self.f.flush()


class Conn:
    def __init__(self, proxy, cid, label):
        self.proxy = proxy
        self.cid = cid
        self.label = label
        self.writers = []
        self.killed = False


class Framer:
    """Splits one direction of a connection into frames."""

    def __init__(self, rec, cid, direction):
        self.rec = rec
        self.cid = cid
        self.dir = direction
        self.buf = bytearray()
        self.raw = None  # None = undecided, True = raw mode, False = framed

    def feed(self, data):
        if self.raw:
            self.rec.write({"dir": self.dir, "conn": self.cid, "raw": True,
                            "hex": bytes(data).hex()})
            return
        self.buf += data
        while len(self.buf) >= 4:
            n = int.from_bytes(self.buf[:4], "big", signed=True)
            if n < 0 or n > MAX_SANE_FRAME:
                # Not a framed protocol (4lw command or garbage).
                self.raw = True
                self.rec.write({"dir": self.dir, "conn": self.cid, "raw": True,
                                "hex": bytes(self.buf).hex()})
                self.buf.clear()
                return
            self.raw = False
            if len(self.buf) < 4 + n:
                return
            body = bytes(self.buf[4:4 + n])
            del self.buf[:4 + n]
            self.rec.write({"dir": self.dir, "conn": self.cid,
                            "hex": body.hex()})

    def finish(self):
        if self.buf:
            self.rec.write({"dir": self.dir, "conn": self.cid, "partial": True,
                            "hex": bytes(self.buf).hex()})
            self.buf.clear()


class Proxy:
    def __init__(self, target, rec):
        self.target = target
        self.rec = rec
        self.next_id = 0
        self.label = ""
        self.conns = {}

    async def handle_client(self, creader, cwriter):
        cid = self.next_id
        self.next_id += 1
        conn = Conn(self, cid, self.label)
        peer = cwriter.get_extra_info("peername")
        try:
            sreader, swriter = await asyncio.open_connection(*self.target)
        except OSError as e:
            self.rec.write({"event": "connect_failed", "conn": cid,
                            "error": str(e)})
            cwriter.close()
            return
        conn.writers = [cwriter, swriter]
        self.conns[cid] = conn
        self.rec.write({"event": "open", "conn": cid, "label": conn.label,
                        "peer": "%s:%s" % (peer[0], peer[1]) if peer else ""})
        c2s = Framer(self.rec, cid, "c2s")
        s2c = Framer(self.rec, cid, "s2c")
        t1 = asyncio.ensure_future(self.pump(creader, swriter, c2s))
        t2 = asyncio.ensure_future(self.pump(sreader, cwriter, s2c))
        done, pending = await asyncio.wait(
            [t1, t2], return_when=asyncio.FIRST_COMPLETED)
        by = "killed" if conn.killed else ("client" if t1 in done else "server")
        # Give the other direction a moment to drain what is in flight.
        if not conn.killed:
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.gather(*pending)), 0.5)
            except (asyncio.TimeoutError, Exception):
                pass
        for t in pending:
            t.cancel()
        c2s.finish()
        s2c.finish()
        for w in conn.writers:
            try:
                w.close()
            except Exception:
                pass
        self.conns.pop(cid, None)
        self.rec.write({"event": "close", "conn": cid, "by": by})

    async def pump(self, reader, writer, framer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                framer.feed(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            try:
                if writer.can_write_eof():
                    writer.write_eof()
            except Exception:
                pass

    def kill(self, cid):
        conn = self.conns.get(cid)
        if conn is None:
            return False
        conn.killed = True
        self.rec.write({"event": "kill", "conn": cid})
        for w in conn.writers:
            try:
                w.transport.abort()
            except Exception:
                pass
        return True

    async def handle_control(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd, _, arg = line.decode("utf-8", "replace").strip().partition(" ")
                if cmd == "label":
                    self.label = arg
                    reply = "ok"
                elif cmd == "mark":
                    self.rec.write({"mark": arg})
                    reply = "ok"
                elif cmd == "list":
                    reply = "ok " + " ".join(str(c) for c in sorted(self.conns))
                elif cmd == "kill":
                    reply = "ok" if self.kill(int(arg)) else "err no such conn"
                elif cmd == "killall":
                    ids = sorted(self.conns)
                    for c in ids:
                        self.kill(c)
                    reply = "ok " + " ".join(str(c) for c in ids)
                else:
                    reply = "err unknown command"
                writer.write((reply.rstrip() + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            writer.close()


async def main_async(args):
    rec = Recorder(args.out)
    proxy = Proxy(parse_addr(args.target), rec)
    lhost, lport = parse_addr(args.listen)
    server = await asyncio.start_server(proxy.handle_client, lhost, lport)
    servers = [server]
    if args.control:
        chost, cport = parse_addr(args.control)
        servers.append(await asyncio.start_server(proxy.handle_control, chost, cport))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("proxy listening on %s -> %s" % (args.listen, args.target),
          file=sys.stderr, flush=True)
    await stop.wait()
    for s in servers:
        s.close()
    for cid in list(proxy.conns):
        proxy.kill(cid)
    await asyncio.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="host:port to listen on (loopback)")
    ap.add_argument("--target", required=True, help="host:port of the real ZooKeeper")
    ap.add_argument("--out", required=True, help="JSON-lines output file (appended)")
    ap.add_argument("--control", help="host:port for the control socket (optional)")
    args = ap.parse_args()
    for a in (args.listen, args.target, args.control):
        if a and not (a.startswith("127.") or a.startswith("localhost") or a.startswith("[::1]")):
            ap.error("loopback addresses only: %s" % a)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
