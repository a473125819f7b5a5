#!/usr/bin/env bash
# End-to-end test of the operator on a real Kubernetes control plane (no Docker):
#   etcd + kube-apiserver + kube-controller-manager + kube-scheduler built from Go modules
#   (build-control-plane.sh, cached), the test kubelet (kubelet/kubelet.py) running the real
#   rzk-server per pod, the Helm chart, and rzk-operator.
#
# The chart is installed with operator.replicas=0 (its image cannot run here): the operator runs as
# a local process, authenticated as the chart's ServiceAccount (a TokenRequest token), so the
# chart's least-privilege RBAC is what the operator really gets.
#
# Env: REPLICAS (default 3; 1 for a one-server ensemble), KEEP=1 leaves everything running,
#      SKIP_CARGO_BUILD=1 uses the binaries already built (RZK_BIN_DIR, default ${CARGO_TARGET_DIR:-target}/debug).
# Prints `N passed, M failed` at the end; exits non-zero on any failure.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
REPLICAS="${REPLICAS:-3}"
NS=e2e
TAG=e2e
export OPERATOR_LOG_FORMAT="${OPERATOR_LOG_FORMAT:-json}"   # day-2 runs it with text logs
# shellcheck source=lib.sh
. "$ROOT/tests/k8s/lib.sh"
trap 'die "interrupted"' INT TERM

build_all
start_test_ground

# ---- helm install ---------------------------------------------------------------------------------
say "helm install"
check "helm lint" helm lint charts/rzk-operator >/dev/null
check "chart renders a ServiceMonitor when enabled" bash -c "helm template t charts/rzk-operator --set serviceMonitor.enabled=true | grep -q 'kind: ServiceMonitor'"
check "chart renders namespaced RBAC (Role) on request" bash -c "helm template t charts/rzk-operator --set rbac.namespaced=true --set operator.watchNamespace=apps | grep -q 'kind: RoleBinding'"
check "chart passes operator.logFormat to the operator (LOG_FORMAT)" bash -c "helm template t charts/rzk-operator --set operator.logFormat=json | grep -A1 'name: LOG_FORMAT' | grep -q '\"json\"'"
check "chart mounts the generated auth key Secret" bash -c "helm template t charts/rzk-operator | grep -q 'secretName: t-rzk-operator-auth'"
check "chart CRD identical to crds/zookeepercluster.yaml" cmp -s crds/zookeepercluster.yaml charts/rzk-operator/crds/zookeepercluster.yaml
helm_install
check "kubectl explain shows field docs" bash -c "kubectl explain zookeepercluster.spec.storage.reclaimPolicy | grep -q 'keeps them'"
check "example manifest accepted (server dry run)" kubectl apply --dry-run=server -n default -f charts/rzk-operator/examples/zookeepercluster.yaml
check "ServiceAccount may not read secrets (least privilege)" bash -c "! kubectl --kubeconfig=$RUN_DIR/operator.kubeconfig get secrets -A >/dev/null 2>&1"
start_operator
check "operator /healthz" curl -sf "http://$OP_METRICS/healthz" -o /dev/null
if [ "$OPERATOR_LOG_FORMAT" = json ]; then
  check "operator log: one JSON object per line, no ANSI escapes" python3 -c "
import json, sys
lines = [l for l in open('$RUN_DIR/logs/rzk-operator.log') if l.strip()]
objs = [json.loads(l) for l in lines]
assert lines and all('\x1b' not in l for l in lines)
assert any(o.get('message') == 'rzk-operator starting' and o['level'] == 'INFO' for o in objs), objs[:3]"
fi

# ---- a ZookeeperCluster ---------------------------------------------------------------------------
say "ZookeeperCluster e2e with $REPLICAS replica(s)"
kubectl create namespace "$NS" >/dev/null
# The namespace enforces the Pod Security "restricted" level (the PodSecurity admission plugin
# refuses any other pod) and a ResourceQuota that requires CPU/memory requests and limits on
# every container: the servers' pods must pass both to exist at all.
kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/enforce-version=latest pod-security.kubernetes.io/warn=restricted \
  >/dev/null || die "label namespace"
