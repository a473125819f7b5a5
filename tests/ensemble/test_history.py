"""Concurrent clients record a history while faults run; the checker verifies it.

Writes (set/create/delete) and sync+get must be linearizable, plain gets sequentially consistent
(zxid checks, per session), and no acknowledged create may be lost.

Environment knobs (soak.sh sets them): RZK_HIST_SECONDS (fault phase length, default 24),
RZK_HIST_SEED (default random, printed), RZK_HIST_CLIENTS (default 6), RZK_HIST_KEYS (default 4),
RZK_HIST_FAULTS (comma list of kill_leader, kill_follower, pause_leader, partition_leader,
pause_follower, partition_follower, kill_two; default all but kill_two on 3 members),
RZK_HIST_RANDOM=1 (faults in random order instead of round robin).
"""

import json
import os
import random
import sys
import time

import pytest

import ens_util
from linearizability import check_history, dump
from workload import Recorder, Worker, check_unique_creates, final_reads, setup_keys

ALL_FAULTS = ["kill_leader", "kill_follower", "pause_leader", "partition_leader", "pause_follower",
              "partition_follower"]


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Nemesis:
    def __init__(self, ens, rec, rnd, log):
        self.ens, self.rec, self.rnd, self.log = ens, rec, rnd, log
        self.kills = []  # (t, leader) of leader kills, for failover times

    def note(self, text):
        t = self.rec.event(text)
        self.log.append("%7.3f %s" % (t, text))

    def leader(self):
        return self.ens.wait_leader(timeout=30)

    def observer(self):
        obs = [i for i in self.ens.ids() if self.ens.members[i].role == "observer"]
        return self.rnd.choice(obs)

    def kill_observer(self):
        o = self.observer()
        self.ens.kill9(o)
        self.note("kill -9 observer %d" % o)
        time.sleep(self.rnd.uniform(1.0, 2.0))
        self.ens.start_member(o, wait=False)
        self.note("restarted %d" % o)

    def partition_observer(self):
        o = self.observer()
        self.ens.isolate(o)
        self.note("isolate observer %d" % o)
        time.sleep(self.rnd.uniform(2.0, 3.0))
        self.ens.heal()
        self.note("heal")

    def follower(self):
        l = self.leader()
        return self.rnd.choice([i for i in self.ens.live() if i != l and self.ens.members[i].role == "participant"])

    def settle(self):
        self.ens.wait_healthy(timeout=40)

    def kill_leader(self):
        l = self.leader()
        t = self.rec.now()
        self.ens.kill9(l)
        self.kills.append((t, l))
        self.note("kill -9 leader %d" % l)
        self.ens.wait_leader(timeout=30, exclude=[l])
        time.sleep(self.rnd.uniform(0.5, 2.0))
        self.ens.start_member(l, wait=False)
        self.note("restarted %d" % l)

    def kill_follower(self):
        f = self.follower()
        self.ens.kill9(f)
        self.note("kill -9 follower %d" % f)
        time.sleep(self.rnd.uniform(1.0, 2.5))
        self.ens.start_member(f, wait=False)
        self.note("restarted %d" % f)

    def kill_two(self):
        # 5 members: kill the leader and a follower at once (quorum survives)
        l = self.leader()
        f = self.follower()
        t = self.rec.now()
        self.ens.kill9(l)
        self.ens.kill9(f)
        self.kills.append((t, l))
        self.note("kill -9 leader %d and follower %d" % (l, f))
        time.sleep(self.rnd.uniform(2.0, 3.0))
        self.ens.start_member(l, wait=False)
        self.ens.start_member(f, wait=False)
        self.note("restarted %d, %d" % (l, f))

    def pause_leader(self):
        l = self.leader()
        self.ens.pause(l)
        self.note("SIGSTOP leader %d" % l)
        time.sleep(self.rnd.uniform(2.5, 4.0))  # > election timeout (tick 1000: 0.5-1 s)
        self.ens.resume(l)
        self.note("SIGCONT %d" % l)

    def pause_follower(self):
        f = self.follower()
        self.ens.pause(f)
        self.note("SIGSTOP follower %d" % f)
        time.sleep(self.rnd.uniform(1.5, 3.0))
        self.ens.resume(f)
        self.note("SIGCONT %d" % f)

    def partition_leader(self):
        l = self.leader()
        self.ens.isolate(l)
        self.note("isolate leader %d" % l)
        time.sleep(self.rnd.uniform(3.0, 4.5))
        self.ens.heal()
        self.note("heal")

    def partition_follower(self):
        f = self.follower()
        self.ens.isolate(f)
        self.note("isolate follower %d" % f)
        time.sleep(self.rnd.uniform(2.0, 3.0))
        self.ens.heal()
        self.note("heal")

    def run(self, faults, seconds):
        end = time.time() + seconds
        i = 0
        shuffled = bool(os.environ.get("RZK_HIST_RANDOM"))
        while time.time() < end:
            fault = self.rnd.choice(faults) if shuffled else faults[i % len(faults)]
            i += 1
            time.sleep(self.rnd.uniform(0.8, 1.5))
            getattr(self, fault)()
            self.settle()
            self.note("healthy")


