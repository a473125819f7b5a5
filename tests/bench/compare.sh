#!/usr/bin/env bash
# Side-by-side benchmark on loopback: a 3-node Apache ZooKeeper ensemble (Debian package) and a
# 3-node rzk ensemble, the same rzk-bench workloads against each alternately, plus RSS (idle and
# after N znodes), start-to-serving time and leader failover time. Writes a markdown report.
#
#   tests/bench/compare.sh [--quick] [--duration 10s] [--warmup 2s] [--znodes 1000000]
#                          [--failovers 5] [--starts 3] [--out docs/benchmark.md] [--skip-build]
#
# Environment: CARGO_TARGET_DIR (where the release binaries are), RZK_SERVER / RZK_BENCH (explicit
# binaries; RZK_COMMIT_NOTE describes them in the report), BENCH_WORK (scratch directory, default a new /tmp/rzk-compare.*), ZK_HEAP (default 1g),
# BENCH_NET (first three octets prefix, default 127.0.7 -> 127.0.71.x ZooKeeper, 127.0.72.x rzk,
# 127.0.73.1 / 127.0.74.1 single-node start tests).
#
# Only loopback addresses are used. Every process it starts is killed (by pid) on exit.
# Numbers are never asserted: this is a measurement, not a test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION=10s
WARMUP=2s
ZNODES=1000000
FAILOVERS=5
STARTS=3
OUT="$ROOT/docs/benchmark.md"
SKIP_BUILD=0
QUICK=0
ARGS=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; DURATION=2s; WARMUP=0.5s; ZNODES=20000; FAILOVERS=2; STARTS=1 ;;
        --duration) DURATION="$2"; shift ;;
        --warmup) WARMUP="$2"; shift ;;
        --znodes) ZNODES="$2"; shift ;;
        --failovers) FAILOVERS="$2"; shift ;;
        --starts) STARTS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --skip-build) SKIP_BUILD=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
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
ZK_HEAP="${ZK_HEAP:-1g}"
NET="${BENCH_NET:-127.0.7}"
ZK_NET="${NET}1"
RZK_NET="${NET}2"
ZK1_ADDR="${NET}3.1"
RZK1_ADDR="${NET}4.1"
WORK="${BENCH_WORK:-$(mktemp -d /tmp/rzk-compare.XXXXXX)}"
mkdir -p "$WORK"
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
for b in "$RZK_SERVER" "$BENCH"; do
    [ -x "$b" ] || { echo "missing binary $b" >&2; exit 1; }
done
[ -r /usr/share/java/zookeeper.jar ] || { echo "Apache ZooKeeper not installed (apt-get install zookeeper)" >&2; exit 1; }

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
emit() { printf '%s\n' "$1" >> "$RESULTS"; }

# ---- process bookkeeping -------------------------------------------------------------------
declare -A PID=()          # key "zk-ens/2" -> pid
cleanup() {
    for k in "${!PID[@]}"; do
        kill -9 "${PID[$k]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_member() { # key
    local p="${PID[$1]:-}"
    if [ -n "$p" ]; then
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
        unset "PID[$1]"
    fi
}

# ---- configuration ---------------------------------------------------------------------------
# write_cfg DIR ADDR MYID HTTPPORT [SERVERLINES]: one member's zoo.cfg (+ myid when in an ensemble).
write_cfg() {
    local dir="$1" addr="$2" id="$3" http="$4" servers="${5:-}"
    mkdir -p "$dir/data"
    {
        echo "tickTime=1000"
        echo "initLimit=5"
        echo "syncLimit=2"
        echo "dataDir=$dir/data"
        echo "clientPort=2181"
        echo "clientPortAddress=$addr"
        echo "maxClientCnxns=0"
        echo "4lw.commands.whitelist=*"
        echo "admin.enableServer=false"
        echo "metricsProvider.httpHost=$addr"
        echo "metricsProvider.httpPort=$http"
        [ -n "$servers" ] && printf '%s\n' "$servers"
    } > "$dir/zoo.cfg"
    [ -n "$servers" ] && echo "$id" > "$dir/data/myid"
    return 0
}

server_lines() { # NET
    local i
    for i in 1 2 3; do echo "server.$i=$1.$i:2888:3888;$1.$i:2181"; done
}