kubectl apply -n "$NS" -f - >/dev/null <<EOF || die "ResourceQuota"
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec:
  hard: {requests.cpu: "20", requests.memory: 40Gi, limits.cpu: "40", limits.memory: 80Gi, pods: "20"}
EOF
restricted_sc='{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}}'
for _ in $(seq 1 40); do [ -n "$(kubectl get -n "$NS" resourcequota compute -o jsonpath='{.status.hard.pods}')" ] && break; sleep 0.5; done
probe_pod() { # name containers-json-fragment: a server dry run of a pod in $NS, its output
  kubectl run -n "$NS" "$1" --image=x --restart=Never --dry-run=server \
    --overrides="{\"spec\":{\"containers\":[{\"name\":\"x\",\"image\":\"x\"$2}]}}" 2>&1; }
limits=',"resources":{"limits":{"cpu":"1","memory":"1Gi"}}'
pod_says() { local out; out=$(probe_pod "$1" "$2"); grep -q -- "$3" <<<"$out"; } # name fragment expected-output
check "the namespace refuses a restricted pod without limits (quota)" pod_says q ",\"securityContext\":$restricted_sc" 'must specify'
check "the namespace refuses a pod with limits but no securityContext (PodSecurity)" pod_says p "$limits" 'violates PodSecurity "restricted'
check "... and accepts a pod with both" pod_says o ",\"securityContext\":$restricted_sc$limits" 'created (server dry run)'
manifest() { # replicas [extra spec lines]
  cat <<EOF
apiVersion: rzk.dev/v1alpha1
kind: ZookeeperCluster
metadata:
  name: e2e
  namespace: $NS
spec:
  replicas: $1
  config:
    maxClientCnxns: "200"
  storage:
    size: 1Gi
    reclaimPolicy: Retain
EOF
}
manifest "$REPLICAS" > "$RUN_DIR/e2e-cluster.yaml"
# `rzk-operator render` (no API server) prints what the operator will create: the API server
# accepts it, and PodSecurity has no warning for the StatefulSet's pod template.
rendered=$("$RZK_BIN_DIR/rzk-operator" render -f "$RUN_DIR/e2e-cluster.yaml" | kubectl apply --dry-run=server -f - 2>&1)
check "rzk-operator render: 6 objects the API server accepts, no PodSecurity warning" \
  bash -c "[ \$(grep -c '(server dry run)' <<<\"\$1\") = 6 ] && ! grep -qi 'warning' <<<\"\$1\"" _ "$rendered"
{ cat "$RUN_DIR/e2e-cluster.yaml"; printf '  podTemplate:\n    containerSecurityContext: {allowPrivilegeEscalation: true}\n'; } > "$RUN_DIR/e2e-escalating.yaml"
rendered=$("$RZK_BIN_DIR/rzk-operator" render -f "$RUN_DIR/e2e-escalating.yaml" | kubectl apply --dry-run=server -f - 2>&1)
check "... and PodSecurity warns about a template that allows privilege escalation" grep -q 'would violate PodSecurity "restricted' <<<"$rendered"
kubectl apply -f "$RUN_DIR/e2e-cluster.yaml" >/dev/null || die "apply ZookeeperCluster"
t0=$(date +%s)
if kubectl wait -n "$NS" zk/e2e --for=condition=Available --timeout=240s >/dev/null; then
  ok "Available after $(( $(date +%s) - t0 ))s"
else
  kubectl get -n "$NS" zk,pods -o wide; kubectl get -n "$NS" zk e2e -o jsonpath='{.status}'; echo
  die "ZookeeperCluster did not become Available"
