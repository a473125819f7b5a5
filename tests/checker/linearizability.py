"""History checker for ZooKeeper-style registers (written for rzk's ensemble tests).

A history is a list of `Op`s recorded by concurrent clients: invocation time `t0`, completion time
`t1` (None when the outcome is unknown: timeout / connection loss), the status (`ok`, `fail` =
definite error reply such as NoNode/NodeExists, `info` = unknown outcome) and what came back.

Operations (`f`), all on the znode `key`:
  create(arg)  -> ok | fail NodeExists             (new node: value arg, version 0)
  set(arg)     -> ok with the new stat version | fail NoNode   (unconditional, version -1)
  delete       -> ok | fail NoNode                 (unconditional)
  sget         -> sync + getData: exists/value/version (or NoNode)   must be LINEARIZABLE
  get          -> plain getData (served locally)               must be SEQUENTIALLY CONSISTENT
  cu           -> create of a unique node (not a register op; used for "no acked write lost")

check_linearizable(ops): Wing & Gong search with Lowe's memoisation (the algorithm porcupine uses),
per key (P-compositionality: a history is linearizable iff each key's sub-history is), over a
register model whose state is (exists, value, version). Writes with unknown outcome may take
effect at any point after their invocation, or never. Plain gets are left out (they need not be
linearizable). Unknown-outcome writes whose value nobody ever read are interchangeable, so they
are linearized in invocation order only (symmetry reduction; keeps the search polynomial when
many writes time out during a fault).

check_zxids(ops): uses the zxids the server returned (reply header zxid of every reply, the
stat.mzxid of reads) as a claimed total order and verifies it: zxids of writes unique and
consistent with real time (a write that completed before another began has the smaller zxid);
per session, the zxids seen never go back and every write gets a zxid above everything the
session saw before (FIFO, read-your-writes, monotonic reads, also across reconnects to another
member); every read (plain or after sync) returns exactly the state of its key after the last
write with zxid <= the read's zxid (so a read observes a prefix of the one write order: sequential
consistency); a read after sync reflects every write completed before the sync began.

Both are independent: the first trusts only values, versions and times; the second cross-checks
the server's own ordering claims.
"""

import json
from dataclasses import asdict, dataclass, field
from typing import Optional

INF = float("inf")
ABSENT = (False, None, -1)
UNOBSERVED = "<unobserved>"
WRITES = ("create", "set", "delete")
DEFINITE_ERRORS = ("NoNode", "NodeExists", "BadVersion", "NotEmpty")


@dataclass
class Op:
    id: int
    proc: str
    f: str
    key: str
    t0: float
    t1: Optional[float] = None
    status: str = "info"  # ok | fail | info
    arg: Optional[str] = None  # value written
    exists: Optional[bool] = None  # read result
    value: Optional[str] = None  # read result
    version: Optional[int] = None  # stat version returned by set / read
    mzxid: Optional[int] = None  # read stat mzxid
    zxid: Optional[int] = None  # reply header zxid
    session: Optional[int] = None
    error: Optional[str] = None
    extra: dict = field(default_factory=dict)

    def end(self):
        return INF if self.t1 is None or self.status == "info" else self.t1

    def short(self):
        s = "#%d %s %s %s" % (self.id, self.proc, self.f, self.key)
        if self.arg is not None:
            s += " arg=%s" % self.arg
        s += " [%.4f, %s] %s" % (self.t0, "inf" if self.end() == INF else "%.4f" % self.t1, self.status)
        if self.status == "ok" and self.f in ("get", "sget"):
            s += " -> %s" % ("(%s v%s mzxid=%s)" % (self.value, self.version, self.mzxid) if self.exists else "NoNode")
        elif self.status == "ok" and self.f == "set":
            s += " -> v%s" % self.version
        if self.error:
            s += " err=%s" % self.error
        if self.zxid is not None:
            s += " zxid=%s" % self.zxid
        return s


