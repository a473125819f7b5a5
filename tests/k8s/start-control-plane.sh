#!/usr/bin/env bash
# Starts a real Kubernetes control plane on loopback (built by build-control-plane.sh):
#   etcd (--unsafe-no-fsync), kube-apiserver (RBAC, client-cert auth, service-account tokens),
#   kube-controller-manager (StatefulSet -> Pods, PVC binding, garbage collection, tokens),
#   kube-scheduler.
# Certificates, keys and kubeconfigs are generated under .cache/k8s/run/ (RUN_DIR):
#   $RUN_DIR/admin.kubeconfig   cluster-admin (system:masters) client certificate
# Logs: $RUN_DIR/logs/*.log; pids: $RUN_DIR/pids/*.pid. Stop with stop-control-plane.sh.
# Ports (loopback only): etcd $K8S_ETCD_PORT (default 23790), apiserver $K8S_API_PORT (26443).
# Nothing ever connects to a Service ClusterIP (10.0.0.0/24 is only an allocation range).
# Pod addresses are loopback (127.0.1.N, see kubelet/kubelet.py), which Endpoints/EndpointSlices reject
# ("may not be in the loopback range"), so the endpoint controllers are disabled; tests resolve a
# Service to its ready pods' addresses themselves (the same selection the endpoints controller makes).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${RZK_K8S_CACHE:-$ROOT/.cache/k8s}"
BIN="$CACHE/bin"
RUN_DIR="${RUN_DIR:-$CACHE/run}"
ETCD_PORT="${K8S_ETCD_PORT:-23790}"
ETCD_PEER_PORT=$((ETCD_PORT + 1))
API_PORT="${K8S_API_PORT:-26443}"
export PATH="$BIN:$PATH"

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: run tests/k8s/build-control-plane.sh" >&2; exit 1; }
done
if [ -f "$RUN_DIR/pids/kube-apiserver.pid" ] && kill -0 "$(cat "$RUN_DIR/pids/kube-apiserver.pid")" 2>/dev/null; then
  echo "control plane already running (kubeconfig $RUN_DIR/admin.kubeconfig)"; exit 0
fi
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"/{pki,logs,pids,etcd}
P="$RUN_DIR/pki"

# --- PKI: a CA, the apiserver's serving cert, an admin client cert, the service-account key pair.
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 30 -subj "/CN=rzk-test-ca"
cat > "$P/server.ext" <<EOF
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EOF
ossl req -newkey rsa:2048 -nodes -keyout "$P/apiserver.key" -out "$P/apiserver.csr" -subj "/CN=kube-apiserver"
ossl x509 -req -in "$P/apiserver.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 30 \
  -extfile "$P/server.ext" -out "$P/apiserver.crt"
client_cert() { # name CN O
  printf 'extendedKeyUsage=clientAuth\n' > "$P/client.ext"
  ossl req -newkey rsa:2048 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "/CN=$2/O=$3"
  ossl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 30 \
    -extfile "$P/client.ext" -out "$P/$1.crt"
}
client_cert admin kubernetes-admin system:masters
ossl genrsa -out "$P/sa.key" 2048
ossl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub"

kubeconfig() { # file cert key
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: rzk-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $P/ca.crt
users:
- name: admin
  user:
    client-certificate: $2
    client-key: $3
contexts:
- name: rzk-test
  context: {cluster: rzk-test, user: admin, namespace: default}
current-context: rzk-test
EOF
}
kubeconfig "$RUN_DIR/admin.kubeconfig" "$P/admin.crt" "$P/admin.key"

start() { # name args...
  local name=$1; shift
  nohup "$@" > "$RUN_DIR/logs/$name.log" 2>&1 &
  echo $! > "$RUN_DIR/pids/$name.pid"
}

# --- etcd
start etcd etcd --name rzk-test --data-dir "$RUN_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "rzk-test=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls "" --unsafe-no-fsync --quota-backend-bytes=$((1 << 30)) --log-level=warn
for _ in $(seq 1 100); do
  etcd_ok=$( (exec 3<>"/dev/tcp/127.0.0.1/$ETCD_PORT") 2>/dev/null && echo y || true)
  [ -n "$etcd_ok" ] && break; sleep 0.2
done
[ -n "${etcd_ok:-}" ] || { echo "etcd did not start:" >&2; tail -20 "$RUN_DIR/logs/etcd.log" >&2; exit 1; }

# --- kube-apiserver (flags as envtest uses them, plus token signing and RBAC)
start kube-apiserver kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
  --client-ca-file="$P/ca.crt" \
  --service-cluster-ip-range=10.0.0.0/24 \
  --authorization-mode=Node,RBAC --allow-privileged=true \
  --disable-admission-plugins=ServiceAccount \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --endpoint-reconciler-type=none \
  --enable-priority-and-fairness=false \
  --profiling=false --v=1
K="kubectl --kubeconfig=$RUN_DIR/admin.kubeconfig"
for i in $(seq 1 150); do
  if $K get --raw=/readyz >/dev/null 2>&1; then break; fi
  if ! kill -0 "$(cat "$RUN_DIR/pids/kube-apiserver.pid")" 2>/dev/null; then
    echo "kube-apiserver exited:" >&2; tail -30 "$RUN_DIR/logs/kube-apiserver.log" >&2; exit 1
  fi
  sleep 0.4
done
$K get --raw=/readyz >/dev/null || { echo "kube-apiserver not ready:" >&2; tail -30 "$RUN_DIR/logs/kube-apiserver.log" >&2; exit 1; }

# --- controller-manager and scheduler (cluster-admin kubeconfig, no serving port, no leader election)
start kube-controller-manager kube-controller-manager \
  --kubeconfig="$RUN_DIR/admin.kubeconfig" --leader-elect=false --secure-port=0 \
  --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --use-service-account-credentials=false --controllers='*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller,-node-ipam-controller,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller' \
  --cluster-name=rzk-test --concurrent-statefulset-syncs=2 --v=1
start kube-scheduler kube-scheduler \
  --kubeconfig="$RUN_DIR/admin.kubeconfig" --leader-elect=false --secure-port=0 --v=1

for _ in $(seq 1 60); do
  $K get serviceaccount default -n default >/dev/null 2>&1 && break; sleep 0.5
done
sleep 1
for c in kube-controller-manager kube-scheduler; do
  kill -0 "$(cat "$RUN_DIR/pids/$c.pid")" 2>/dev/null || { echo "$c exited:" >&2; tail -30 "$RUN_DIR/logs/$c.log" >&2; exit 1; }
done
echo "control plane up: kubectl --kubeconfig=$RUN_DIR/admin.kubeconfig ($($K version -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | tail -1))"
