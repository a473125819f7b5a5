#!/usr/bin/env python3
"""What clients meet when the leader dies, rzk and Apache ZooKeeper side by side (a measurement,
not a pass/fail test; figures go to docs/benchmark.md).

    .cache/venv/bin/python tests/bench/leader_kill_clients.py [rzk] [apache]

Part 1, leader kill: a 3-member ensemble (tests/matrix/ensemble.py, tickTime 1000), 20 raw-wire
clients (each: connect to a member round robin, then setData in a loop, one request in flight,
reconnect on any close). After 5 s the leader gets SIGKILL; the run goes on for 15 s. Counted:
  * sessions accepted (ConnectResponse received),
  * refused at connect (closed before the ConnectResponse - what a client should see without a
    leader),
  * closed with a request unanswered (connections that were open when the leader died), and of
    the sessions accepted after the kill, those then closed with a request unanswered (what a
    client should not meet: the issue's "accepted without a leader, then cut off"),
  * the longest time without any acknowledged write from the kill on (the write outage).
Part 2, log volume: a fresh ensemble, one follower stopped for 30 s while the 20 clients write;
the lines the two live members log in that window, per second.
"""

import json
import os
import random
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
# tests/matrix first: its ensemble.py (Apache and rzk) is the one meant, not tests/lib's
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "matrix"))
from ensemble import Ensemble  # noqa: E402
from zkwire import connect_frame, frame, read_frame  # noqa: E402

CLIENTS = 20
PATH = b"/leader-kill"


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = 0
        self.refused_at_connect = 0
        self.closed_unanswered = 0
        self.accepted_after_kill_then_closed = 0
        self.connect_failed = 0
        self.writes_ok = 0
        self.write_errors = 0
        self.acks = []  # times of acknowledged writes after the kill

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


def client(hosts, counts, stop, killed_at):
    rnd = random.Random()
    i = rnd.randrange(len(hosts))
    while not stop.is_set():
        host, port = hosts[i % len(hosts)]
        i += 1
        try:
            s = socket.create_connection((host, port), timeout=2.0)
        except OSError:
            counts.add(connect_failed=1)
            time.sleep(0.05)
            continue
        s.settimeout(5.0)
        try:
            s.sendall(connect_frame())
            try:
                read_frame(s)
            except (EOFError, OSError):
                counts.add(refused_at_connect=1)
                continue
            counts.add(accepted=1)
            accepted_at = time.time()
            xid = 0
            while not stop.is_set():
                xid += 1
                body = struct.pack(">ii", xid, 5) + struct.pack(">i", len(PATH)) + PATH
                body += struct.pack(">i", 8) + struct.pack(">d", time.time()) + struct.pack(">i", -1)
                try:
                    s.sendall(frame(body))
                    rep = read_frame(s)
                except (EOFError, OSError):
                    counts.add(closed_unanswered=1)
                    k = killed_at[0]
                    if k is not None and accepted_at > k:
                        counts.add(accepted_after_kill_then_closed=1)
                    break
                _, _, err = struct.unpack(">iqi", rep[:16])
                if err == 0:
                    counts.add(writes_ok=1)
                    if killed_at[0] is not None:
                        with counts.lock:
                            counts.acks.append(time.time())
                else:
                    counts.add(write_errors=1)
        finally:
            s.close()


def prepare(ens):
    host, port = ens.hosts[0], ens.client_port
    s = socket.create_connection((host, port), timeout=5)
    s.settimeout(10)
    s.sendall(connect_frame())
    read_frame(s)
    # create PATH (persistent, open ACL), ignore NodeExists
    acl = struct.pack(">i", 1) + struct.pack(">i", 31) + struct.pack(">i", 5) + b"world" + struct.pack(">i", 6) + b"anyone"
    body = struct.pack(">ii", 1, 1) + struct.pack(">i", len(PATH)) + PATH + struct.pack(">i", 0) + acl + struct.pack(">i", 0)
    s.sendall(frame(body))
    read_frame(s)
    s.close()


def leader_index(ens):
    for i, m in enumerate(ens.modes(), 1):
        if m == "leader":
            return i
    return None


def run_clients(ens, seconds_before, seconds_after, action):
    counts, stop, killed_at = Counts(), threading.Event(), [None]
    hosts = [(h, ens.client_port) for h in ens.hosts]
    threads = [threading.Thread(target=client, args=(hosts, counts, stop, killed_at), daemon=True)
               for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(seconds_before)
    before = counts.__dict__.copy()
    killed_at[0] = time.time()
    counts.killed_at = killed_at[0]
    info = action()
    time.sleep(seconds_after)
    stop.set()
    for t in threads:
        t.join(10)
    return counts, before, info


def killed_at_time(counts):
    return counts.killed_at


def longest_gap(acks, start):
    """The longest time without any acknowledged write from the kill on (the write outage)."""
    if not acks:
        return None
    t = [start] + sorted(acks)
    return round(max(b - a for a, b in zip(t, t[1:])), 2)


def kill_leader(ens):
    lead = leader_index(ens)
    p = ens.procs[lead - 1]
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(10)
    ens.procs[lead - 1] = None
    return lead


def line_count(ens, i):
    try:
        with open(os.path.join(ens.member_dir(i), "server.out"), "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def measure(impl):
    out = {"impl": impl}
    d = tempfile.mkdtemp(prefix="rzk-lk-%s-" % impl)
    try:
        ens = Ensemble(impl, os.path.join(d, "a"), apache_logs=True)
        ens.start()
        prepare(ens)
        if impl == "apache":
            time.sleep(3)  # JVM warm-up under load happens in the 5 s before the kill
        counts, before, lead = run_clients(ens, 5, 15, lambda: kill_leader(ens))
        ens.stop()
        out["leader_kill"] = {
            "killed_member": lead,
            "accepted": counts.accepted - before["accepted"],
            "refused_at_connect": counts.refused_at_connect - before["refused_at_connect"],
            "closed_with_request_unanswered": counts.closed_unanswered - before["closed_unanswered"],
            "accepted_after_kill_then_closed_unanswered": counts.accepted_after_kill_then_closed,
            "tcp_connect_failed": counts.connect_failed - before["connect_failed"],
            "writes_ok_after_kill": counts.writes_ok - before["writes_ok"],
            "longest_write_gap_after_kill_s": longest_gap(counts.acks, killed_at_time(counts)),
        }

        ens = Ensemble(impl, os.path.join(d, "b"), apache_logs=True)
        ens.start()
        prepare(ens)
        lead = leader_index(ens)
        follower = next(i for i in range(1, 4) if i != lead)
        live = [i for i in range(1, 4) if i != follower]
        base = {}

        def stop_follower():
            ens.stop_member(follower)
            for i in live:
                base[i] = line_count(ens, i)

        counts, _, _ = run_clients(ens, 3, 30, stop_follower)
        lines = sum(line_count(ens, i) - base[i] for i in live)
        ens.stop()
        out["peer_down_30s"] = {
            "log_lines": lines,
            "log_lines_per_s": round(lines / 30.0, 2),
            "writes_ok": counts.writes_ok,
        }
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return out


def main():
    impls = sys.argv[1:] or ["rzk", "apache"]
    for impl in impls:
        print(json.dumps(measure(impl)), flush=True)


if __name__ == "__main__":
    main()
