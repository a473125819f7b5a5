"""Unit tests of the history checker: known-good and known-bad histories, a brute-force reference
on random small histories, and simulated valid histories of realistic size (must pass quickly)."""

import itertools
import os
import random
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from linearizability import (  # noqa: E402
    ABSENT,
    Op,
    check_history,
    check_key,
    check_linearizable,
    check_zxids,
    step,
)

_ids = itertools.count(1)


def W(proc, f, t0, t1, arg=None, status="ok", version=None, error=None, key="k", zxid=None, session=None):
    return Op(next(_ids), proc, f, key, t0, None if status == "info" else t1, status, arg,
              version=version, error=error, zxid=zxid, session=session)


def R(proc, t0, t1, value=None, version=None, f="sget", key="k", exists=None, mzxid=None, zxid=None, session=None):
    if exists is None:
        exists = value is not None
    return Op(next(_ids), proc, f, key, t0, t1, "ok", None, exists, value, version, mzxid, zxid, session)


INIT = {"k": (True, "v0", 0)}


def lin(ops, init=INIT):
    return check_linearizable(ops, init)


# ------------------------------------------------------------------------------------------
# known-good
# ------------------------------------------------------------------------------------------


def test_sequential_history_is_linearizable():
    h = [
        W("a", "set", 0, 1, "x", version=1),
        R("b", 2, 3, "x", 1),
        W("a", "delete", 4, 5),
        R("b", 6, 7, None),
        W("b", "set", 8, 9, "y", status="fail", error="NoNode"),
        W("a", "create", 10, 11, "z"),
        W("b", "create", 12, 13, "q", status="fail", error="NodeExists"),
        R("a", 14, 15, "z", 0),
    ]
    assert lin(h).ok


def test_concurrent_write_may_be_seen_or_not():
    # the read overlaps the write: either value is fine
    for seen, ver in (("v0", 0), ("x", 1)):
        h = [W("a", "set", 0, 10, "x", version=1), R("b", 1, 2, seen, ver)]
        assert lin(h).ok, seen


def test_overlapping_writes_in_either_order():
    h = [
        W("a", "set", 0, 10, "x", version=2),
        W("b", "set", 1, 9, "y", version=1),
        R("c", 11, 12, "x", 2),
    ]
    assert lin(h).ok


def test_unknown_write_may_apply_late_or_never():
    # an unknown-outcome write seen much later
    h = [
        W("a", "set", 0, None, "x", status="info"),
        R("b", 5, 6, "v0", 0),
        R("b", 20, 21, "x", 1),
    ]
    assert lin(h).ok
    # ... or never seen at all, while others continue
    h = [
        W("a", "set", 0, None, "x", status="info"),
        W("b", "set", 5, 6, "y", version=1),
        R("b", 20, 21, "y", 1),
    ]
    assert lin(h).ok


def test_many_unknown_writes_stay_fast():
    # 60 unknown-outcome writes nobody observed, interleaved with acknowledged ones: the symmetry
    # reduction must keep this fast (without it the search space is 2^60)
    h = []
    t = 0.0
    v = 0
    for i in range(60):
        h.append(W("u%d" % i, "set", t, None, "lost%d" % i, status="info"))
        t += 1
        v += 1
        h.append(W("a", "set", t, t + 0.5, "ok%d" % i, version=v))
        t += 1
    h.append(R("b", t, t + 1, "ok59", v))
    start = time.time()
    assert lin(h).ok
    assert time.time() - start < 5


def test_version_gap_explained_by_unknown_write():
    # set returns version 2: the unknown write must have happened in between
    h = [
        W("a", "set", 0, None, "x", status="info"),
        W("b", "set", 5, 6, "y", version=2),
        R("b", 7, 8, "y", 2),
    ]
    assert lin(h).ok


# ------------------------------------------------------------------------------------------
# known-bad
# ------------------------------------------------------------------------------------------


def test_stale_read_after_completed_write():
    h = [W("a", "set", 0, 1, "x", version=1), R("b", 2, 3, "v0", 0)]
    r = lin(h)
    assert not r.ok
    assert "no linearization" in r.report()


