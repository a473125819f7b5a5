#!/usr/bin/env bash
# Installs the peers the tests use (Apache ZooKeeper + zkCli from Debian, kazoo from PyPI). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if ! [ -x /usr/share/zookeeper/bin/zkServer.sh ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q zookeeper zookeeper-bin
fi
