#!/usr/bin/env bash
# Installs the peers the tests use (Apache ZooKeeper + zkCli from Debian, kazoo from PyPI). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# --- Debian: Apache ZooKeeper 3.8 (reference server) and its CLI (zkCli.sh) ------------------------
if ! [ -x /usr/share/zookeeper/bin/zkServer.sh ] || ! [ -x /usr/share/zookeeper/bin/zkCli.sh ] \
   || ! command -v java >/dev/null 2>&1; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q zookeeper zookeeper-bin
fi

# --- Python venv with kazoo + pytest (tests/compat) -------------------------------------------------
VENV=.cache/venv
KAZOO_VERSION=2.11.0
PYTEST_VERSION=8.3.5
PYTEST_TIMEOUT_VERSION=2.4.0
want="kazoo==$KAZOO_VERSION pytest==$PYTEST_VERSION pytest-timeout==$PYTEST_TIMEOUT_VERSION"
stamp="$VENV/.rzk-deps"
if ! [ -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  PY=""
  for c in python3 /usr/bin/python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import venv, ensurepip' >/dev/null 2>&1; then PY="$c"; break; fi
  done
  if [ -z "$PY" ]; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3 python3-venv
    PY=/usr/bin/python3
  fi
  rm -rf "$VENV"
  mkdir -p .cache
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check $want
  echo "$want" > "$stamp"
fi