def dump(ops, path):
    with open(path, "w") as f:
        for o in ops:
            f.write(json.dumps(asdict(o)) + "\n")


def load(path):
    with open(path) as f:
        return [Op(**json.loads(line)) for line in f if line.strip()]


class Result:
    def __init__(self, ok, problems=None, stats=None):
        self.ok = ok
        self.problems = problems or []
        self.stats = stats or {}

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return "Result(ok=%s, problems=%d)" % (self.ok, len(self.problems))

    def report(self, limit=5):
        if self.ok:
            return "ok %s" % self.stats
        return "\n\n".join(self.problems[:limit]) + (
            "\n... %d more" % (len(self.problems) - limit) if len(self.problems) > limit else "")


# ---------------------------------------------------------------------------------------------
# Register model
# ---------------------------------------------------------------------------------------------


def step(state, op, observed=True):
    """Next state after `op` at its linearization point, or None if op's result contradicts state."""
    ex, val, ver = state
    f, st = op.f, op.status
    if f == "create":
        if st == "ok":
            return (True, op.arg, 0) if not ex else None
        if st == "fail":
            return state if ex and op.error == "NodeExists" else None
        return (True, op.arg if observed else UNOBSERVED, 0) if not ex else state
    if f == "set":
        if st == "ok":
            return (True, op.arg, ver + 1) if ex and op.version == ver + 1 else None
        if st == "fail":
            return state if not ex and op.error == "NoNode" else None
        return (True, op.arg if observed else UNOBSERVED, ver + 1) if ex else state
    if f == "delete":
        if st == "ok":
            return ABSENT if ex else None
        if st == "fail":
            return state if not ex and op.error == "NoNode" else None
        return ABSENT if ex else state
    if f in ("sget", "get"):
        if op.exists:
            return state if ex and val == op.value and ver == op.version else None
        return state if not ex else None
    raise ValueError("unknown op %r" % f)


def _relevant_for_linearizability(op):
    if op.f in WRITES:
        if op.status == "fail" and op.error not in DEFINITE_ERRORS:
            raise ValueError("op %s: 'fail' with non-definite error %r (record it as info)" % (op.id, op.error))
        return True
    if op.f == "sget":
        return op.status == "ok"
    return False


