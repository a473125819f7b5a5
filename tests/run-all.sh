#!/usr/bin/env bash
# The whole test suite ("one command runs the whole test suite" in the README). CI runs exactly this.
#   0. formatting (cargo fmt --check) and clippy with -D warnings
#   1. Rust: unit, codec-vector, storage crash, server integration (zookeeper-client crate),
#      metrics/admin, operator builder and CRD-freshness tests
#   2. compat: real clients (kazoo, zkCli.sh) against Apache ZooKeeper AND rzk, same scenarios
#   2b. security: TLS client port, x509 ACLs, refused connections, admin auth, cert rotation
#   3. ensemble: multi-process rzk ensembles with faults, reconfig and a history checker
#   3b. upgrade: golden data dirs of every earlier release, a rolling upgrade from the previous one
#   4. matrix: Curator/Java, kazoo recipes, go-zookeeper, C client, zookeeper-client (Rust) on
#      3-node rzk and Apache ZooKeeper ensembles
#   5. k8s: operator + Helm chart on a real control plane built from Go modules (cached)
# Every step runs even when an earlier one failed; the exit status says whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
./tests/install-deps.sh || exit 1
start=$(date +%s)
failed=()
LOGS=$(mktemp -d /tmp/rzk-run-all.XXXXXX)
n=0
# Each step's output goes to the console and to a log; a failed step's failure lines are repeated
# at the end (CI shows the tail of the output).
step() {
  local title=$1 log; shift
  n=$((n + 1)); log="$LOGS/step$n.log"
  echo; echo "=== [$(( $(date +%s) - start ))s] $title ==="
  if ! "$@" 2>&1 | tee "$log"; then
    failed+=("$*")
    { echo "--- $title: failure lines (full log $log) ---"
      grep -aE 'FAIL|UNEXPECTED|panicked|error(\[|:)|not ok|Error:' "$log" | grep -av 'expected failure' | tail -40
    } >> "$LOGS/summary"
  fi
}

step "cargo build" cargo build --workspace --all-targets --locked || exit 1
[ ${#failed[@]} = 0 ] || { echo "build failed"; exit 1; }
step "cargo fmt --check" cargo fmt --all --check
step "clippy (warnings are errors)" cargo clippy --workspace --all-targets --locked -- -D warnings
export RZK_BIN="$ROOT/target/debug/rzk-server"
step "cargo test" cargo test --workspace --locked -- --test-threads=2
step "compat suite against Apache ZooKeeper and rzk" ./tests/compat/run.sh both
step "security: TLS port, x509 ACLs, refused connections, admin auth, cert rotation (Apache ZooKeeper and rzk)" ./tests/security/run.sh both
step "ensemble faults and history checker" ./tests/ensemble/run.sh
step "upgrades: earlier releases' data dirs, rolling upgrade from the previous release" ./tests/upgrade/run.sh
step "migration from and back to Apache ZooKeeper (import-zookeeper, export-zookeeper)" ./tests/migrate/run.sh
if [ -x tests/matrix/run.sh ]; then
  step "client compatibility matrix" ./tests/matrix/run.sh both
fi
step "k8s e2e (operator, chart, real control plane)" \
  env RZK_K8S_CACHE="${RZK_K8S_CACHE:-$HOME/.cache/rzk-k8s}" REPLICAS=3 SKIP_CARGO_BUILD=1 ./tests/k8s/e2e.sh
step "k8s day-2 e2e (reconfig scaling, rolling upgrades leader last, operator restarts)" \
  env RZK_K8S_CACHE="${RZK_K8S_CACHE:-$HOME/.cache/rzk-k8s}" SKIP_CARGO_BUILD=1 ./tests/k8s/e2e_day2.sh

echo
echo "=== [$(( $(date +%s) - start ))s] done ==="
if [ ${#failed[@]} -gt 0 ]; then
  cat "$LOGS/summary"
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all tests passed"
