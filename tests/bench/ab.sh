#!/usr/bin/env bash
# A/B two rzk-server binaries (e.g. before/after a performance change) as 3-node ensembles on loopback:
# the same rzk-bench workloads alternately, plus leader failover, printed as one table.
#
#   tests/bench/ab.sh A_BINARY B_BINARY [--duration 5s] [--failovers 3] [--workloads "set-100|set --payload 100;..."]
#
# Environment: RZK_BENCH (default target/release/rzk-bench), BENCH_WORK (scratch dir).
# Addresses 127.0.76.x (A) and 127.0.77.x (B). Every process it starts is killed on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,8p' "$0"; exit 2; }
BIN_A="$1"; BIN_B="$2"; shift 2
DURATION=5s
FAILOVERS=3
WORKLOADS="create|create --payload 100;set-100|set --payload 100;get-100|get --payload 100;churn|churn;lat-set-100|set --payload 100 --sessions 1 --depth 1"
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift ;;
        --failovers) FAILOVERS="$2"; shift ;;
        --workloads) WORKLOADS="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
BENCH="${RZK_BENCH:-${CARGO_TARGET_DIR:-$ROOT/target}/release/rzk-bench}"
WORK="${BENCH_WORK:-$(mktemp -d /tmp/rzk-ab.XXXXXX)}"
mkdir -p "$WORK"
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
declare -A PID=() BIN=([a]="$BIN_A" [b]="$BIN_B") NET=([a]=127.0.76 [b]=127.0.77)
cleanup() { for k in "${!PID[@]}"; do kill -9 "${PID[$k]}" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
servers() { local n="${NET[$1]}"; echo "$n.1:2181,$n.2:2181,$n.3:2181"; }

start_member() { # side i
    local d="$WORK/$1/$2"
    "${BIN[$1]}" start-foreground "$d/zoo.cfg" > "$d/out.log" 2>&1 &
    PID[$1/$2]=$!
}
for side in a b; do
    n="${NET[$side]}"
    for i in 1 2 3; do
        d="$WORK/$side/$i"
        mkdir -p "$d/data"
        echo "$i" > "$d/data/myid"
        {
            echo "tickTime=1000"; echo "initLimit=5"; echo "syncLimit=2"; echo "dataDir=$d/data"
            echo "clientPort=2181"; echo "clientPortAddress=$n.$i"; echo "maxClientCnxns=0"
            echo "4lw.commands.whitelist=*"; echo "admin.enableServer=false"
            echo "metricsProvider.httpHost=$n.$i"; echo "metricsProvider.httpPort=1776$i"
            for j in 1 2 3; do echo "server.$j=$n.$j:2888:3888;$n.$j:2181"; done
        } > "$d/zoo.cfg"
        start_member "$side" "$i"
    done
done
wait_members() {
    local side="$1" ok i deadline=$((SECONDS + 60))
    while :; do
        ok=0
        for i in 1 2 3; do
            "$BENCH" 4lw srvr --servers "${NET[$side]}.$i:2181" 2>/dev/null | grep -Eq '^Mode: (leader|follower)' && ok=$((ok + 1))
        done
        [ "$ok" = 3 ] && return 0
        [ "$SECONDS" -gt "$deadline" ] && return 1
        sleep 0.2
    done
}
for side in a b; do "$BENCH" probe --servers "$(servers "$side")" > /dev/null; wait_members "$side"; done
log "both ensembles serving (load $(cut -d' ' -f1-3 /proc/loadavg))"

IFS=';' read -r -a SPECS <<< "$WORKLOADS"
k=0
for spec in "${SPECS[@]}"; do
    name="${spec%%|*}"; args="${spec#*|}"
    order="a b"; [ $((k % 2)) = 1 ] && order="b a"; k=$((k + 1))
    for side in $order; do
        read -r wl rest <<< "$args"
        # shellcheck disable=SC2086
        r=$("$BENCH" "$wl" --sessions 32 --depth 16 --duration "$DURATION" --warmup 1s --json $rest \
            --servers "$(servers "$side")" --label "$side/$name" 2>>"$WORK/stderr.log") || r=""
        [ -n "$r" ] && echo "$r" >> "$RESULTS"
        log "$side $name $(echo "$r" | grep -o '"ops_per_s":[0-9.]*')"
    done
done
for rep in $(seq 1 "$FAILOVERS"); do
    for side in a b; do
        line=$("$BENCH" leader --servers "$(servers "$side")") || continue
        idx=$(( ${line%% *} + 1 ))
        others=""; for i in 1 2 3; do [ "$i" != "$idx" ] && others="$others${others:+,}${NET[$side]}.$i:2181"; done
        t0=$(date +%s%N)
        kill -9 "${PID[$side/$idx]}"
        r=$("$BENCH" probe --servers "$others" --since-ns "$t0" --max-wait 60s --label "$side/failover" --json) || r=""
        [ -n "$r" ] && echo "$r" >> "$RESULTS"
        log "$side failover $(echo "$r" | grep -o '"ms_since_mark":[0-9.]*')"
        wait "${PID[$side/$idx]}" 2>/dev/null || true
        start_member "$side" "$idx"
        wait_members "$side"
        sleep 2
    done
done
python3 - "$RESULTS" "$BIN_A" "$BIN_B" <<'EOF'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault(r["label"], []).append(r)
print(f"A = {sys.argv[2]}\nB = {sys.argv[3]}\n")
print("| workload | A ops/s | B ops/s | B/A | A p50 ms | B p50 ms | A p99 ms | B p99 ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
names = []
for l in runs:
    n = l.split("/", 1)[1]
    if n != "failover" and n not in names:
        names.append(n)
for n in names:
    a, b = runs.get("a/" + n, [None])[-1], runs.get("b/" + n, [None])[-1]
    g = lambda x, k: x["ops_per_s"] if x and k == "ops" else (x["latency_ms"]["all"][k] if x else float("nan"))
    ra = g(a, "ops") if a else float("nan"); rb = g(b, "ops") if b else float("nan")
    print(f"| {n} | {ra:,.0f} | {rb:,.0f} | {rb / ra if ra else float('nan'):.2f}x | {g(a,'p50'):.2f} | {g(b,'p50'):.2f} | {g(a,'p99'):.2f} | {g(b,'p99'):.2f} |")
fa = [r["ms_since_mark"] for r in runs.get("a/failover", [])]
fb = [r["ms_since_mark"] for r in runs.get("b/failover", [])]
if fa and fb:
    print(f"| failover median ms | {statistics.median(fa):.0f} | {statistics.median(fb):.0f} | | {', '.join(f'{x:.0f}' for x in fa)} | {', '.join(f'{x:.0f}' for x in fb)} | | |")
EOF
log "raw results: $RESULTS"
