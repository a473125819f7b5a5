# Shared by tests/k8s/e2e.sh and tests/k8s/e2e_day2.sh (sourced): the test ground (control plane,
# test kubelet, Helm chart, operator as a local process with the chart's ServiceAccount token)
# and check helpers.
#
# Env (defaults in parentheses; e2e_day2.sh picks other defaults so both can run at once):
#   RZK_K8S_CACHE (.cache/k8s)      binaries in $CACHE/bin (built once by build-control-plane.sh)
#   RUN_DIR ($CACHE/run)            certificates, kubeconfigs, logs, pids, kubelet state
#   VOLUMES_DIR ($CACHE/volumes)    the pods' persistent volumes
#   K8S_API_PORT (26443), K8S_ETCD_PORT (23790), ADDRESS_PREFIX (127.0.1): pods are PREFIX.N
#   OPERATOR_METRICS_PORT (18080)   the local operator's /metrics
#   OPERATOR_LOG_FORMAT (text)      the operator's --log-format (e2e.sh: json)
#   KEEP=1 leaves everything running; SKIP_CARGO_BUILD=1 uses the binaries as they are.
#   RZK_BIN_DIR (${CARGO_TARGET_DIR:-target}/debug)  where rzk-server and rzk-operator are (and are
#                                   built: cargo honours CARGO_TARGET_DIR)
# shellcheck shell=bash

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CACHE="${RZK_K8S_CACHE:-$ROOT/.cache/k8s}"
export RUN_DIR="${RUN_DIR:-$CACHE/run}"
VOLUMES="${VOLUMES_DIR:-$CACHE/volumes}"
BIN="$CACHE/bin"
export PATH="$BIN:$PATH"
export KUBECONFIG="$RUN_DIR/admin.kubeconfig"
export K8S_API_PORT="${K8S_API_PORT:-26443}" K8S_ETCD_PORT="${K8S_ETCD_PORT:-23790}"
ADDRESS_PREFIX="${ADDRESS_PREFIX:-127.0.1}"
OP_METRICS="127.0.0.1:${OPERATOR_METRICS_PORT:-18080}"
PY="$ROOT/.cache/venv/bin/python"
RZK_BIN_DIR="${RZK_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}"
T_START=$(date +%s)
passed=0; failed=0
TAG="${TAG:-e2e}"

say() { echo "[$TAG $(( $(date +%s) - T_START ))s] $*"; }
ok() { passed=$((passed + 1)); echo "  PASS: $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
die() { bad "$*"; finish; }
finish() {
  type on_finish >/dev/null 2>&1 && on_finish
  if [ "${KEEP:-0}" != 1 ]; then "$ROOT/tests/k8s/stop-control-plane.sh"; else say "KEEP=1: left running (KUBECONFIG=$KUBECONFIG)"; fi
  say "done in $(( $(date +%s) - T_START ))s"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]; exit $?
}

# ---- build ----------------------------------------------------------------------------------------
build_all() {
  say "control plane binaries"
  "$ROOT/tests/k8s/build-control-plane.sh" || die "build-control-plane.sh"
  if [ "${SKIP_CARGO_BUILD:-0}" != 1 ]; then
    say "cargo build rzk-server rzk-operator (into ${CARGO_TARGET_DIR:-$ROOT/target})"
    (cd "$ROOT" && cargo build -q -p rzk-server -p rzk-operator) || die "cargo build"
  fi
  [ -x "$PY" ] && "$PY" -c 'import kazoo' 2>/dev/null || "$ROOT/tests/install-deps.sh" || die "install-deps"
}

