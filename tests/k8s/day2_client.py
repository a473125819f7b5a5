#!/usr/bin/env python3
"""Workload and observer for tests/k8s/e2e_day2.sh.

  day2_client.py run --ns NS --cluster NAME --addresses FILE --log LOG --stop FILE
      A writer (kazoo, the real client) creates sequential znodes /day2/w- as fast as it can
      (paced) and records every acknowledged write; a monitor polls every pod of the cluster
      (`ruok` and `srvr` on its address) and records each pod's state transitions: down (process
      not answering), noquorum (answers but not serving), leader/follower/observer. Pod addresses
      come from the test kubelet's address book (FILE), re-read as pods appear. JSON lines go to
      LOG; runs until FILE --stop exists.
  day2_client.py mark --log LOG PHASE          append a phase marker
  day2_client.py verify --log LOG --hosts H    every acknowledged write is readable, with its
                                               value, from every host in H (after sync)
  day2_client.py analyze --log LOG --phase P --pods a,b,c [--max-down N] [--leader-last]
                 [--handover] [--max-noquorum SECONDS] [--max-write-gap SECONDS] [--expect-restarts N]
      per phase: the order in which pods went down (with the role each had just before), the
      most pods down at once, windows without any serving quorum, gaps between acknowledged
      writes; exits 1 when an expectation fails.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

LOCK = threading.Lock()


def emit(log, rec):
    rec = dict(rec, t=round(time.time(), 3))
    with LOCK:
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")


def four(host, port, cmd, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(cmd.encode())
            out = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                out += b
        return out.decode(errors="replace")
    except OSError:
        return None


def pod_state(ip, port):
    if four(ip, port, "ruok") != "imok":
        return "down"
    srvr = four(ip, port, "srvr")
    if srvr is None:
        return "down"
    for line in srvr.splitlines():
        if line.startswith("Mode: "):
            return line[6:].strip()
    return "noquorum"


def addresses(path, ns, cluster):
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return {}
    pre = f"{ns}/{cluster}-"
    return {k.split("/", 1)[1]: v for k, v in m.items() if k.startswith(pre) and k[len(pre):].isdigit()}


def run(a):
    stop = threading.Event()

    def monitor():
        states = {}
        while not stop.is_set():
            pods = addresses(a.addresses, a.ns, a.cluster)
            for pod, ip in sorted(pods.items()):
                st = pod_state(ip, a.port)
                prev = states.get(pod)
                if st != prev:
                    states[pod] = st
                    emit(a.log, {"ev": "state", "pod": pod, "state": st, "prev": prev})
            time.sleep(0.25)

    def writer():
        from kazoo.client import KazooClient
        from kazoo.exceptions import KazooException
        hosts = ""
        zk = None
        n = 0
        while not stop.is_set():
            pods = addresses(a.addresses, a.ns, a.cluster)
            h = ",".join(f"{ip}:{a.port}" for _, ip in sorted(pods.items()))
            if not h:
                time.sleep(0.5)
                continue
            if zk is None:
                zk = KazooClient(hosts=h, timeout=10.0, connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 1.0})
                zk.start(timeout=60)
                zk.ensure_path("/day2")
                hosts = h
            elif h != hosts:
                zk.set_hosts(h)
                hosts = h
            n += 1
            t0 = time.time()
            try:
                path = zk.create("/day2/w-", str(n).encode(), sequence=True)
                emit(a.log, {"ev": "ack", "n": n, "path": path, "ms": round((time.time() - t0) * 1000)})
            except (KazooException, Exception) as e:  # noqa: BLE001 - any failure is recorded
                emit(a.log, {"ev": "fail", "n": n, "err": type(e).__name__})
                time.sleep(0.2)
            time.sleep(a.pace)
            if os.path.exists(a.stop):
                break
        stop.set()
        if zk is not None:
            zk.stop()
            zk.close()

    threading.Thread(target=monitor, daemon=True).start()
    w = threading.Thread(target=writer)
    w.start()
    while not os.path.exists(a.stop):
        time.sleep(0.2)
    stop.set()
    w.join(30)
    emit(a.log, {"ev": "stopped"})


def load(log):
    with open(log) as f:
        return [json.loads(line) for line in f if line.strip()]


def verify(a):
    from kazoo.client import KazooClient
    recs = load(a.log)
    acked = {r["path"]: str(r["n"]) for r in recs if r["ev"] == "ack"}
    fails = sum(1 for r in recs if r["ev"] == "fail")
    bad = 0
    for host in a.hosts.split(","):
        zk = KazooClient(hosts=host, timeout=10.0)
        zk.start(timeout=30)
        try:
            zk.sync("/day2")
            children = set(zk.get_children("/day2"))
            missing = [p for p in acked if p.rsplit("/", 1)[1] not in children]
            wrong = 0
            for p, v in list(acked.items())[:: max(1, len(acked) // 200)]:  # values of a sample
                data, _ = zk.get(p)
                wrong += data.decode() != v
            print(f"{host}: {len(children)} znodes, {len(acked)} acknowledged writes, missing {len(missing)}, wrong values {wrong}")
            if missing:
                print(f"  missing e.g. {missing[:5]}")
            bad += len(missing) + wrong
        finally:
            zk.stop()
            zk.close()
    print(f"{len(acked)} acknowledged writes, {fails} failed/unknown attempts (not acknowledged, so not required)")
    return 0 if bad == 0 and acked else 1


def analyze(a):
    recs = load(a.log)
    marks = [(r["t"], r["phase"]) for r in recs if r["ev"] == "mark"]
    spans = []
    for i, (t, ph) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else float("inf")
        spans.append((ph, t, end))
    span = next((s for s in spans if s[0] == a.phase), None)
    if span is None:
        print(f"phase {a.phase} not found")
        return 1
    _, t0, t1 = span
    pods = a.pods.split(",")
    # state of every pod at t0
    state = {}
    for r in recs:
        if r["ev"] == "state" and r["t"] <= t0:
            state[r["pod"]] = r["state"]
    leader0 = next((p for p, s in state.items() if s == "leader" and p in pods), None)
    downs = []  # (t, pod, role before)
    max_down, noq, noq_start = 0, [], None
    serving = {"leader", "follower", "observer"}
    for r in recs:
        if not (t0 < r["t"] <= t1) or r["ev"] != "state":
            continue
        prev = state.get(r["pod"])
        state[r["pod"]] = r["state"]
        if r["pod"] not in pods:  # e.g. a member being added or removed: only its leadership counts
            pass
        elif r["state"] == "down" and prev != "down":
            downs.append((r["t"], r["pod"], prev))
        down_now = sum(1 for p in pods if state.get(p) == "down")
        max_down = max(max_down, down_now)
        has_quorum = any(s == "leader" for s in state.values()) and \
            sum(1 for p in pods if state.get(p) in serving) * 2 > len(pods)
        if not has_quorum and noq_start is None:
            noq_start = r["t"]
        elif has_quorum and noq_start is not None:
            noq.append((noq_start, r["t"]))
            noq_start = None
    if noq_start is not None:
        noq.append((noq_start, min(t1, recs[-1]["t"])))
    acks = [r["t"] for r in recs if r["ev"] == "ack" and t0 < r["t"] <= t1]
    fails = sum(1 for r in recs if r["ev"] == "fail" and t0 < r["t"] <= t1)
    gaps = []
    prev = t0
    for t in acks:
        if t - prev > 1.0:
            gaps.append((prev, t))
        prev = t
    dur = (min(t1, recs[-1]["t"]) - t0)
    print(f"phase {a.phase}: {dur:.0f}s, {len(acks)} acknowledged writes, {fails} failed attempts, leader at start {leader0}")
    print("  went down, in order: " + (", ".join(f"{p} (was {r})" for _, p, r in downs) or "none"))
    print(f"  most pods down at once: {max_down}")
    print("  windows without a serving quorum: " + (", ".join(f"{e - s:.1f}s" for s, e in noq) or "none"))
    print("  write gaps > 1s: " + (", ".join(f"{e - s:.1f}s" for s, e in gaps) or "none"))
    ok = True

    def expect(cond, what):
        nonlocal ok
        print(f"  {'ok' if cond else 'FAILED'}: {what}")
        ok = ok and cond

    if a.max_down is not None:
        expect(max_down <= a.max_down, f"at most {a.max_down} member(s) down at a time (saw {max_down})")
    if a.expect_restarts is not None:
        restarted = [p for _, p, _ in downs]
        expect(sorted(set(restarted)) == sorted(pods) and len(restarted) == a.expect_restarts,
               f"each of the {a.expect_restarts} members restarted exactly once (saw {restarted})")
    if a.leader_last:
        expect(bool(downs) and downs[-1][1] == leader0, f"the leader at the start ({leader0}) was restarted last")
    handed_over = all(r != "leader" for _, _, r in downs)
    print(f"  leadership handed over before the leader's restart: {'yes' if handed_over else 'NO'}")
    if a.handover:
        expect(handed_over, "no member was leading when it went down (leadership handed over first)")
    if a.max_noquorum is not None:
        longest = max((e - s for s, e in noq), default=0)
        expect(longest <= a.max_noquorum, f"no window without a serving quorum longer than {a.max_noquorum}s (longest {longest:.1f}s)")
    if a.max_write_gap is not None:
        longest = max((e - s for s, e in gaps), default=0)
        expect(longest <= a.max_write_gap, f"no gap between acknowledged writes longer than {a.max_write_gap}s (longest {longest:.1f}s)")
    expect(len(acks) > 0, "writes were acknowledged during the phase")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--ns", required=True)
    r.add_argument("--cluster", required=True)
    r.add_argument("--addresses", required=True)
    r.add_argument("--log", required=True)
    r.add_argument("--stop", required=True)
    r.add_argument("--port", type=int, default=2181)
    r.add_argument("--pace", type=float, default=0.03)
    m = sub.add_parser("mark")
    m.add_argument("--log", required=True)
    m.add_argument("phase")
    v = sub.add_parser("verify")
    v.add_argument("--log", required=True)
    v.add_argument("--hosts", required=True)
    z = sub.add_parser("analyze")
    z.add_argument("--log", required=True)
    z.add_argument("--phase", required=True)
    z.add_argument("--pods", required=True)
    z.add_argument("--max-down", type=int)
    z.add_argument("--expect-restarts", type=int)
    z.add_argument("--leader-last", action="store_true")
    z.add_argument("--handover", action="store_true", help="no member may be leading when it goes down")
    z.add_argument("--max-noquorum", type=float)
    z.add_argument("--max-write-gap", type=float)
    a = ap.parse_args()
    if a.cmd == "run":
        run(a)
        return 0
    if a.cmd == "mark":
        emit(a.log, {"ev": "mark", "phase": a.phase})
        return 0
    if a.cmd == "verify":
        return verify(a)
    return analyze(a)


if __name__ == "__main__":
    sys.exit(main())