start_proc() { # key system dir
    local key="$1" sys="$2" dir="$3"
    if [ "$sys" = zk ]; then
        # forceSync=yes is ZooKeeper's default: every txn log batch is fsynced, as rzk always does.
        java "-Xmx$ZK_HEAP" -cp "/usr/share/java/zookeeper.jar:/usr/share/java/*" \
            org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" > "$dir/out.log" 2>&1 &
    else
        "$RZK_SERVER" start-foreground "$dir/zoo.cfg" > "$dir/out.log" 2>&1 &
    fi
    PID[$key]=$!
}

ens_net() { [ "$1" = zk ] && echo "$ZK_NET" || echo "$RZK_NET"; }
ens_servers() { local n; n=$(ens_net "$1"); echo "$n.1:2181,$n.2:2181,$n.3:2181"; }
http_base() { [ "$1" = zk ] && echo 17710 || echo 17720; }

# start_ensemble SYS NAME: fresh data directories under $WORK/NAME.
start_ensemble() {
    local sys="$1" name="$2" net i
    net=$(ens_net "$sys")
    rm -rf "${WORK:?}/$name"
    for i in 1 2 3; do
        write_cfg "$WORK/$name/$i" "$net.$i" "$i" "$(( $(http_base "$sys") + i ))" "$(server_lines "$net")"
    done
    for i in 1 2 3; do start_proc "$name/$i" "$sys" "$WORK/$name/$i"; done
}

stop_ensemble() { local i; for i in 1 2 3; do stop_member "$1/$i"; done; }

# wait_members SYS: every member reports leader/follower.
wait_members() {
    local sys="$1" net i ok deadline=$((SECONDS + 90))
    net=$(ens_net "$sys")
    while :; do
        ok=0
        for i in 1 2 3; do
            if "$BENCH" 4lw srvr --servers "$net.$i:2181" 2>/dev/null | grep -Eq '^Mode: (leader|follower)'; then
                ok=$((ok + 1))
            fi
        done
        [ "$ok" = 3 ] && return 0
        [ "$SECONDS" -gt "$deadline" ] && { log "$sys: members did not all come up"; return 1; }
        sleep 0.2
    done
}

node_count() { # SYS: znode count reported by `srvr` of the first member that answers
    local net i n
    net=$(ens_net "$1")
    for i in 1 2 3; do
        n=$("$BENCH" 4lw srvr --servers "$net.$i:2181" 2>/dev/null | sed -n 's/^Node count: *//p')
        [ -n "$n" ] && { echo "$n"; return 0; }
    done
    echo 0
}

rss_kb() { # pids... -> sum of VmRSS in kB
    local p s=0 v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        s=$((s + ${v:-0}))
    done
    echo "$s"
}
ens_pids() { local i; for i in 1 2 3; do echo "${PID[$1/$i]}"; done; }

now_ns() { date +%s%N; }

# ---- machine info ----------------------------------------------------------------------------
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
{
    echo "{\"kind\":\"meta\",\"key\":\"date\",\"value\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
    echo "{\"kind\":\"meta\",\"key\":\"cpu\",\"value\":\"$(lscpu | sed -n 's/^Model name: *//p' | head -1) x $(nproc) cores\"}"
    echo "{\"kind\":\"meta\",\"key\":\"memory\",\"value\":\"$(free -g | awk '/^Mem:/ {print $2}') GiB\"}"
    echo "{\"kind\":\"meta\",\"key\":\"kernel\",\"value\":\"$(uname -r)\"}"
    echo "{\"kind\":\"meta\",\"key\":\"disk\",\"value\":\"$(df -T "$WORK" | awk 'NR==2 {print $1" ("$2")"}')\"}"
    echo "{\"kind\":\"meta\",\"key\":\"java\",\"value\":\"$(java -version 2>&1 | head -1 | tr -d '"')\"}"
    echo "{\"kind\":\"meta\",\"key\":\"zookeeper\",\"value\":\"$(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo unknown)\"}"
    echo "{\"kind\":\"meta\",\"key\":\"rzk_commit\",\"value\":\"${RZK_COMMIT_NOTE:-$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD -- server 2>/dev/null || echo ' (+ uncommitted server changes)')}\"}"
    echo "{\"kind\":\"meta\",\"key\":\"rustc\",\"value\":\"$(rustc --version 2>/dev/null || echo unknown)\"}"
    echo "{\"kind\":\"meta\",\"key\":\"load_start\",\"value\":\"$(load_avg)\"}"
    echo "{\"kind\":\"meta\",\"key\":\"args\",\"value\":\"${ARGS[*]:-}\"}"
    echo "{\"kind\":\"meta\",\"key\":\"duration\",\"value\":\"$DURATION (+ $WARMUP warm-up)\"}"
} >> "$RESULTS"
log "work dir $WORK; load average $(load_avg)"

