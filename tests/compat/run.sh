#!/usr/bin/env bash
# Compat suite: real ZooKeeper clients (kazoo, zkCli.sh) against a server.
#
#   tests/compat/run.sh                 apache, then rzk if its binary exists
#   tests/compat/run.sh apache|rzk      one implementation
#   tests/compat/run.sh rzk -k acl -x   extra arguments go to pytest
#
# Environment: RZK_BIN (default target/debug/rzk-server), ZK_CONNECT=host:port (use a running
# server instead of starting one; impl argument then only labels the run), ZK_KEEP_DIRS=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

impls=()
case "${1:-}" in
  apache|rzk) impls=("$1"); shift ;;
  both) impls=(apache rzk); shift ;;
  ""|-*) impls=(apache)
         [ -x "${RZK_BIN:-$ROOT/target/debug/rzk-server}" ] && impls+=(rzk) ;;
  *) echo "usage: $0 [apache|rzk|both] [pytest args...]" >&2; exit 2 ;;
esac

# idempotent and quick when everything is already there
if ! [ -x .cache/venv/bin/python ] || ! [ -x /usr/share/zookeeper/bin/zkServer.sh ]; then
  ./tests/install-deps.sh
fi

export RZK_BIN="${RZK_BIN:-$ROOT/target/debug/rzk-server}"
status=0
for impl in "${impls[@]}"; do
  if [ "$impl" = rzk ] && [ -z "${ZK_CONNECT:-}" ] && ! [ -x "$RZK_BIN" ]; then
    echo "compat: rzk binary $RZK_BIN missing (cargo build -p rzk-server)" >&2
    status=1
    continue
  fi
  echo "=== compat suite against: $impl ==="
  ZK_IMPL=$impl .cache/venv/bin/python -m pytest tests/compat -p no:cacheprovider \
    -o timeout=120 -q -rfEs "$@" || status=$?
done
exit $status