def check_key(ops, init=ABSENT, max_steps=5_000_000, extra_observed=()):
    """Wing & Gong + memoisation on one key. Returns (ok, explanation or None, steps); ok is None
    when the search gave up. extra_observed: values known to have been written (e.g. seen by
    plain reads)."""
    ops = [o for o in ops if _relevant_for_linearizability(o)]
    n = len(ops)
    if n == 0:
        return True, None, 0
    observed_values = set()
    for o in ops:
        if o.f == "sget" and o.exists:
            observed_values.add(o.value)
    observed_values |= set(extra_observed)
    observed = [not (o.status == "info" and o.arg not in observed_values) for o in ops]
    # symmetry class of unobserved unknown-outcome writes: linearize them in invocation order only
    sym = [None if observed[i] else ops[i].f for i in range(n)]

    # events: calls and returns sorted by time; on ties a call comes first (concurrent: lenient)
    events = []
    for i, o in enumerate(ops):
        events.append((o.t0, 0, i))
        events.append((o.end(), 1, i))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    # doubly linked list over nodes 1..2n; node 0 = head sentinel, node 2n+1 = tail sentinel
    size = 2 * n + 2
    nxt = [0] * size
    prv = [0] * size
    is_call = [False] * size
    op_of = [0] * size
    match = [0] * size  # call node -> its return node
    call_node = [0] * n
    ret_node = [0] * n
    for pos, (_, kind, i) in enumerate(events, start=1):
        is_call[pos] = kind == 0
        op_of[pos] = i
        if kind == 0:
            call_node[i] = pos
        else:
            ret_node[i] = pos
    for i in range(n):
        match[call_node[i]] = ret_node[i]
    tail = size - 1
    for p in range(size - 1):
        nxt[p] = p + 1
        prv[p + 1] = p

    def lift(c):
        r = match[c]
        nxt[prv[c]] = nxt[c]
        prv[nxt[c]] = prv[c]
        nxt[prv[r]] = nxt[r]
        prv[nxt[r]] = prv[r]

    def unlift(c):
        r = match[c]
        prv[nxt[r]] = r
        nxt[prv[r]] = r
        prv[nxt[c]] = c
        nxt[prv[c]] = c

    state = init
    linearized = 0
    cache = set()
    stack = []
    best = (0, [], init)
    entry = nxt[0]
    steps = 0
    skipped_sym = set()
    while nxt[0] != tail:
        steps += 1
        if steps > max_steps:
            return None, "search gave up after %d steps (history too concurrent)" % max_steps, steps
        if entry == tail:
            # only unknown-outcome ops are left, and they may never have happened
            break
        if is_call[entry]:
            i = op_of[entry]
            o = ops[i]
            if entry == nxt[0]:
                skipped_sym = set()
            if sym[i] is not None and sym[i] in skipped_sym:
                entry = nxt[entry]
                continue
            ns = step(state, o, observed[i])
            if ns is not None:
                nl = linearized | (1 << i)
                k = (nl, ns)
                if k not in cache:
                    cache.add(k)
                    stack.append((entry, state))
                    state = ns
                    linearized = nl
                    lift(entry)
                    if len(stack) > best[0]:
                        best = (len(stack), [op_of[c] for c, _ in stack], state)
                    entry = nxt[0]
                    skipped_sym = set()
                    continue
            if sym[i] is not None:
                skipped_sym.add(sym[i])
            entry = nxt[entry]
        else:
            if ops[op_of[entry]].end() == INF:
                # reached the unknown-outcome tail: everything left may never have happened
                break
            if not stack:
                return False, _explain(ops, best, init), steps
            entry, state = stack.pop()
            linearized &= ~(1 << op_of[entry])
            unlift(entry)
            entry = nxt[entry]
            # walking on from a restored call: recompute the symmetry skips from the head
            skipped_sym = set()
            p = nxt[0]
            while p != entry:
                if is_call[p] and sym[op_of[p]] is not None:
                    skipped_sym.add(sym[op_of[p]])
                p = nxt[p]
    return True, None, steps


def _explain(ops, best, init):
    depth, order, state = best
    done = set(order)
    lines = ["no linearization; longest linearizable prefix has %d of %d ops:" % (depth, len(ops))]
    st = init
    tail = order[-12:]
    for i in order[: len(order) - len(tail)]:
        st = step(st, ops[i])
    for i in tail:
        st = step(st, ops[i])
        lines.append("   %s   => state %s" % (ops[i].short(), st))
    pending = sorted((o for i, o in enumerate(ops) if i not in done), key=lambda o: o.t0)
    first_end = min((o.end() for o in pending), default=INF)
    lines.append("after that, state %s; none of these can go next (the first must complete by %.4f):" % (
        state, first_end))
    for o in pending[:12]:
        if o.t0 <= first_end:
            lines.append("   %s" % o.short())
    return "\n".join(lines)


def check_linearizable(ops, init=None, max_steps=5_000_000):
    """Check writes + sync'ed reads per key. init: {key: (exists, value, version)} (default absent)."""
    init = init or {}
    by_key = {}
    for o in ops:
        if o.f in WRITES or o.f == "sget":
            by_key.setdefault(o.key, []).append(o)
    problems = []
    stats = {"keys": len(by_key), "steps": 0, "ops": 0}
    # values observed by plain reads count as observed too (they prove the write took effect)
    plain_seen = {}
    for o in ops:
        if o.f == "get" and o.status == "ok" and o.exists:
            plain_seen.setdefault(o.key, set()).add(o.value)
    for key in sorted(by_key):
        ok, why, steps = check_key(by_key[key], init.get(key, ABSENT), max_steps, plain_seen.get(key, ()))
        stats["steps"] += steps
        stats["ops"] += len(by_key[key])
        if ok is None:
            problems.append("key %s: %s" % (key, why))
        elif not ok:
            problems.append("key %s: %s" % (key, why))
    return Result(not problems, problems, stats)