def test_lost_acknowledged_write():
    h = [
        W("a", "set", 0, 1, "x", version=1),
        W("a", "set", 2, 3, "y", version=2),
        R("b", 10, 11, "x", 1),
    ]
    assert not lin(h).ok


def test_read_of_value_never_written():
    assert not lin([R("b", 0, 1, "ghost", 1)]).ok


def test_read_from_the_future():
    # the value is read before its write was even invoked
    h = [R("b", 0, 1, "x", 1), W("a", "set", 2, 3, "x", version=1)]
    assert not lin(h).ok


def test_split_brain_same_version_twice():
    # two acknowledged concurrent sets both claim version 1 (two leaders accepted writes)
    h = [W("a", "set", 0, 2, "x", version=1), W("b", "set", 0, 2, "y", version=1)]
    assert not lin(h).ok


def test_version_skipped_without_explanation():
    h = [W("a", "set", 0, 1, "x", version=2)]
    assert not lin(h).ok


def test_create_succeeds_twice():
    h = [W("a", "create", 0, 1, "x"), W("b", "create", 2, 3, "y")]
    assert not lin(h, {}).ok


def test_nonode_while_node_exists():
    h = [W("a", "set", 0, 1, "x", status="fail", error="NoNode")]
    assert not lin(h).ok
    h = [W("a", "delete", 0, 1), R("b", 2, 3, "v0", 0)]
    assert not lin(h).ok


def test_unknown_write_cannot_appear_then_disappear():
    # x seen, then the old value again, with no write in between
    h = [
        W("a", "set", 0, None, "x", status="info"),
        R("b", 5, 6, "x", 1),
        R("b", 7, 8, "v0", 0),
    ]
    assert not lin(h).ok


def test_non_monotonic_sync_reads_across_clients():
    # b reads the new value, then (strictly later) c reads the old one: not linearizable
    h = [
        W("a", "set", 0, 100, "x", version=1),
        R("b", 10, 11, "x", 1),
        R("c", 20, 21, "v0", 0),
    ]
    assert not lin(h).ok


def test_plain_reads_are_not_held_to_linearizability():
    h = [W("a", "set", 0, 1, "x", version=1), R("b", 2, 3, "v0", 0, f="get")]
    assert lin(h).ok


def test_definite_errors_only():
    with pytest.raises(ValueError):
        lin([W("a", "set", 0, 1, "x", status="fail", error="ConnectionLoss")])


# ------------------------------------------------------------------------------------------
# zxid checks
# ------------------------------------------------------------------------------------------

ZINIT = {"k": ("v0", 0, 1)}


def zx(ops):
    return check_zxids(ops, ZINIT)


def test_zxid_good_history_with_stale_follower_reads():
    h = [
        W("a", "set", 0, 1, "x", version=1, zxid=5, session=1),
        # b is on a lagging follower: a plain read may be stale, but consistent with its zxid
        R("b", 2, 3, "v0", 0, f="get", mzxid=1, zxid=4, session=2),
        R("b", 4, 5, "x", 1, f="get", mzxid=5, zxid=6, session=2),
        R("b", 6, 7, "x", 1, f="sget", mzxid=5, zxid=6, session=2),
        W("b", "set", 8, 9, "y", version=2, zxid=7, session=2),
        R("a", 10, 11, "y", 2, f="get", mzxid=7, zxid=7, session=1),
    ]
    assert zx(h).ok, zx(h).report()
    assert check_history(h, ZINIT).ok


def test_zxid_session_goes_back():
    h = [
        R("b", 0, 1, "x", 1, f="get", mzxid=5, zxid=6, session=2),
        R("b", 2, 3, "v0", 0, f="get", mzxid=1, zxid=4, session=2),
        W("a", "set", -2, -1, "x", version=1, zxid=5, session=1),
    ]
    r = zx(h)
    assert not r.ok and "went back in time" in r.report()


def test_zxid_read_your_writes():
    h = [
        W("a", "set", 0, 1, "x", version=1, zxid=5, session=1),
        R("a", 2, 3, "v0", 0, f="get", mzxid=1, zxid=4, session=1),
    ]
    assert not zx(h).ok