# ---- 1. start-to-serving ----------------------------------------------------------------------
for rep in $(seq 1 "$STARTS"); do
    for sys in zk rzk; do
        addr=$([ "$sys" = zk ] && echo "$ZK1_ADDR" || echo "$RZK1_ADDR")
        dir="$WORK/$sys-single"
        rm -rf "$dir"
        write_cfg "$dir" "$addr" 1 "$(( $(http_base "$sys") + 9 ))"
        t0=$(now_ns)
        start_proc "$sys-single" "$sys" "$dir"
        r=$("$BENCH" probe --servers "$addr:2181" --since-ns "$t0" --max-wait 60s --label "$sys/start-single" --json) || r=""
        [ -n "$r" ] && emit "$r" && log "$sys single-node start: $(echo "$r" | sed 's/.*"ms_since_mark":\([0-9.]*\).*/\1/') ms"
        sleep 1
        emit "{\"kind\":\"rss\",\"label\":\"$sys/rss-single-idle\",\"rss_kb\":$(rss_kb "${PID[$sys-single]}")}"
        stop_member "$sys-single"
    done
done
for rep in $(seq 1 "$STARTS"); do
    for sys in zk rzk; do
        t0=$(now_ns)
        start_ensemble "$sys" "$sys-start"
        r=$("$BENCH" probe --servers "$(ens_servers "$sys")" --since-ns "$t0" --max-wait 90s --label "$sys/start-ensemble" --json) || r=""
        [ -n "$r" ] && emit "$r" && log "$sys ensemble start: $(echo "$r" | sed 's/.*"ms_since_mark":\([0-9.]*\).*/\1/') ms"
        stop_ensemble "$sys-start"
    done
done

# ---- 2. workloads, alternating systems --------------------------------------------------------
for sys in zk rzk; do start_ensemble "$sys" "$sys-ens"; done
for sys in zk rzk; do
    "$BENCH" probe --servers "$(ens_servers "$sys")" --max-wait 90s > /dev/null
    wait_members "$sys"
done
log "both ensembles serving"

COMMON=(--sessions 32 --depth 16 --duration "$DURATION" --warmup "$WARMUP" --json)
WORKLOADS=(
    "create|create --payload 100"
    "set-100|set --payload 100"
    "set-1k|set --payload 1024"
    "get-100|get --payload 100"
    "get-1k|get --payload 1024"
    "exists|exists"
    "children-100|children --children 100"
    "mixed-r0|mixed --reads 0"
    "mixed-r50|mixed --reads 50"
    "mixed-r90|mixed --reads 90"
    "mixed-r100|mixed --reads 100"
    "churn|churn"
    "watch-64|watch --sessions 64 --payload 100"
    "lat-set-100-leader|@leader set --payload 100 --sessions 1 --depth 1"
    "lat-set-100-follower|@follower set --payload 100 --sessions 1 --depth 1"
    "lat-get-100-leader|@leader get --payload 100 --sessions 1 --depth 1"
    "lat-get-100-follower|@follower get --payload 100 --sessions 1 --depth 1"
)
# member_addr SYS leader|follower: client address of the leader, or of the first follower.
member_addr() {
    local line idx net i
    net=$(ens_net "$1")
    line=$("$BENCH" leader --servers "$(ens_servers "$1")") || { echo "$net.1:2181"; return; }
    idx=$(( ${line%% *} + 1 ))
    if [ "$2" = leader ]; then echo "$net.$idx:2181"; return; fi
    for i in 1 2 3; do [ "$i" != "$idx" ] && { echo "$net.$i:2181"; return; }; done
}
n=0
for spec in "${WORKLOADS[@]}"; do
    name="${spec%%|*}"
    args="${spec#*|}"
    order="zk rzk"
    [ $((n % 2)) = 1 ] && order="rzk zk"
    n=$((n + 1))
    for sys in $order; do
        read -r wl rest <<< "$args"
        servers=$(ens_servers "$sys")
        case "$wl" in
            @leader|@follower) servers=$(member_addr "$sys" "${wl#@}"); read -r wl rest <<< "$rest" ;;
        esac
        # shellcheck disable=SC2086
        r=$("$BENCH" "$wl" "${COMMON[@]}" $rest --servers "$servers" --label "$sys/$name" 2>>"$WORK/bench-stderr.log") || r=""
        if [ -n "$r" ]; then
            emit "$r"
            log "$sys $name: $(echo "$r" | grep -o '"\(ops_per_s\|rounds_per_s\)":[0-9.]*' | head -1)"
        else
            log "$sys $name: FAILED (see $WORK/bench-stderr.log)"
        fi
    done
