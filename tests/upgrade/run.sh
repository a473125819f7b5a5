#!/usr/bin/env bash
# Upgrades and old data: every release in tests/upgrade/releases against this build.
#   1. golden data dirs (tests/upgrade/fixtures/<version>) open with this build, tree identical
#   2. a rolling upgrade of a 3-member ensemble from the newest earlier release, under load
# Environment: RZK_BIN (this build; default target/debug/rzk-server), RZK_UPGRADE_CACHE.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x .cache/venv/bin/python ] || ./tests/install-deps.sh
PY=.cache/venv/bin/python
export RZK_BIN=${RZK_BIN:-$PWD/target/debug/rzk-server}
[ -x "$RZK_BIN" ] || cargo build -p rzk-server
status=0

echo "=== golden data dirs of earlier releases ==="
for fx in tests/upgrade/fixtures/*/; do
  $PY tests/upgrade/fixture.py check "$RZK_BIN" "${fx%/}" || status=1
done

newest=$(grep -v '^#' tests/upgrade/releases | awk 'NF { v = $1 } END { print v }')
echo "=== rolling upgrade $newest -> this build ==="
old=$(./tests/upgrade/build-release.sh "$newest")
RZK_OLD_BIN=$old timeout --signal=TERM --kill-after=20 600 \
  $PY -m pytest tests/upgrade -p no:cacheprovider -q -rfEs -o timeout=300 "$@" || status=$?
exit $status