def test_zxid_stale_read_claims_newer_state():
    # the read says the server was at zxid 6, but key k was rewritten at 5
    h = [
        W("a", "set", 0, 1, "x", version=1, zxid=5, session=1),
        R("b", 2, 3, "v0", 0, f="get", mzxid=1, zxid=6, session=2),
    ]
    r = zx(h)
    assert not r.ok and "stale read" in r.report()


def test_zxid_write_order_contradicts_real_time():
    h = [
        W("a", "set", 0, 1, "x", version=1, zxid=9, session=1),
        W("b", "set", 2, 3, "y", version=2, zxid=7, session=2),
    ]
    assert not zx(h).ok


def test_zxid_sync_read_misses_completed_write():
    h = [
        W("a", "set", 0, 1, "x", version=1, zxid=5, session=1),
        R("b", 2, 3, "v0", 0, f="sget", mzxid=1, zxid=4, session=2),
    ]
    assert not zx(h).ok


def test_zxid_duplicate():
    h = [
        W("a", "set", 0, 1, "x", version=1, zxid=5, session=1),
        W("b", "set", 0, 1, "y", version=2, key="j", zxid=5, session=2),
    ]
    assert not zx(h).ok


def test_zxid_nonode_read_while_node_exists():
    h = [R("b", 0, 1, None, f="get", zxid=3, session=2)]
    assert not zx(h).ok
    # but fine if an unknown-outcome delete may have happened
    h.append(W("a", "delete", 0, None, status="info", session=1))
    assert zx(h).ok


def test_zxid_read_of_wrong_version():
    h = [
        W("a", "set", 0, 1, "x", version=1, zxid=5, session=1),
        R("b", 2, 3, "x", 7, f="get", mzxid=5, zxid=5, session=2),
    ]
    assert not zx(h).ok


# ------------------------------------------------------------------------------------------
# brute force reference and simulated histories
# ------------------------------------------------------------------------------------------


def brute_force(ops, init):
    """Reference: try every order of (a subset of the unknown-outcome) ops respecting real time."""
    ops = [o for o in ops if o.f in ("create", "set", "delete") or (o.f == "sget" and o.status == "ok")]
    known = [o for o in ops if o.status != "info"]
    unknown = [o for o in ops if o.status == "info"]
    for k in range(len(unknown) + 1):
        for extra in itertools.combinations(unknown, k):
            chosen = known + list(extra)
            for perm in itertools.permutations(chosen):
                ok = True
                for i in range(len(perm)):
                    for j in range(i + 1, len(perm)):
                        if perm[j].end() < perm[i].t0:
                            ok = False
                            break
                    if not ok:
                        break
                if not ok:
                    continue
                st = init
                for o in perm:
                    st = step(st, o)
                    if st is None:
                        break
                if st is not None:
                    return True
    return False