# ---------------------------------------------------------------------------------------------
# zxid-based checks (sequential consistency of plain reads, session order, sync)
# ---------------------------------------------------------------------------------------------


def check_zxids(ops, init=None):
    """init: {key: (value, version, zxid)} for keys that exist before the history starts."""
    init = init or {}
    problems = []
    writes = [o for o in ops if o.f in WRITES + ("cu",) and o.status == "ok"]
    for o in writes:
        if o.zxid is None or o.zxid <= 0:
            problems.append("write without a reply zxid: %s" % o.short())
    writes = [o for o in writes if o.zxid]
    # 1. zxids of acknowledged writes are unique
    seen = {}
    for o in writes:
        if o.zxid in seen:
            problems.append("two acknowledged writes share zxid %d:\n   %s\n   %s" % (o.zxid, seen[o.zxid].short(), o.short()))
        seen[o.zxid] = o
    # 2. real time: a write that completed before another began has the smaller zxid
    problems += _realtime_zxid(writes, writes, strict=True, what="write")
    # 3. a sync+read reflects every write that completed before the sync began
    sgets = [o for o in ops if o.f == "sget" and o.status == "ok" and o.zxid is not None]
    problems += _realtime_zxid(writes, sgets, strict=False, what="sync+read")
    # 4. per session: never go back; writes above everything seen
    by_sess = {}
    for o in ops:
        if o.status == "ok" and o.zxid is not None and o.f != "sync":
            by_sess.setdefault((o.proc, o.session), []).append(o)
    for (proc, sess), lst in by_sess.items():
        lst.sort(key=lambda o: o.t0)
        hi, hi_op = 0, None
        for o in lst:
            if o.f in ("get", "sget"):
                if o.zxid < hi:
                    problems.append("session 0x%x (%s) went back in time: read at zxid %d after seeing %d\n   before: %s\n   now:    %s"
                                    % (sess or 0, proc, o.zxid, hi, hi_op.short(), o.short()))
                if o.zxid > hi:
                    hi, hi_op = o.zxid, o
            else:
                if o.zxid <= hi:
                    problems.append("session 0x%x (%s): write got zxid %d not above %d already seen\n   before: %s\n   now:    %s"
                                    % (sess or 0, proc, o.zxid, hi, hi_op.short(), o.short()))
                if o.zxid > hi:
                    hi, hi_op = o.zxid, o
    # 5. every read returns the state after the last write with zxid <= its zxid
    writer_of = {}  # (key, value) -> write op (values are unique per key)
    for o in ops:
        if o.f in ("create", "set") and o.arg is not None:
            writer_of[(o.key, o.arg)] = o
    effects = {}  # key -> sorted [(zxid, kind, value, version)]
    for k, (v, ver, z) in init.items():
        effects.setdefault(k, []).append((z, "val", v, ver))
    for o in writes:
        if o.f == "create":
            effects.setdefault(o.key, []).append((o.zxid, "val", o.arg, 0))
        elif o.f == "set":
            effects.setdefault(o.key, []).append((o.zxid, "val", o.arg, o.version))
        elif o.f == "delete":
            effects.setdefault(o.key, []).append((o.zxid, "del", None, -1))
    reads = [o for o in ops if o.f in ("get", "sget") and o.status == "ok" and o.zxid is not None]
    revealed = {}  # unknown-outcome write -> mzxid its value was read with
    for r in reads:
        if r.exists:
            w = writer_of.get((r.key, r.value))
            init_v = init.get(r.key)
            if w is None and not (init_v and init_v[0] == r.value):
                problems.append("read returned a value nobody wrote: %s" % r.short())
                continue
            if r.mzxid is None:
                continue
            if r.mzxid > r.zxid:
                problems.append("read's mzxid %d is above its zxid %d: %s" % (r.mzxid, r.zxid, r.short()))
            if w is not None:
                if w.status == "ok":
                    if w.zxid is not None and w.zxid != r.mzxid:
                        problems.append("read's mzxid %d differs from the zxid of the write it returns:\n   write: %s\n   read:  %s"
                                        % (r.mzxid, w.short(), r.short()))
                    want_version = 0 if w.f == "create" else w.version
                    if want_version is not None and r.version != want_version:
                        problems.append("read returns version %s, its write produced version %s:\n   write: %s\n   read:  %s"
                                        % (r.version, want_version, w.short(), r.short()))
                else:
                    if w.id in revealed and revealed[w.id] != r.mzxid:
                        problems.append("reads disagree on the zxid of write %s: %d vs %d" % (w.short(), revealed[w.id], r.mzxid))
                    revealed.setdefault(w.id, r.mzxid)
                    if r.t1 is not None and r.t1 < w.t0:
                        problems.append("read returned a value before it was written:\n   write: %s\n   read:  %s" % (w.short(), r.short()))
    for wid, z in revealed.items():
        w = next(o for o in ops if o.id == wid)
        effects.setdefault(w.key, []).append((z, "val", w.arg, None))
    unknown_deletes = {o.key for o in ops if o.f == "delete" and o.status == "info"}
    for k in effects:
        effects[k].sort(key=lambda e: e[0])
    import bisect

    zx_index = {k: [e[0] for e in v] for k, v in effects.items()}
    for r in reads:
        effs = effects.get(r.key, [])
        idx = bisect.bisect_right(zx_index.get(r.key, []), r.zxid) - 1
        last = effs[idx] if idx >= 0 else None
        if r.exists:
            if r.mzxid is None:
                continue
            if last is None or last[0] != r.mzxid:
                if last is not None and last[0] > r.mzxid:
                    problems.append("stale read: at zxid %d the key was last written at %d (%s), but the read returns the write at %d:\n   %s"
                                    % (r.zxid, last[0], last[1] if last[1] == "del" else "value %s" % last[2], r.mzxid, r.short()))
        else:
            if last is not None and last[1] == "val" and r.key not in unknown_deletes:
                problems.append("read says NoNode at zxid %d, but the key holds %s since zxid %d:\n   %s"
                                % (r.zxid, last[2], last[0], r.short()))
    return Result(not problems, problems, {"writes": len(writes), "reads": len(reads)})


def _realtime_zxid(writes, targets, strict, what):
    """For each target T: every write completed before T.t0 has zxid < T.zxid (<= if not strict)."""
    problems = []
    ws = sorted(writes, key=lambda o: o.t1)
    ts = sorted(targets, key=lambda o: o.t0)
    j = 0
    best = None
    for t in ts:
        while j < len(ws) and ws[j].t1 < t.t0:
            if best is None or ws[j].zxid > best.zxid:
                best = ws[j]
            j += 1
        if best is None or best is t:
            continue
        bad = best.zxid >= t.zxid if strict else best.zxid > t.zxid
        if bad:
            problems.append("%s ordered before a write that completed before it began:\n   earlier write: %s\n   %s:  %s"
                            % (what, best.short(), what, t.short()))
    return problems


def check_history(ops, init=None):
    """Both checks. init: {key: (value, version, zxid)} of keys existing at the start."""
    init = init or {}
    lin_init = {k: (True, v[0], v[1]) for k, v in init.items()}
    a = check_linearizable(ops, lin_init)
    b = check_zxids(ops, init)
    return Result(a.ok and b.ok, a.problems + b.problems, {"linearizability": a.stats, "zxid": b.stats})
