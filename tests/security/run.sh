#!/usr/bin/env bash
# Security scenarios (TLS client port, port unification, x509 ACLs, refused connections, AdminServer
# authentication, certificate rotation) against Apache ZooKeeper 3.8 and rzk, with certificates
# generated here (openssl).
#
#   tests/security/run.sh [apache|rzk|both] [pytest args...]      (default both)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
impls=(apache rzk)
case "${1:-}" in
  apache|rzk) impls=("$1"); shift ;;
  both) shift ;;
esac
if ! [ -x .cache/venv/bin/python ] || ! [ -x /usr/share/zookeeper/bin/zkServer.sh ]; then
  ./tests/install-deps.sh
fi
command -v openssl >/dev/null || { echo "security: openssl is needed to make the test certificates" >&2; exit 1; }
export RZK_BIN="${RZK_BIN:-$ROOT/target/debug/rzk-server}"
SEC_CERTS=$(mktemp -d /tmp/rzk-security-certs.XXXXXX)
trap 'rm -rf "$SEC_CERTS"' EXIT
export SEC_CERTS
./tests/security/gencerts.sh "$SEC_CERTS"
status=0
for impl in "${impls[@]}"; do
  echo "=== security scenarios against: $impl ==="
  ZK_IMPL=$impl .cache/venv/bin/python -m pytest tests/security -p no:cacheprovider \
    -o timeout=120 -q -rfEs "$@" || status=$?
done
exit $status
