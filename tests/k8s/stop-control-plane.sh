#!/usr/bin/env bash
# Stops what start-control-plane.sh (and the test kubelet / local operator of e2e.sh) started,
# by the pids it recorded under $RUN_DIR/pids.
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${RZK_K8S_CACHE:-$ROOT/.cache/k8s}"
RUN_DIR="${RUN_DIR:-$CACHE/run}"
[ -d "$RUN_DIR/pids" ] || exit 0
# Reverse start order: operator and kubelet first (the kubelet stops its servers), etcd last.
for name in rzk-operator test-kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
  f="$RUN_DIR/pids/$name.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
done
exit 0
