#!/usr/bin/env bash
# Ensemble tests: multi-process rzk ensembles on loopback, fault injection (kill -9, SIGSTOP,
# partitions and latency through a peer proxy), real clients (kazoo, zkCli.sh), and a history
# checker (linearizable writes and sync+reads, sequentially consistent plain reads).
#
#   tests/ensemble/run.sh                 checker unit tests + all ensemble tests (bounded time)
#   tests/ensemble/run.sh -k partition    extra arguments go to pytest (ensemble tests only)
#
# Environment: RZK_BIN (default: cargo build -p rzk-server, then target/debug/rzk-server),
# RZK_ENS_TIMEOUT (whole run, default 600 s), RZK_ENS_KEEP=1 (keep run dirs of passing tests too;
# failing tests always keep theirs and print member log tails), RZK_HIST_* (see test_history.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ -x .cache/venv/bin/python ] || ./tests/install-deps.sh
PY=.cache/venv/bin/python
start=$(date +%s)

if [ -z "${RZK_BIN:-}" ]; then
  cargo build -p rzk-server
  export RZK_BIN="$ROOT/target/debug/rzk-server"
fi
[ -x "$RZK_BIN" ] || { echo "rzk binary $RZK_BIN missing" >&2; exit 2; }

report=$(mktemp /tmp/rzk-ens-report.XXXXXX)
export RZK_ENS_REPORT=$report
trap 'rm -f "$report"' EXIT

status=0
echo "=== history checker unit tests ==="
$PY -m pytest tests/checker -p no:cacheprovider -q -o timeout=120 || status=$?

echo "=== ensemble tests (rzk binary: $RZK_BIN) ==="
budget=${RZK_ENS_TIMEOUT:-600}
left=$(( budget - ($(date +%s) - start) ))
timeout --signal=TERM --kill-after=20 "$left" \
  $PY -m pytest tests/ensemble -p no:cacheprovider -q -rfEs -o timeout=180 "$@" || status=$?

echo
echo "=== failover times: kill -9 leader (or partition) -> first acknowledged write ==="
if [ -s "$report" ]; then
  $PY - "$report" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    el = "%.3f s" % r["election"] if r.get("election") is not None else "   -   "
    print("  %-52s n=%d  election %s  first write %.3f s  (%s)" % (r["test"][:52], r["n"], el, r["write"], r["via"]))
w = sorted(r["write"] for r in rows)
if w:
    print("  %d measurements: min %.3f s, median %.3f s, max %.3f s" % (len(w), w[0], w[len(w) // 2], w[-1]))
PYEOF
fi
echo "=== done in $(( $(date +%s) - start )) s, status $status ==="
exit $status
