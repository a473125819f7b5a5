#!/usr/bin/env bash
# The whole test suite ("one command runs the whole test suite" in the README).
#   1. Rust: unit, codec-vector, storage crash, server integration (zookeeper-client crate) tests
#   2. Compat: real clients (kazoo, zkCli.sh) against Apache ZooKeeper AND rzk, same scenarios
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .cache/venv/bin/python ] && [ -x /usr/share/zookeeper/bin/zkServer.sh ] || ./tests/install-deps.sh
start=$(date +%s)
step() { echo; echo "=== [$(( $(date +%s) - start ))s] $* ==="; }

step "cargo build"
cargo build --workspace --all-targets --locked
step "cargo test"
cargo test --workspace --locked -- --test-threads=2
step "compat suite (kazoo, zkCli) against Apache ZooKeeper and rzk"
RZK_BIN="$PWD/target/debug/rzk-server" ./tests/compat/run.sh both
step "all tests passed"