fi
for _ in $(seq 1 60); do
  [ "$(kubectl get -n "$NS" zk e2e -o jsonpath='{.status.readyReplicas}')" = "$REPLICAS" ] && break; sleep 1
done
kubectl get -n "$NS" zk,sts,pods,pvc,svc,pdb,cm -o wide
status=$(kubectl get -n "$NS" zk e2e -o json)
jq_() { echo "$status" | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
check "status.readyReplicas == $REPLICAS" [ "$(jq_ "s['status']['readyReplicas']")" = "$REPLICAS" ]
check "status.observedGeneration == metadata.generation" [ "$(jq_ "s['status']['observedGeneration'] == s['metadata']['generation']")" = True ]
LEADER=$(jq_ "s['status'].get('leader', '')")
check "status shows the leader ($LEADER)" [ -n "$LEADER" ]
roles=$(jq_ "','.join(sorted(m['role'] for m in s['status']['members']))")
if [ "$REPLICAS" = 1 ]; then want_roles=leader; else want_roles="follower$(printf ',follower%.0s' $(seq 3 "$REPLICAS")),leader"; fi
check "member roles: $roles" [ "$roles" = "$want_roles" ]
check "condition Degraded=False" [ "$(jq_ "[c['status'] for c in s['status']['conditions'] if c['type']=='Degraded'][0]")" = False ]
check "printer columns show the leader" bash -c "kubectl get -n $NS zk e2e | grep -q ' $LEADER '"
check "Events recorded for the cluster" bash -c "kubectl get events -n $NS --field-selector involvedObject.kind=ZookeeperCluster -o name | grep -q ."
check "every pod passed the restricted level and the quota (all $REPLICAS created)" [ "$(kubectl get -n "$NS" pods -l app.kubernetes.io/instance=e2e -o name | wc -l)" = "$REPLICAS" ]
check "the quota counts the servers' limits" bash -c "kubectl get -n $NS resourcequota compute -o jsonpath='{.status.used.limits\.memory}' | grep -q '[1-9]'"
check "no pod creation was refused (no FailedCreate Event)" bash -c "! kubectl get events -n $NS --field-selector reason=FailedCreate -o name | grep -q ."
check "server pods mount no ServiceAccount token" [ "$(kubectl get -n "$NS" pod e2e-0 -o jsonpath='{.spec.automountServiceAccountToken}')" = false ]
check "owner references on owned objects" bash -c \
  "for o in sts/e2e svc/e2e svc/e2e-headless cm/e2e-members pdb/e2e; do kubectl get -n $NS \$o -o jsonpath='{.metadata.ownerReferences[0].kind}' | grep -q ZookeeperCluster || exit 1; done"
check "headless Service publishes not-ready addresses" [ "$(kubectl get -n "$NS" svc e2e-headless -o jsonpath='{.spec.publishNotReadyAddresses}')" = true ]
check "the dynamic config file lists $REPLICAS servers" [ "$(kubectl get -n "$NS" cm e2e-members -o jsonpath='{.data.zoo\.cfg\.dynamic}' | grep -c '^server\.')" = "$REPLICAS" ]
check "status.serverIds allocates ids 1..$REPLICAS" [ "$(jq_ "','.join(str(i['id']) for i in s['status']['serverIds'])")" = "$(seq -s, 1 "$REPLICAS")" ]
check "status.ensemble lists $REPLICAS voters" [ "$(jq_ "len(s['status']['ensemble']['voters'])")" = "$REPLICAS" ]
check "the revision's zoo.cfg ConfigMap is immutable and enables reconfig" bash -c \
  "cm=\$(kubectl get -n $NS sts e2e -o jsonpath='{.spec.template.spec.volumes[0].configMap.name}'); [ \"\$(kubectl get -n $NS cm \$cm -o jsonpath='{.immutable}')\" = true ] && kubectl get -n $NS cm \$cm -o jsonpath='{.data.zoo\.cfg}' | grep -qx 'reconfigEnabled=true'"
live_hash=$(kubectl get -n "$NS" sts e2e -o jsonpath='{.spec.template.metadata.annotations.rzk\.dev/template-hash}')
render_hash=$("$RZK_BIN_DIR/rzk-operator" render -f "$RUN_DIR/e2e-cluster.yaml" --uid "$(kubectl get -n "$NS" zk e2e -o jsonpath='{.metadata.uid}')" \
  --auth-key-file "$RUN_DIR/auth-key" | sed -n 's/^ *rzk.dev\/template-hash: *//p' | tr -d "'\"")
check "render --uid of the live cluster gives the StatefulSet the operator applied (template hash $render_hash)" [ "${live_hash:-none}" = "$render_hash" ]
sleep 2
check "operator metric rzk_cluster_quorum_healthy == 1" [ "$(metric "rzk_cluster_quorum_healthy{cluster=\"e2e\",namespace=\"$NS\"}")" = 1 ]
check "operator metric rzk_cluster_ready_replicas == $REPLICAS" [ "$(metric "rzk_cluster_ready_replicas{cluster=\"e2e\",namespace=\"$NS\"}")" = "$REPLICAS" ]

# ---- a real client through the client Service --------------------------------------------------
HOSTS=$(endpoints "$NS" e2e)
say "client Service endpoints: $HOSTS"
check "kazoo writes and reads through the client Service" "$PY" tests/k8s/e2e_client.py write "$HOSTS" /e2e/hello "from-kubernetes"
check "every server returns the write" "$PY" tests/k8s/e2e_client.py read "$HOSTS" /e2e/hello "from-kubernetes"

# ---- idempotency: no change => no writes ---------------------------------------------------------
rvs() { for o in zk/e2e sts/e2e svc/e2e svc/e2e-headless cm/e2e-members "cm/$(kubectl get -n "$NS" sts e2e -o jsonpath='{.spec.template.spec.volumes[0].configMap.name}')" pdb/e2e; do
  echo "$o $(kubectl get -n "$NS" "$o" -o jsonpath='{.metadata.resourceVersion}')"; done; }
wait_reconciles() { # wait (up to 45 s: a settled cluster requeues every 30 s) until the reconcile counter passes $1
  for _ in $(seq 1 90); do [ "$(metric 'rzk_operator_reconciliations_total{result="ok"}' | cut -d. -f1)" -gt "$1" ] 2>/dev/null && return 0; sleep 0.5; done; return 1; }
sleep 3
before=$(rvs)
events_before=$(kubectl get events -n "$NS" --field-selector involvedObject.kind=ZookeeperCluster -o name | wc -l)
check "second kubectl apply is unchanged" bash -c "kubectl apply -f $RUN_DIR/e2e-cluster.yaml | grep -q unchanged"
stop_operator; start_operator   # a fresh operator reconciles everything from scratch
check "restarted operator reconciled" wait_reconciles 0
n=$(metric 'rzk_operator_reconciliations_total{result="ok"}' | cut -d. -f1)
check "a further reconcile ran" wait_reconciles "$n"
sleep 1
after=$(rvs)
if [ "$before" = "$after" ]; then ok "no writes: resourceVersions of the cluster and owned objects unchanged"; else
  bad "resourceVersions changed:"; diff <(echo "$before") <(echo "$after"); fi
check "no new Events" [ "$(kubectl get events -n "$NS" --field-selector involvedObject.kind=ZookeeperCluster -o name | wc -l)" = "$events_before" ]

# ---- invalid specs are rejected by the API server -----------------------------------------------
reject() { # description expected-message spec-yaml
  local out
  out=$(printf 'apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: bad, namespace: %s}\nspec:\n%s\n' "$NS" "$3" \
        | kubectl apply --dry-run=server -f - 2>&1)
  if [ $? -ne 0 ] && grep -q -- "$2" <<<"$out"; then ok "rejected $1: $(grep -o -- "$2.*" <<<"$out" | head -1 | cut -c1-100)"
  else bad "$1 not rejected as expected: $out"; fi
}
reject "negative replicas" "greater than or equal to 1" "  replicas: -1"
reject "too many replicas" "less than or equal to 9" "  replicas: 11"
reject "bad enum (service.type)" 'Unsupported value: "Balanced"' "  service: {type: Balanced}"
reject "bad enum (storage.reclaimPolicy)" 'Unsupported value: "Keep"' "  storage: {reclaimPolicy: Keep}"
reject "reserved config key" "the operator manages them" "  config: {dataDir: /tmp}"
reject "duplicate ports" "ports must all be different" "  ports: {client: 2888}"
reject "bad storage size" "should match" "  storage: {size: lots}"
check "even replica counts are accepted (documented; 3 -> 5 passes through 4)" bash -c \
  "printf 'apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: even, namespace: $NS}\nspec: {replicas: 4}\n' | kubectl apply --dry-run=server -f - >/dev/null"
reject "operator-owned membership keys" "the operator manages them" "  config: {reconfigEnabled: \"false\"}"
reject "a non-quantity resources.requests.cpu" "spec.resources.requests.cpu" "  resources: {requests: {cpu: lots}}"
reject "a non-quantity initResources.limits.memory" "spec.initResources.limits.memory" "  initResources: {limits: {memory: 1Gig}}"
reject "storage size 0" "storage.size must be a quantity greater than 0" "  storage: {size: \"0\"}"
reject "config admin.serverPort (spec.ports.admin)" "set spec.ports.admin" "  config: {admin.serverPort: \"9090\"}"
reject "config metricsProvider.httpPort (spec.ports.metrics)" "spec.ports.metrics" "  config: {metricsProvider.httpPort: \"7001\"}"
reject "config clientPort (spec.ports.client)" "clientPort" "  config: {clientPort: \"2182\"}"
reject "config admin.enableServer (the operator needs the AdminServer)" "the operator reaches the AdminServer" "  config: {admin.enableServer: \"false\"}"
out=$(kubectl patch -n "$NS" zk e2e --type=merge -p '{"spec":{"storage":{"size":"2Gi"}}}' 2>&1)
check "storage.size is immutable" grep -q "storage.size is immutable" <<<"$out"
out=$(kubectl patch -n "$NS" zk e2e --type=merge -p '{"spec":{"storage":{"storageClassName":"fast"}}}' 2>&1)
check "storage.storageClassName cannot be added to a live cluster: $(grep -o 'spec.storage.storageClassName.*' <<<"$out" | cut -c1-90)" \
  grep -q "spec.storage.storageClassName: .*storage.storageClassName is immutable" <<<"$out"

# ---- a config change rolls the servers one at a time, keeping the quorum -------------------------
say "config change -> rolling restart"
hash_before=$(kubectl get -n "$NS" sts e2e -o jsonpath='{.spec.template.metadata.annotations.rzk\.dev/config-hash}')
kubectl patch -n "$NS" zk e2e --type=merge -p '{"spec":{"config":{"maxClientCnxns":"300"}}}' >/dev/null
for _ in $(seq 1 30); do
  [ "$(kubectl get -n "$NS" sts e2e -o jsonpath='{.spec.template.metadata.annotations.rzk\.dev/config-hash}')" != "$hash_before" ] && break; sleep 0.5
done
check "pod template hash changed with zoo.cfg" [ "$(kubectl get -n "$NS" sts e2e -o jsonpath='{.spec.template.metadata.annotations.rzk\.dev/config-hash}')" != "$hash_before" ]
rolled() { for _ in $(seq 1 180); do
  [ "$(kubectl get -n "$NS" zk e2e -o jsonpath='{.status.updatedReplicas} {.status.readyReplicas} {.status.conditions[?(@.type=="Progressing")].status}')" = "$REPLICAS $REPLICAS False" ] && return 0; sleep 1; done; return 1; }
check "rolling update completed (operator-driven, OnDelete)" rolled
check "cluster Available after the rollout" kubectl wait -n "$NS" zk/e2e --for=condition=Available --timeout=60s
# Events about different objects stay separate (kube's recorder folds equal ones into a series).
events_of() { kubectl get events -n "$NS" --field-selector "reason=$1" -o json | python3 -c "
import json, sys
evs = json.load(sys.stdin)['items']
objs = [((e.get('related') or {}).get('kind'), (e.get('related') or {}).get('name')) for e in evs]
print(len(evs), len(set(o for o in objs if o[1])), sum(1 for e in evs if e.get('series')))"; }
restarted=$(events_of RestartingPod)
want=$(( REPLICAS > 1 ? REPLICAS - 1 : 1 ))
check "one RestartingPod Event per restarted pod, none folded (events, pods named, series: $restarted)" \
  bash -c "set -- $restarted; [ \$1 -ge $want ] && [ \$1 = \$2 ] && [ \$3 = 0 ]"
created=$(events_of Created)
check "a Created Event per owned object (events, objects named, series: $created)" bash -c "set -- $created; [ \$1 -ge 6 ] && [ \$1 = \$2 ]"
check "servers run the new zoo.cfg" bash -c "grep -l '^maxClientCnxns=300' $RUN_DIR/kubelet/pods/${NS}_e2e-*/configmaps/*/config/zoo.cfg | wc -l | grep -qx $REPLICAS"
HOSTS=$(endpoints "$NS" e2e)
check "data survived the rolling restart" "$PY" tests/k8s/e2e_client.py read "$HOSTS" /e2e/hello "from-kubernetes"
LEADER=$(kubectl get -n "$NS" zk e2e -o jsonpath='{.status.leader}')

# ---- scale down and up again with Retain: the claim is kept, then reused under a new id -----------
if [ "$REPLICAS" -ge 3 ]; then
  say "scale $REPLICAS -> $((REPLICAS - 1)) -> $REPLICAS (scaleDownReclaimPolicy Retain)"
  top=$((REPLICAS - 1))
  top_id=$(kubectl get -n "$NS" zk e2e -o jsonpath="{.status.serverIds[?(@.ordinal==$top)].id}")
  kubectl patch -n "$NS" zk e2e --type=merge -p "{\"spec\":{\"replicas\":$top}}" >/dev/null
  scaled() { for _ in $(seq 1 120); do
    [ "$(kubectl get -n "$NS" zk e2e -o jsonpath='{.status.replicas} {.status.readyReplicas} {.status.conditions[?(@.type=="Progressing")].status}')" = "$1 $1 False" ] && \
    [ "$(kubectl get -n "$NS" zk e2e -o jsonpath='{.status.ensemble.voters}' | tr -d '[]' | tr ',' '\n' | grep -c .)" = "$1" ] && return 0; sleep 1; done; return 1; }
  check "scaled down to $top voters" scaled "$top"
  check "the removed pod's claim is kept (Retain)" bash -c "kubectl get -n $NS pvc data-e2e-$top -o name | grep -q ."
  kubectl patch -n "$NS" zk e2e --type=merge -p "{\"spec\":{\"replicas\":$REPLICAS}}" >/dev/null
  check "scaled up to $REPLICAS voters again" scaled "$REPLICAS"
  new_id=$(kubectl get -n "$NS" zk e2e -o jsonpath="{.status.serverIds[?(@.ordinal==$top)].id}")
  check "e2e-$top rejoined under a new id ($top_id -> $new_id), reusing its claim" [ "$new_id" -gt "$top_id" ]
  check "its init container discarded the retired server's data" bash -c \
    "grep -h 'holds the data of retired server $top_id' $RUN_DIR/kubelet/pods/${NS}_e2e-${top}_*/logs/init-myid.log | grep -q ."
  HOSTS=$(endpoints "$NS" e2e)
  check "data intact after the scale down and up" "$PY" tests/k8s/e2e_client.py read "$HOSTS" /e2e/hello "from-kubernetes"
fi

# ---- failover: delete the leader's pod ----------------------------------------------------------
if [ "$REPLICAS" -ge 3 ]; then
  say "deleting the leader pod $LEADER"
  old_uid=$(kubectl get -n "$NS" pod "$LEADER" -o jsonpath='{.metadata.uid}')
  kubectl delete -n "$NS" pod "$LEADER" --wait=true >/dev/null
  t0=$(date +%s)
  for _ in $(seq 1 120); do  # the StatefulSet recreates the pod; wait for the new one to be Ready
    [ "$(kubectl get -n "$NS" pod "$LEADER" -o jsonpath='{.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" \
      != "$old_uid True" ] && kubectl get -n "$NS" pod "$LEADER" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True && break
    sleep 1
  done
  sleep 2  # the pod watch triggers a reconcile; then the status must show the whole ensemble again
  for _ in $(seq 1 120); do
    s=$(kubectl get -n "$NS" zk e2e -o jsonpath='{.status.readyReplicas} {.status.quorumHealthy} {.status.leader}')
    [ "${s%% *}" = "$REPLICAS" ] && [ "$(echo "$s" | cut -d' ' -f2)" = true ] && break; sleep 1
  done
  check "all $REPLICAS ready with a quorum again after $(( $(date +%s) - t0 ))s (leader now $(echo "$s" | cut -d' ' -f3))" \
    [ "${s%% *}" = "$REPLICAS" ]
  HOSTS=$(endpoints "$NS" e2e)
  check "data survived the leader's restart" "$PY" tests/k8s/e2e_client.py read "$HOSTS" /e2e/hello "from-kubernetes"
fi

# ---- deletion: owned objects garbage-collected, claims kept (Retain) ----------------------------
say "deleting the ZookeeperCluster (reclaimPolicy Retain)"
kubectl delete -n "$NS" zk e2e --wait=true >/dev/null
gone() { for _ in $(seq 1 90); do [ -z "$(kubectl get -n "$NS" "$@" -o name 2>/dev/null)" ] && return 0; sleep 1; done; return 1; }
check "StatefulSet, Services, ConfigMaps, PDB deleted" gone sts/e2e svc/e2e svc/e2e-headless cm/e2e-members pdb/e2e
check "no zoo.cfg ConfigMap left" gone cm -l app.kubernetes.io/instance=e2e
check "pods deleted" gone pods -l app.kubernetes.io/instance=e2e
no_servers() { sleep 2; ! pgrep -f "pods/${NS}_e2e-" >/dev/null; }
check "server processes stopped" no_servers
check "PVCs kept ($REPLICAS)" [ "$(kubectl get -n "$NS" pvc -l app.kubernetes.io/instance=e2e -o name | wc -l)" = "$REPLICAS" ]
check "metrics of the deleted cluster removed" bash -c "sleep 16; ! curl -s http://$OP_METRICS/metrics | grep -q 'cluster=\"e2e\"'"

say "a 1-server cluster with reclaimPolicy Delete"
printf 'apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: tmp, namespace: %s}\nspec: {replicas: 1, storage: {reclaimPolicy: Delete}}\n' "$NS" | kubectl apply -f - >/dev/null
check "reclaimPolicy Delete cluster Available" kubectl wait -n "$NS" zk/tmp --for=condition=Available --timeout=120s
check "its PVC exists" bash -c "kubectl get -n $NS pvc data-tmp-0 -o name | grep -q ."
kubectl delete -n "$NS" zk tmp --wait=true >/dev/null
check "its PVC deleted with it" gone pvc/data-tmp-0

finish