done

# ---- 3. leader failover -----------------------------------------------------------------------
failover_once() { # sys
    local sys="$1" net line idx addr pid t0 others i r
    net=$(ens_net "$sys")
    line=$("$BENCH" leader --servers "$(ens_servers "$sys")") || { log "$sys: no leader"; return 1; }
    idx=$(( ${line%% *} + 1 ))
    pid="${PID[$sys-ens/$idx]}"
    others=""
    for i in 1 2 3; do [ "$i" != "$idx" ] && others="$others${others:+,}$net.$i:2181"; done
    t0=$(now_ns)
    kill -9 "$pid"
    r=$("$BENCH" probe --servers "$others" --since-ns "$t0" --max-wait 60s --label "$sys/failover" --json) || r=""
    wait "$pid" 2>/dev/null || true
    unset "PID[$sys-ens/$idx]"
    if [ -n "$r" ]; then
        emit "$r"
        log "$sys failover (killed member $idx): $(echo "$r" | sed 's/.*"ms_since_mark":\([0-9.]*\).*/\1/') ms"
    else
        log "$sys failover: no write within 60 s"
    fi
    start_proc "$sys-ens/$idx" "$sys" "$WORK/$sys-ens/$idx"
    wait_members "$sys"
    sleep 2
}
for rep in $(seq 1 "$FAILOVERS"); do
    for sys in zk rzk; do failover_once "$sys" || true; done
done
for sys in zk rzk; do stop_ensemble "$sys-ens"; done

# ---- 4. memory: idle, then after ZNODES znodes (fresh ensembles) --------------------------------
for sys in zk rzk; do
    start_ensemble "$sys" "$sys-mem"
    "$BENCH" probe --servers "$(ens_servers "$sys")" --max-wait 90s > /dev/null
    net=$(ens_net "$sys")
    wait_members "$sys"
    sleep 5
    # shellcheck disable=SC2046
    emit "{\"kind\":\"rss\",\"label\":\"$sys/rss-idle\",\"rss_kb\":$(rss_kb $(ens_pids "$sys-mem"))}"
    # Bulk load: 100 creates per multi request, 10-byte payloads, one parent per session. If the
    # servers drop the loader's sessions, the rest is loaded by a new run (up to 5 runs; each is reported).
    base=$(node_count "$sys")
    for attempt in 1 2 3 4 5; do
        nodes=$(node_count "$sys")
        remaining=$((ZNODES + base - ${nodes:-0}))
        [ "$remaining" -le 0 ] && break
        r=$("$BENCH" create --count "$remaining" --multi 100 --payload 10 --sessions 32 --depth 4 --tag "load$attempt" \
            --servers "$(ens_servers "$sys")" --label "$sys/load" --json 2>>"$WORK/bench-stderr.log") || r=""
        [ -n "$r" ] && emit "$r" && log "$sys load run $attempt: $(echo "$r" | grep -o '"znodes_per_s":[0-9.]*'), $(echo "$r" | grep -o '"error_total":[0-9]*')"
        sleep 2
    done
    sleep 5
    nodes=$(node_count "$sys")
    # shellcheck disable=SC2046
    emit "{\"kind\":\"rss\",\"label\":\"$sys/rss-loaded\",\"rss_kb\":$(rss_kb $(ens_pids "$sys-mem")),\"znodes\":${nodes:-0},\"loaded\":$ZNODES}"
    log "$sys RSS idle/loaded recorded (node count ${nodes:-?})"
    stop_ensemble "$sys-mem"
done

echo "{\"kind\":\"meta\",\"key\":\"load_end\",\"value\":\"$(load_avg)\"}" >> "$RESULTS"
CMD="tests/bench/compare.sh${ARGS[*]:+ ${ARGS[*]}}"
python3 "$ROOT/tests/bench/render.py" "$RESULTS" "$CMD" "$OUT" > "$WORK/benchmark.md"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/benchmark.md" "$OUT"
log "wrote $OUT (raw results: $RESULTS)"
