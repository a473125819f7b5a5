#!/usr/bin/env bash
# Migration from and back to Apache ZooKeeper (rzk-server import-zookeeper / export-zookeeper):
# see migrate_test.py. Environment: RZK_BIN (default target/debug/rzk-server), ZK_KEEP_DIRS=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .cache/venv/bin/python ] || ./tests/install-deps.sh
export RZK_BIN=${RZK_BIN:-$PWD/target/debug/rzk-server}
[ -x "$RZK_BIN" ] || cargo build -p rzk-server
timeout --signal=TERM --kill-after=20 900 .cache/venv/bin/python tests/migrate/migrate_test.py