def simulate(seed, procs=3, n_ops=8, keys=("k",), p_info=0.15, p_get=0.2, lag=True):
    """A valid history: ops get linearization points inside their intervals (unknown-outcome ones
    later or never) and results from applying them in that order; plain gets read a state at most
    as new as the linearization point and no older than what the session saw."""
    rnd = random.Random(seed)
    ops = []
    for p in range(procs):
        t = rnd.random()
        for _ in range(n_ops):
            r = rnd.random()
            f = "sget" if r < 0.3 else "get" if r < 0.3 + p_get else rnd.choice(["set", "set", "set", "create", "delete"])
            dur = rnd.uniform(0.1, 2.0)
            o = Op(0, "p%d" % p, f, rnd.choice(keys), t, t + dur, "ok", session=p + 1)
            if f in ("set", "create"):
                o.arg = "v%d-%d" % (seed, len(ops))
            if f not in ("get", "sget") and rnd.random() < p_info:
                o.status = "info"
            ops.append(o)
            t += dur + rnd.uniform(0.0, 1.0)
    for i, o in enumerate(ops):
        o.id = i + 1
    points = []
    for o in ops:
        if o.status == "info":
            if rnd.random() < 0.5:
                points.append((o.t0 + rnd.uniform(0, 10), o))
        else:
            points.append((rnd.uniform(o.t0, o.t1), o))
    points.sort(key=lambda x: x[0])
    state = {k: (True, "init-%s" % k, 0) for k in keys}
    zxid = 10
    hist = {k: [(zxid, state[k])] for k in keys}  # key -> [(zxid, state after)]
    seen = {}
    for _, o in points:
        ex, val, ver = state[o.key]
        if o.f in ("create", "set", "delete"):
            ns = step(state[o.key], Op(0, "", o.f, o.key, 0, 0, "info", o.arg))
            if o.status == "ok":
                if ns == state[o.key]:
                    o.status, o.error = "fail", ("NodeExists" if o.f == "create" else "NoNode")
                elif o.f == "set":
                    o.version = ns[2]
            zxid += 1
            if o.status != "info":
                o.zxid = zxid
                seen[o.session] = zxid
            if ns != state[o.key]:
                state[o.key] = ns
                hist[o.key].append((zxid, ns))
        else:
            lo = seen.get(o.session, 10)
            z = zxid if (o.f == "sget" or not lag) else rnd.randint(min(lo, zxid), zxid)
            z = max(z, lo)
            st = [s for zz, s in hist[o.key] if zz <= z][-1]
            mz = [zz for zz, s in hist[o.key] if zz <= z][-1]
            o.exists, o.value, o.version = st[0], st[1], st[2] if st[0] else None
            o.mzxid = mz if st[0] else None
            o.zxid = z
            seen[o.session] = max(lo, z)
    # reads never linearized? every read has a point (they are never info)
    init = {k: ("init-%s" % k, 0, 10) for k in keys}
    return ops, init


@pytest.mark.parametrize("seed", range(150))
def test_random_small_histories_agree_with_brute_force(seed):
    ops, init = simulate(seed, procs=3, n_ops=3)
    lin_init = (True, "init-k", 0)
    assert check_key(ops, lin_init)[0] is True
    assert brute_force(ops, lin_init)
    assert check_zxids(ops, init).ok, check_zxids(ops, init).report()
    # mutate one sync read to another state the key had: the checker must agree with brute force
    rnd = random.Random(seed)
    reads = [o for o in ops if o.f == "sget"]
    if not reads:
        return
    r = rnd.choice(reads)
    writes = [o for o in ops if o.f in ("set", "create") and o.arg]
    if writes and rnd.random() < 0.7:
        w = rnd.choice(writes)
        r.exists, r.value, r.version = True, w.arg, rnd.choice([0, 1, 2, 3])
    else:
        r.exists, r.value, r.version = (not r.exists), ("init-k" if not r.exists else None), (0 if not r.exists else None)
    got = check_key(ops, lin_init)[0]
    assert got == brute_force(ops, lin_init)


@pytest.mark.parametrize("seed", range(6))
def test_simulated_realistic_histories_pass_quickly(seed):
    ops, init = simulate(1000 + seed, procs=6, n_ops=150, keys=("a", "b", "c"), p_info=0.05)
    start = time.time()
    r = check_history(ops, init)
    assert r.ok, r.report()
    assert time.time() - start < 20


def test_simulated_history_with_one_stale_sync_read_fails():
    ops, init = simulate(77, procs=5, n_ops=120, keys=("a",), p_info=0.05)
    assert check_history(ops, init).ok
    # make a sync read return the state from before a write that completed before the read began
    writes = sorted((o for o in ops if o.f == "set" and o.status == "ok"), key=lambda o: o.t1)
    for r in sorted((o for o in ops if o.f == "sget" and o.exists), key=lambda o: o.t0):
        done = [w for w in writes if w.t1 < r.t0 and w.version is not None and w.version >= 1]
        if done and done[-1].version == r.version:
            w = done[-1]
            prev = [o for o in writes if o.version == w.version - 1 and o.zxid < w.zxid]
            if prev:
                r.value, r.version = prev[-1].arg, prev[-1].version
                break
    else:
        pytest.skip("no suitable read in this simulation")
    res = check_linearizable(ops, {"a": (True, "init-a", 0)})
    assert not res.ok