# ---- control plane + test kubelet -----------------------------------------------------------------
start_test_ground() {
  "$ROOT/tests/k8s/stop-control-plane.sh"
  rm -rf "$VOLUMES"
  say "starting control plane (api :$K8S_API_PORT, pods $ADDRESS_PREFIX.N)"
  "$ROOT/tests/k8s/start-control-plane.sh" || die "start-control-plane.sh"
  mkdir -p "$RUN_DIR/kubelet"
  API=$(sed -n 's/^ *server: //p' "$KUBECONFIG" | head -1)
  nohup python3 "$ROOT/tests/k8s/kubelet/kubelet.py" --server "$API" --ca "$RUN_DIR/pki/ca.crt" \
    --cert "$RUN_DIR/pki/admin.crt" --key "$RUN_DIR/pki/admin.key" --state-dir "$RUN_DIR/kubelet" \
    --volumes-dir "$VOLUMES" --path "$RZK_BIN_DIR" --address-prefix "$ADDRESS_PREFIX" \
    > "$RUN_DIR/logs/test-kubelet.log" 2>&1 &
  echo $! > "$RUN_DIR/pids/test-kubelet.pid"
  for _ in $(seq 1 60); do kubectl get node rzk-test-node >/dev/null 2>&1 && break; sleep 0.5; done
  kubectl wait --for=condition=Ready node/rzk-test-node --timeout=60s >/dev/null || die "node Ready"
  ok "control plane up, node rzk-test-node Ready"
}

# ---- helm install + the operator as a local process with the chart's ServiceAccount --------------
helm_install() {
  helm install rzk-operator "$ROOT/charts/rzk-operator" -n rzk-system --create-namespace \
    --set operator.replicas=0 --wait --timeout 60s >/dev/null || die "helm install"
  ok "helm install (operator.replicas=0)"
  kubectl wait --for=condition=Established crd/zookeeperclusters.rzk.dev --timeout=30s >/dev/null || die "CRD established"
  SA=$(kubectl get deploy -n rzk-system -o jsonpath='{.items[0].spec.template.spec.serviceAccountName}')
  TOKEN=$(kubectl create token "$SA" -n rzk-system --duration=2h) || die "create token"
  cat > "$RUN_DIR/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: rzk-test
  cluster: {server: "$API", certificate-authority: "$RUN_DIR/pki/ca.crt"}
users:
- name: rzk-operator
  user: {token: "$TOKEN"}
contexts:
- name: rzk-operator
  context: {cluster: rzk-test, user: rzk-operator}
current-context: rzk-operator
EOF
  # The chart's generated super-user key Secret, as the Deployment would mount it.
  kubectl get secret -n rzk-system rzk-operator-auth -o jsonpath='{.data.auth-key}' | base64 -d > "$RUN_DIR/auth-key" \
    && [ -s "$RUN_DIR/auth-key" ] || die "auth key Secret"
  chmod 600 "$RUN_DIR/auth-key"
}
start_operator() {
  KUBECONFIG="$RUN_DIR/operator.kubeconfig" RUST_LOG="${OPERATOR_LOG:-info,kube=warn}" LOG_FORMAT="${OPERATOR_LOG_FORMAT:-text}" nohup "$RZK_BIN_DIR/rzk-operator" run \
    --metrics-addr "$OP_METRICS" --auth-key-file "$RUN_DIR/auth-key" >> "$RUN_DIR/logs/rzk-operator.log" 2>&1 &
  echo $! > "$RUN_DIR/pids/rzk-operator.pid"
  for _ in $(seq 1 50); do curl -sf "http://$OP_METRICS/healthz" >/dev/null && break; sleep 0.2; done
}
stop_operator() { kill "$(cat "$RUN_DIR/pids/rzk-operator.pid")" 2>/dev/null; sleep 1; }
kill9_operator() { kill -9 "$(cat "$RUN_DIR/pids/rzk-operator.pid")" 2>/dev/null; sleep 0.5; }
metric() { curl -s "http://$OP_METRICS/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# The client Service's endpoints = its selector's ready pods at the Service port (the test ground's
# endpoint controllers are off because pod addresses are loopback).
endpoints() { # namespace service
  local sel port
  sel=$(kubectl get -n "$1" svc "$2" -o go-template='{{range $k, $v := .spec.selector}}{{$k}}={{$v}},{{end}}')
  port=$(kubectl get -n "$1" svc "$2" -o jsonpath='{.spec.ports[?(@.name=="client")].port}')
  kubectl get -n "$1" pods -l "${sel%,}" -o json | python3 -c "
import json, sys
pods = json.load(sys.stdin)['items']
ready = [p['status']['podIP'] for p in pods
         if any(c['type'] == 'Ready' and c['status'] == 'True' for c in p['status'].get('conditions', []))]
print(','.join(f'{ip}:$port' for ip in sorted(ready)))"
}
