#!/usr/bin/env bash
# Storage soak: RSS over time under a long setData load, then a crash-restart.
#
#   tests/bench/soak_rss.sh [--ops 2000000] [--label NAME] BIN [BIN...]
#
# For each rzk-server binary: a fresh single-node server (release build expected; fsync on),
# `rzk-bench set` with 256 keys x 100 B from 32 sessions x 4 outstanding for --ops operations,
# RSS sampled every second (/proc/<pid>/status VmRSS), server CPU seconds (utime+stime from
# /proc/<pid>/stat), then kill -9, restart on the same data dir: RSS after restart and time
# until `srvr` answers. Writes $OUT_DIR/soak-<label>.csv (t_s,rss_kib,ops) and prints a
# summary line per binary; tests/bench/plot_rss.py turns the CSVs into a PNG.
# A measurement, not a test: nothing is asserted. Loopback only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OPS=2000000
OUT_DIR=${OUT_DIR:-$ROOT/docs/bench-data}
BENCH=${RZK_BENCH:-$ROOT/target/release/rzk-bench}
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) OPS=$2; shift ;;
    *) bins+=("$1") ;;
  esac
  shift
done
[ ${#bins[@]} -gt 0 ] || { sed -n 2,14p "$0"; exit 2; }
mkdir -p "$OUT_DIR"
pids=()
trap 'for p in "${pids[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done' EXIT

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat"; }
wait_serving() {  # prints seconds until srvr reports a Mode
  python3 - "$1" <<'PY'
import socket, sys, time
t0 = time.time()
while time.time() - t0 < 60:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1) as s:
            s.sendall(b"srvr")
            if b"Mode:" in s.recv(4096):
                print("%.3f" % (time.time() - t0)); sys.exit(0)
    except OSError:
        pass
    time.sleep(0.02)
print("never"); sys.exit(1)
PY
}

for bin in "${bins[@]}"; do
  label=$(basename "$(dirname "$bin")")-$(basename "$bin")
  [ -n "${LABEL:-}" ] && label=$LABEL
  work=$(mktemp -d /tmp/rzk-soak-rss.XXXXXX)
  port=$((20000 + RANDOM % 20000)); mport=$((port + 1))
  cat > "$work/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=$mport
4lw.commands.whitelist=*
maxClientCnxns=0
CFG
  "$bin" start-foreground "$work/zoo.cfg" > "$work/server.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_serving "$port" > /dev/null
  csv="$OUT_DIR/soak-$label.csv"
  echo "t_s,rss_kib" > "$csv"
  ( t=0; while kill -0 "$pid" 2>/dev/null; do echo "$t,$(rss "$pid")" >> "$csv"; sleep 1; t=$((t+1)); done ) &
  sampler=$!
  cpu0=$(cpu_s "$pid")
  "$BENCH" set --servers "127.0.0.1:$port" --keys 256 --payload 100 --sessions 32 --depth 4 \
    --count "$OPS" --json > "$work/bench.json"
  cpu1=$(cpu_s "$pid")
  rss_before=$(rss "$pid")
  du_before=$(du -sk "$work/data" | cut -f1)
  kill "$sampler" 2>/dev/null || true
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  "$bin" start-foreground "$work/zoo.cfg" >> "$work/server.log" 2>&1 &
  pid=$!; pids+=("$pid")
  t_serve=$(wait_serving "$port")
  sleep 2
  rss_after=$(rss "$pid")
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  opss=$(python3 -c "import json;d=json.load(open('$work/bench.json'));print(round(d.get('ops_per_s', 0)))" 2>/dev/null || echo "?")
  cpu_per_k=$(echo "scale=4; ($cpu1 - $cpu0) * 1000 / $OPS" | bc)
  peak=$(tail -n +2 "$csv" | cut -d, -f2 | sort -n | tail -1)
  echo "$label: ops=$OPS ops/s=$opss server_cpu_s_per_1000=$cpu_per_k rss_peak_mib=$((peak/1024)) rss_end_mib=$((rss_before/1024)) data_dir_mib=$((du_before/1024)) restart_serving_s=$t_serve rss_after_restart_mib=$((rss_after/1024))"
  rm -rf "$work"
done
