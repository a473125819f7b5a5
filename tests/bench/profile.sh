#!/usr/bin/env bash
# Profiles a single-node rzk (release build with debug info) under rzk-bench load:
#   1. callgrind instruction counts for a write workload (setData 100 B) and a read workload (getData 100 B);
#   2. a syscall census (strace -c) of the write workload: fsync/fdatasync/rename per client write;
#   3. with --perf, also a cpu-clock sample profile (perf record) of both workloads.
#
#   tests/bench/profile.sh [--writes N] [--reads N] [--perf] [--skip-build]
#
# Output: the top functions (inclusive and self) printed, full data under $BENCH_WORK (default a new
# /tmp/rzk-profile.*). Loopback only (127.0.75.1). Every process it starts is killed on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WRITES=20000
READS=200000
PERF=0
SKIP_BUILD=0
while [ $# -gt 0 ]; do
    case "$1" in
        --writes) WRITES="$2"; shift ;;
        --reads) READS="$2"; shift ;;
        --perf) PERF=1 ;;
        --skip-build) SKIP_BUILD=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "$SKIP_BUILD" = 0 ] && [ -z "${RZK_SERVER:-}" ]; then
    (cd "$ROOT" && cargo build --release -p rzk-server -p rzk-bench)
fi
RZK_SERVER="${RZK_SERVER:-$TARGET/release/rzk-server}"
BENCH="${RZK_BENCH:-$TARGET/release/rzk-bench}"
WORK="${BENCH_WORK:-$(mktemp -d /tmp/rzk-profile.XXXXXX)}"
ADDR="${PROFILE_ADDR:-127.0.75.1}"
mkdir -p "$WORK"
command -v valgrind > /dev/null || { echo "valgrind missing (apt-get install valgrind)" >&2; exit 1; }

SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

fresh_cfg() { # dir
    rm -rf "$1"
    mkdir -p "$1/data"
    cat > "$1/zoo.cfg" <<EOF
tickTime=1000
dataDir=$1/data
clientPort=2181
clientPortAddress=$ADDR
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
metricsProvider.httpHost=$ADDR
metricsProvider.httpPort=17750
EOF
}

wait_serving() {
    "$BENCH" probe --servers "$ADDR:2181" --max-wait 120s > /dev/null
}

# callgrind_run NAME WORKLOAD-ARGS...: setup outside the measurement, then zero, run, dump.
callgrind_run() {
    local name="$1"; shift
    local dir="$WORK/$name"
    fresh_cfg "$dir"
    valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" --dump-instr=no \
        "$RZK_SERVER" start-foreground "$dir/zoo.cfg" > "$dir/server.log" 2>&1 &
    SERVER_PID=$!
    wait_serving
    # Setup (creates the keys) and warm-up, not measured.
    "$BENCH" "$@" --servers "$ADDR:2181" --count 2000 --sessions 8 --depth 8 > /dev/null
    callgrind_control -z "$SERVER_PID" > /dev/null
    "$BENCH" "$@" --servers "$ADDR:2181" --sessions 32 --depth 16 > "$dir/bench.txt"
    callgrind_control -d "$SERVER_PID" > /dev/null
    sleep 1
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    local out
    out="$dir/callgrind.out.1"; [ -f "$out" ] || out="$dir/callgrind.out"
    callgrind_annotate --inclusive=yes "$out" > "$dir/inclusive.txt" 2>/dev/null || true
    callgrind_annotate "$out" > "$dir/self.txt" 2>/dev/null || true
    echo "=== $name: $(grep -E '^(ops_per_s|ops) ' "$dir/bench.txt" | tr '\n' ' ')"
    echo "--- top inclusive (Ir) ---"
    grep -E '^ *[0-9,]+ \(' "$dir/inclusive.txt" | awk 'NR<=40'
    echo "--- top self (Ir) ---"
    grep -E '^ *[0-9,]+ \(' "$dir/self.txt" | awk 'NR<=30'
}

callgrind_run write set --payload 100 --count "$WRITES"
callgrind_run read get --payload 100 --count "$READS"

# Syscall census of the write path (no valgrind: real speed).
if command -v strace > /dev/null; then
    dir="$WORK/strace"
    fresh_cfg "$dir"
    "$RZK_SERVER" start-foreground "$dir/zoo.cfg" > "$dir/server.log" 2>&1 &
    SERVER_PID=$!
    wait_serving
    "$BENCH" set --servers "$ADDR:2181" --count 2000 > /dev/null
    strace -f -c -o "$dir/strace.txt" -p "$SERVER_PID" &
    ST=$!
    sleep 0.5
    "$BENCH" set --payload 100 --servers "$ADDR:2181" --count "$WRITES" --sessions 32 --depth 16 > "$dir/bench.txt"
    kill -INT "$ST"; wait "$ST" 2>/dev/null || true
    echo "=== strace -c during $WRITES setData requests (under strace; slower than normal)"
    head -25 "$dir/strace.txt"
    if [ "$PERF" = 1 ]; then
        perf record -e cpu-clock -F 1999 -g -o "$WORK/perf-write.data" -p "$SERVER_PID" -- sleep 8 2> /dev/null &
        P=$!
        "$BENCH" set --payload 100 --servers "$ADDR:2181" --duration 6s --warmup 1s > "$WORK/perf-write-bench.txt"
        wait "$P" || true
        perf report -i "$WORK/perf-write.data" --no-children --stdio --percent-limit 1 2> /dev/null | grep -v '^$' | awk 'NR<=60' > "$WORK/perf-write.txt"
        perf record -e cpu-clock -F 1999 -g -o "$WORK/perf-read.data" -p "$SERVER_PID" -- sleep 8 2> /dev/null &
        P=$!
        "$BENCH" get --payload 100 --servers "$ADDR:2181" --duration 6s --warmup 1s > "$WORK/perf-read-bench.txt"
        wait "$P" || true
        perf report -i "$WORK/perf-read.data" --no-children --stdio --percent-limit 1 2> /dev/null | grep -v '^$' | awk 'NR<=60' > "$WORK/perf-read.txt"
        echo "=== perf (cpu-clock) reports: $WORK/perf-write.txt $WORK/perf-read.txt"
    fi
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
fi
log "profile data in $WORK"