def run_history(ens, test_name, seconds, faults, seed, n_clients=6, n_keys=4, artifacts=None):
    rnd = random.Random(seed)
    rec = Recorder()
    keys = ["k%d" % i for i in range(n_keys)]
    admin = ens.client()
    init = setup_keys(admin, keys, rec)
    import threading

    stop = threading.Event()
    ids = ens.ids()
    workers = []
    for w in range(n_clients):
        home = ids[w % len(ids)]
        order = [home] + [i for i in ids if i != home]
        workers.append(Worker("c%d" % w, ens.connect_string(order), keys, rec, stop, seed * 100 + w))
    for w in workers:
        w.start()
    log = []
    nem = Nemesis(ens, rec, rnd, log)
    try:
        time.sleep(1.0)
        nem.note("faults start: %s" % ",".join(faults))
        nem.run(faults, seconds)
        time.sleep(1.0)
    finally:
        stop.set()
        for w in workers:
            w.join(30)
        for i in ens.ids():
            m = ens.members[i]
            if m.paused:
                ens.resume(i)
        ens.heal()
    for i in ens.ids():
        if not ens.members[i].alive:
            ens.start_member(i, wait=False)
    ens.wait_healthy(timeout=40)
    ens.wait_converged(timeout=30)
    final_reads(ens, keys, rec)
    errors = [w.error for w in workers if w.error]
    lost, n_acked, n_maybe = check_unique_creates(ens, rec)
    result = check_history(rec.ops, init)

    counts = {}
    for o in rec.ops:
        counts.setdefault(o.f, {}).setdefault(o.status, 0)
        counts[o.f][o.status] += 1
    # failover: leader kill -> first acknowledged write invoked after it
    for t, l in nem.kills:
        after = [o.t1 for o in rec.ops if o.f in ("set", "create", "delete", "cu") and o.status == "ok" and o.t0 >= t]
        if after:
            ens_util.FAILOVERS.append({"test": test_name, "n": len(ens.participants()), "old_leader": l,
                                       "election": None, "write": min(after) - t, "via": "history clients"})
    summary = {"seed": seed, "ops": len(rec.ops), "counts": counts, "acked_unique": n_acked,
               "unknown_unique": n_maybe, "sessions": sum(len(w.sessions) for w in workers),
               "checker": result.stats, "nemesis": log}
    print(json.dumps(summary, indent=1))
    if artifacts and (not result.ok or lost or errors or os.environ.get("RZK_ENS_KEEP")):
        os.makedirs(artifacts, exist_ok=True)
        dump(rec.ops, os.path.join(artifacts, "history.jsonl"))
        with open(os.path.join(artifacts, "nemesis.txt"), "w") as f:
            f.write("\n".join(log) + "\n")
        print("history saved in %s" % artifacts)
    assert not errors, "client threads failed: %r" % errors
    assert result.ok, "history check failed (seed %d):\n%s" % (seed, result.report())
    assert not lost, "\n".join(lost)
    # the run must have done real work in every phase
    ok_writes = sum(1 for o in rec.ops if o.f in ("set", "create", "delete", "cu") and o.status == "ok")
    ok_sgets = sum(1 for o in rec.ops if o.f == "sget" and o.status == "ok")
    assert ok_writes > 100 and ok_sgets >= 10, summary["counts"]
    return rec, summary


def _seed():
    s = os.environ.get("RZK_HIST_SEED")
    return int(s) if s else random.randrange(1 << 30)


def _faults(default):
    f = os.environ.get("RZK_HIST_FAULTS")
    return [x.strip() for x in f.split(",") if x.strip()] if f else default


def test_history_3_nodes_under_faults(make_ensemble, request):
    seed = _seed()
    print("seed", seed)
    ens = make_ensemble(3)
    run_history(ens, request.node.name, env_int("RZK_HIST_SECONDS", 24), _faults(ALL_FAULTS), seed,
                n_clients=env_int("RZK_HIST_CLIENTS", 6), n_keys=env_int("RZK_HIST_KEYS", 4),
                artifacts=os.path.join(ens.dir, "history"))


def test_history_5_nodes_under_faults(make_ensemble, request):
    seed = _seed()
    print("seed", seed)
    ens = make_ensemble(5)
    run_history(ens, request.node.name, env_int("RZK_HIST_SECONDS", 18),
                _faults(["kill_leader", "partition_leader", "kill_two", "pause_leader"]), seed,
                n_clients=env_int("RZK_HIST_CLIENTS", 6), n_keys=env_int("RZK_HIST_KEYS", 4),
                artifacts=os.path.join(ens.dir, "history"))


def test_history_3_nodes_and_observer_under_faults(make_ensemble, request):
    """Clients homed on every member including an observer (reads served by the observer, writes
    forwarded through it)."""
    seed = _seed()
    print("seed", seed)
    ens = make_ensemble(3, observers=1)
    run_history(ens, request.node.name, env_int("RZK_HIST_SECONDS", 14),
                _faults(["kill_leader", "kill_observer", "partition_leader", "partition_observer"]), seed,
                n_clients=max(4, env_int("RZK_HIST_CLIENTS", 4)), n_keys=env_int("RZK_HIST_KEYS", 3),
                artifacts=os.path.join(ens.dir, "history"))
