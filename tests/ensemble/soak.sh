#!/usr/bin/env bash
# Longer randomized runs of the history test: random seeds, fault mixes in random order, client
# and key counts, longer fault phases; optionally the whole ensemble suite repeated.
#
#   tests/ensemble/soak.sh [rounds=10] [seconds per run=60]
#   SOAK_FULL=1 tests/ensemble/soak.sh 3     also run the whole ensemble suite each round
#   SOAK_STOP_ON_FAIL=1 ...                  stop at the first failing round
#
# Failing rounds keep their run dirs (member logs, history.jsonl, nemesis.txt; paths printed).
# Re-run a failing round with the printed RZK_HIST_* values.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ -x .cache/venv/bin/python ] || ./tests/install-deps.sh
PY=.cache/venv/bin/python
rounds=${1:-10}
secs=${2:-60}
if [ -z "${RZK_BIN:-}" ]; then
  cargo build -p rzk-server || exit 2
  export RZK_BIN="$ROOT/target/debug/rzk-server"
fi
log_dir=$(mktemp -d /tmp/rzk-soak.XXXXXX)
faults=(kill_leader kill_follower pause_leader pause_follower partition_leader partition_follower)
pass=0; fail=0
for r in $(seq 1 "$rounds"); do
  seed=$RANDOM$RANDOM
  # a random non-empty subset of the faults
  mix=$(printf '%s\n' "${faults[@]}" | shuf | head -n $(( RANDOM % ${#faults[@]} + 1 )) | paste -sd, -)
  clients=$(( RANDOM % 7 + 4 ))
  keys=$(( RANDOM % 5 + 2 ))
  env_line="RZK_HIST_SEED=$seed RZK_HIST_SECONDS=$secs RZK_HIST_FAULTS=$mix RZK_HIST_CLIENTS=$clients RZK_HIST_KEYS=$keys RZK_HIST_RANDOM=1"
  echo "=== round $r/$rounds: $env_line ==="
  out="$log_dir/round-$r.log"
  if env $env_line $PY -m pytest tests/ensemble/test_history.py -p no:cacheprovider -q -s -rfE \
       -o timeout=$(( secs * 4 + 240 )) >"$out" 2>&1; then
    pass=$((pass + 1))
    grep -E "passed|first write" "$out" | tail -4
  else
    fail=$((fail + 1))
    echo "FAILED (log: $out)"
    grep -E "^E  |run dir kept|history saved" "$out" | head -20
    [ -n "${SOAK_STOP_ON_FAIL:-}" ] && break
  fi
  if [ -n "${SOAK_FULL:-}" ]; then
    if $PY -m pytest tests/ensemble -p no:cacheprovider -q -rfE -o timeout=240 >"$log_dir/full-$r.log" 2>&1; then
      echo "full suite: passed"
    else
      echo "full suite: FAILED (log: $log_dir/full-$r.log)"; grep -E "^FAILED" "$log_dir/full-$r.log"
    fi
  fi
done
echo "=== soak: $pass passed, $fail failed; logs in $log_dir ==="
[ "$fail" -eq 0 ]
