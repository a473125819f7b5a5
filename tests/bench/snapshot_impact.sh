#!/usr/bin/env bash
# Snapshot impact on writes: setData latency with snapshots forced often vs never, on a big tree.
#
#   tests/bench/snapshot_impact.sh [--znodes 200000] [--duration 20s] BIN [BIN...]
#
# For each rzk-server binary (release build; fsync on; single node): load --znodes znodes of 32 B
# (`rzk-bench create --multi 100`), then `rzk-bench set` (256 keys, 100 B, 32 sessions x 4
# outstanding) twice: with rzk.snapshotEveryEntries=300 (a snapshot every 300 Raft entries, i.e.
# continuously under this load) and with snapshots pushed out of the run. Prints ops/s, p50/p99/p999/max
# for both. A measurement, not a test. Loopback only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ZNODES=200000; DURATION=20s
BENCH=${RZK_BENCH:-$ROOT/target/release/rzk-bench}
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --znodes) ZNODES=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    *) bins+=("$1") ;;
  esac
  shift
done
[ ${#bins[@]} -gt 0 ] || { sed -n 2,12p "$0"; exit 2; }
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true' EXIT
serving() { python3 - "$1" <<'PY'
import socket, sys, time
t0 = time.time()
while time.time() - t0 < 120:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1) as s:
            s.sendall(b"srvr")
            if b"Mode:" in s.recv(4096):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
PY
}
summary() { python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); lat=d.get("latency_ms", {})
l=next(iter(lat.values()), {})
print("ops/s=%d p50=%.2fms p99=%.2fms p999=%.2fms max=%.1fms errors=%s" % (d.get("ops_per_s",0), l.get("p50",0), l.get("p99",0), l.get("p999",0), l.get("max",0), d.get("error_total")))' "$1"; }
for bin in "${bins[@]}"; do
  for mode in often never; do
    work=$(mktemp -d /tmp/rzk-snapimpact.XXXXXX); port=$((20000 + RANDOM % 20000))
    every=300; [ $mode = never ] && every=100000000
    cat > "$work/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=$((port + 1))
4lw.commands.whitelist=*
maxClientCnxns=0
snapCount=1000000000
rzk.snapshotEveryEntries=$every
CFG
    "$bin" start-foreground "$work/zoo.cfg" > "$work/server.log" 2>&1 & pid=$!
    serving "$port"
    "$BENCH" create --servers "127.0.0.1:$port" --multi 100 --payload 32 --count "$ZNODES" --sessions 4 --depth 4 --json > /dev/null
    "$BENCH" set --servers "127.0.0.1:$port" --keys 256 --payload 100 --sessions 32 --depth 4 --duration "$DURATION" --warmup 2s --json > "$work/set.json"
    snaps=$(grep -c "snapshot written\|building snapshot\|restored snapshot" "$work/server.log" || true)
    echo "$bin snapshots=$mode: $(summary "$work/set.json") (log lines about snapshots: $snaps)"
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    rm -rf "$work"
  done
done
