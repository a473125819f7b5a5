#!/usr/bin/env bash
# Day-2 operations of the operator on the real control plane (see e2e.sh for the test ground),
# with a client writing continuously (tests/k8s/day2_client.py: every acknowledged write is
# recorded and must be readable at the end) and a monitor recording every pod's state:
#
#   1. a 3-server cluster; rolling upgrades of it: a config change, then a version (image) change:
#      followers first, the leader last after a leadership transfer, one member down at a time
#   2. scale 3 -> 5 through reconfig, the operator killed (SIGKILL) mid-scale and restarted
#   3. a version change of the 5-server cluster, the operator killed mid-rollout; a config change
#   4. scale 5 -> 3 -> 1 -> 3 (members removed before their pods are deleted, new ids on the way up)
#   5. a server whose volume is re-created empty comes back under a new server id
#   6. a config change that makes the server fail: the rollout halts after the first pod
#      (Degraded RolloutHalted + Warning Event, no second pod touched); reverting it recovers
#   7. all acknowledged writes are readable from every server
#
# Env: as lib.sh (its own defaults: API port 26543, pods on 127.0.2.N, .cache/k8s/run-day2, so it
# can run next to e2e.sh), KEEP=1, SKIP_CARGO_BUILD=1, HEALTH_TIMEOUT (rollout halt timeout, 40 s).
# Prints `N passed, M failed`; exits non-zero on any failure.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
: "${RZK_K8S_CACHE:=$ROOT/.cache/k8s}"
export RUN_DIR="${RUN_DIR:-$RZK_K8S_CACHE/run-day2}" VOLUMES_DIR="${VOLUMES_DIR:-$RZK_K8S_CACHE/volumes-day2}"
export K8S_API_PORT="${K8S_API_PORT:-26543}" K8S_ETCD_PORT="${K8S_ETCD_PORT:-23890}"
export ADDRESS_PREFIX="${ADDRESS_PREFIX:-127.0.2}" OPERATOR_METRICS_PORT="${OPERATOR_METRICS_PORT:-18180}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-40}"
NS=day2
ZK=d2
TAG=day2
# shellcheck source=lib.sh
. "$ROOT/tests/k8s/lib.sh"
LOG="$RUN_DIR/day2-client.jsonl"
STOP="$RUN_DIR/day2-client.stop"
CLIENT="$ROOT/tests/k8s/day2_client.py"
on_finish() {
  touch "$STOP" 2>/dev/null
  [ -f "$RUN_DIR/pids/day2-client.pid" ] && { sleep 1; kill "$(cat "$RUN_DIR/pids/day2-client.pid")" 2>/dev/null; rm -f "$RUN_DIR/pids/day2-client.pid"; }
  if [ "$failed" != 0 ] && [ -d "$RUN_DIR" ]; then
    echo "---- status"; kubectl get -n "$NS" zk "$ZK" -o yaml 2>/dev/null | sed -n '/^status:/,$p' | head -80
    echo "---- events"; kubectl get events -n "$NS" --sort-by=.metadata.creationTimestamp 2>/dev/null | tail -30
    echo "---- operator log tail"; tail -40 "$RUN_DIR/logs/rzk-operator.log" 2>/dev/null
  fi
}
trap 'die "interrupted"' INT TERM

build_all
start_test_ground
helm_install
start_operator
check "operator /healthz" curl -sf "http://$OP_METRICS/healthz" -o /dev/null

kubectl create namespace "$NS" >/dev/null
cat > "$RUN_DIR/d2.yaml" <<EOF
apiVersion: rzk.dev/v1alpha1
kind: ZookeeperCluster
metadata: {name: $ZK, namespace: $NS}
spec:
  replicas: 3
  version: "0.1.0"
  config: {maxClientCnxns: "200"}
  storage: {size: 1Gi, scaleDownReclaimPolicy: Delete}
  rollout: {healthTimeoutSeconds: $HEALTH_TIMEOUT}
EOF
kubectl apply -f "$RUN_DIR/d2.yaml" >/dev/null || die "apply cluster"
zkj() { kubectl get -n "$NS" zk "$ZK" -o jsonpath="$1"; }
# settled N: replicas, ready, updated all N, N voters, Progressing False
settled() {
  local n=$1 timeout=${2:-240} s v a b c d g og
  for _ in $(seq 1 "$timeout"); do
    s=$(zkj '{.status.replicas} {.status.readyReplicas} {.status.updatedReplicas} {.status.conditions[?(@.type=="Progressing")].status} {.metadata.generation} {.status.observedGeneration}')
    v=$(voters | tr ',' '\n' | grep -c .)
    read -r a b c d g og <<<"$s"
    [ "$a $b $c $d" = "$n $n $n False" ] && [ "$g" = "${og:-}" ] && [ "$v" = "$n" ] && return 0
    sleep 1
  done
  echo "    not settled at $n: $s, $v voters"; return 1
}
mark() { "$PY" "$CLIENT" mark --log "$LOG" "$1"; }
pods_of() { seq -s, -f "$ZK-%g" 0 $(( $1 - 1 )); }
analyze() { # phase pods [expectations...]
  local ph=$1 pods=$2; shift 2
  check "phase $ph: $*" "$PY" "$CLIENT" analyze --log "$LOG" --phase "$ph" --pods "$pods" "$@"
}
leader() { zkj '{.status.leader}'; }
ids() { zkj '{range .status.serverIds[*]}{.ordinal}:{.id} {end}' | sed 's/ $//; s/ /,/g'; }
voters() { zkj '{.status.ensemble.voters}' | tr -d '[] '; }
# timed WHAT CMD...: CMD must succeed; reports the time since the operation started (T_OP) and
# evaluates WHAT after CMD ran (so it may show the outcome).
timed() { local what=$1; shift
  if "$@"; then ok "$(eval "echo \"$what\"") after $(( $(date +%s) - T_OP ))s"; else bad "$(eval "echo \"$what\"") (gave up after $(( $(date +%s) - T_OP ))s)"; fi; }
restart_operator_mid() { # what
  kill9_operator
  ok "operator killed (SIGKILL) $1"
  sleep 3
  start_operator
}

T_OP=$(date +%s)
settled 3 || die "3-server cluster did not settle"
ok "3-server cluster settled after $(( $(date +%s) - T_OP ))s"
# ---- the workload ---------------------------------------------------------------------------------
rm -f "$LOG" "$STOP"
nohup "$PY" "$CLIENT" run --ns "$NS" --cluster "$ZK" --addresses "$RUN_DIR/kubelet/addresses.json" \
  --log "$LOG" --stop "$STOP" > "$RUN_DIR/logs/day2-client.log" 2>&1 &
echo $! > "$RUN_DIR/pids/day2-client.pid"
for _ in $(seq 1 60); do grep -q '"ev": "ack"' "$LOG" 2>/dev/null && break; sleep 0.5; done
check "the client writes" grep -q '"ev": "ack"' "$LOG"
mark warmup; sleep 3

# ---- 1. rolling upgrades of 3 servers ---------------------------------------------------------------
mid_rollout() { # at least 2 updated, still rolling, for the current generation
  local s g og u p
  for _ in $(seq 1 240); do
    s=$(zkj '{.metadata.generation} {.status.observedGeneration} {.status.updatedReplicas} {.status.conditions[?(@.type=="Progressing")].status}')
    read -r g og u p <<<"$s"
    [ "$g" = "$og" ] && [ "${u:-0}" -ge 2 ] && [ "$p" = True ] && return 0
    sleep 0.25
  done; return 1
}
upgrade() { # phase n patch [mid-rollout hook]
  local ph=$1 n=$2 patch=$3 hook=${4:-} oplog fallbacks
  say "$ph: $patch"
  mark "$ph"
  oplog=$(wc -l < "$RUN_DIR/logs/rzk-operator.log")
  T_OP=$(date +%s)
  kubectl patch -n "$NS" zk "$ZK" --type=merge -p "$patch" >/dev/null
  if [ -n "$hook" ]; then
    mid_rollout || bad "$ph: no mid-rollout state seen"
    $hook "mid-rollout ($(zkj '{.status.updatedReplicas}') of $n updated)"
  fi
  timed "$ph: rolled out to $n servers" settled "$n" 300
  mark "$ph-done"
  # The leadership hand-over is attempted on up to 3 followers; when the old leader keeps winning
  # the elections (openraft 0.9 leader leases, see operator/README.md) the operator restarts it
  # anyway and logs it. That is accepted (counted, printed) unless STRICT_HANDOVER=1.
  fallbacks=$(tail -n +"$((oplog + 1))" "$RUN_DIR/logs/rzk-operator.log" | grep -c 'leadership hand-over failed')
  HANDOVERS=$((HANDOVERS + 1))
  if [ "$fallbacks" = 0 ] || [ "${STRICT_HANDOVER:-0}" = 1 ]; then
    analyze "$ph" "$(pods_of "$n")" --max-down 1 --expect-restarts "$n" --leader-last --handover --max-noquorum 5
  else
    HANDOVER_FALLBACKS=$((HANDOVER_FALLBACKS + 1))
    say "NOTE: $ph: the leadership hand-over failed after 3 elections; the operator restarted the leader anyway (last)"
    analyze "$ph" "$(pods_of "$n")" --max-down 1 --expect-restarts "$n" --leader-last --max-noquorum 8
  fi
}
HANDOVERS=0; HANDOVER_FALLBACKS=0
upgrade upgrade3-config 3 '{"spec":{"config":{"maxClientCnxns":"300"}}}'
check "3 servers run the new zoo.cfg" bash -c "[ \$(grep -l '^maxClientCnxns=300' $RUN_DIR/kubelet/pods/${NS}_${ZK}-*/configmaps/*/config/zoo.cfg | wc -l) -ge 3 ]"
upgrade upgrade3-version 3 '{"spec":{"version":"0.1.1"}}'
check "3 pods run image rzk/rzk-server:0.1.1" bash -c "[ \"\$(kubectl get -n $NS pods -l app.kubernetes.io/instance=$ZK -o jsonpath='{.items[*].spec.containers[0].image}')\" = 'rzk/rzk-server:0.1.1 rzk/rzk-server:0.1.1 rzk/rzk-server:0.1.1' ]"
check "a LeadershipTransfer Event was recorded" bash -c "kubectl get events -n $NS --field-selector reason=LeadershipTransfer -o name | grep -q ."

# ---- 2. scale 3 -> 5, the operator killed mid-scale -------------------------------------------------
say "scale 3 -> 5"
mark scale3-5
T_OP=$(date +%s)
kubectl patch -n "$NS" zk "$ZK" --type=merge -p '{"spec":{"replicas":5}}' >/dev/null
for _ in $(seq 1 120); do [ "$(voters | tr ',' '\n' | grep -c .)" -ge 4 ] && break; sleep 0.5; done
check "scale-up adds one voter at a time (4 voters: $(voters))" [ "$(voters | tr ',' '\n' | grep -c .)" = 4 ]
restart_operator_mid "after the 4th member joined"
timed "scale 3 -> 5 completed despite the operator restart" settled 5 240
mark scale3-5-done
check "5 voters with fresh ids: $(voters) (ids $(ids))" [ "$(voters | tr ',' '\n' | grep -c .)" = 5 ]
analyze scale3-5 "$(pods_of 3)" --max-down 0 --max-noquorum 3 --max-write-gap 5

# ---- 3. upgrades of 5 servers -------------------------------------------------------------------
upgrade upgrade5-version 5 '{"spec":{"version":"0.1.2"}}' restart_operator_mid
upgrade upgrade5-config 5 '{"spec":{"config":{"maxClientCnxns":"400"}}}'

# ---- 4. scale 5 -> 3 -> 1 -> 3 ---------------------------------------------------------------------
scale() { # from to
  local from=$1 to=$2 stable
  say "scale $from -> $to"
  mark "scale$from-$to"
  T_OP=$(date +%s)
  kubectl patch -n "$NS" zk "$ZK" --type=merge -p "{\"spec\":{\"replicas\":$to}}" >/dev/null
  timed "scale $from -> $to completed" settled "$to" 240
  mark "scale$from-$to-done"
  check "after scale $from -> $to: $to pods, voters $(voters), ids $(ids)" \
    [ "$(kubectl get -n "$NS" pods -l app.kubernetes.io/instance=$ZK -o name | wc -l)" = "$to" ]
  stable=$(( from < to ? from : to ))
  analyze "scale$from-$to" "$(pods_of "$stable")" --max-down 0 --max-noquorum 3 --max-write-gap 5
}
scale 5 3
check "MemberRemoved Events (members left before their pods were deleted)" bash -c "kubectl get events -n $NS --field-selector reason=MemberRemoved -o name | grep -q ."
check "claims of removed servers deleted (scaleDownReclaimPolicy Delete)" bash -c \
  "for _ in \$(seq 1 30); do [ \$(kubectl get -n $NS pvc -o name | grep -c 'data-$ZK-[34]') = 0 ] && exit 0; sleep 1; done; exit 1"
scale 3 1
check "a one-server ensemble: $(leader) leads, 1 voter ($(voters))" [ "$(voters | tr ',' '\n' | grep -c .)" = 1 ]
next_before=$(zkj '{.status.nextServerId}')
scale 1 3
check "the re-added servers got fresh ids (>= $next_before; ids are never reused): $(ids)" bash -c \
  "for o in 1 2; do [ \$(kubectl get -n $NS zk $ZK -o jsonpath=\"{.status.serverIds[?(@.ordinal==\$o)].id}\") -ge $next_before ] || exit 1; done"

# ---- 5. a volume re-created empty: a new server id ---------------------------------------------------
say "re-creating the volume of a follower"
L=$(leader)
VICTIM=$(for p in $ZK-2 $ZK-1 $ZK-0; do [ "$p" != "$L" ] && echo "$p" && break; done)
vord=${VICTIM##*-}
old_id=$(zkj "{.status.serverIds[?(@.ordinal==$vord)].id}")
old_uid=$(kubectl get -n "$NS" pvc "data-$VICTIM" -o jsonpath='{.metadata.uid}')
mark wipe
T_OP=$(date +%s)
kubectl delete -n "$NS" pvc "data-$VICTIM" --wait=false >/dev/null
kubectl delete -n "$NS" pod "$VICTIM" --wait=false >/dev/null
for _ in $(seq 1 90); do  # the StatefulSet re-creates the claim once the old one is gone
  u=$(kubectl get -n "$NS" pvc "data-$VICTIM" -o jsonpath='{.metadata.uid}' 2>/dev/null)
  [ -n "$u" ] && [ "$u" != "$old_uid" ] && break
  # a pod re-created while its claim was still terminating cannot start: let it be re-created again
  [ -z "$u" ] && kubectl get -n "$NS" pod "$VICTIM" >/dev/null 2>&1 && kubectl delete -n "$NS" pod "$VICTIM" --wait=false >/dev/null 2>&1
  sleep 1
done
check "the claim of $VICTIM was re-created (new volume)" [ -n "${u:-}" -a "${u:-}" != "$old_uid" ]
replaced() { for _ in $(seq 1 120); do
  id=$(zkj "{.status.serverIds[?(@.ordinal==$vord)].id}")
  [ -n "$id" ] && [ "$id" != "$old_id" ] && settled 3 1 >/dev/null && return 0; sleep 1; done; return 1; }
timed "$VICTIM came back under a new server id (\$old_id -> \$(zkj '{.status.serverIds[?(@.ordinal==$vord)].id}'))" replaced
check "the old id $old_id left the ensemble: voters $(voters)" bash -c "! echo ',$(voters),' | grep -q ',$old_id,'"
check "a MemberReplaced Event was recorded" bash -c "kubectl get events -n $NS --field-selector reason=MemberReplaced -o name | grep -q ."
mark wipe-done

# ---- 6. a server that never becomes healthy halts the rollout ---------------------------------------
say "a config change that makes the server fail (tickTime=bogus)"
uids_before=$(kubectl get -n "$NS" pods -l app.kubernetes.io/instance=$ZK -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}')
mark badconfig
T_OP=$(date +%s)
kubectl patch -n "$NS" zk "$ZK" --type=merge -p '{"spec":{"config":{"tickTime":"bogus"}}}' >/dev/null
halted() { for _ in $(seq 1 $(( HEALTH_TIMEOUT + 90 ))); do
  [ "$(zkj '{.status.conditions[?(@.type=="Degraded")].reason}')" = RolloutHalted ] && return 0; sleep 1; done; return 1; }
timed "Degraded=True, reason RolloutHalted: \$(zkj '{.status.conditions[?(@.type==\"Degraded\")].message}' | cut -c1-140)..." halted
check "a Warning Event RolloutHalted was recorded" bash -c "kubectl get events -n $NS --field-selector reason=RolloutHalted,type=Warning -o name | grep -q ."
sleep 5
uids_after=$(kubectl get -n "$NS" pods -l app.kubernetes.io/instance=$ZK -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid} {end}')
changed=$(comm -3 <(tr ' ' '\n' <<<"$uids_before" | sort) <(tr ' ' '\n' <<<"$uids_after" | sort) | cut -d= -f1 | tr -d '\t' | sort -u | grep . | wc -l)
check "the rollout stopped after the first pod (pods replaced: $changed)" [ "$changed" = 1 ]
check "the other two servers kept serving (Available, 2 ready)" bash -c \
  "[ \"\$(kubectl get -n $NS zk $ZK -o jsonpath='{.status.conditions[?(@.type==\"Available\")].status} {.status.readyReplicas}')\" = 'True 2' ]"
check "operator metric rzk_cluster_rollout_halted == 1" [ "$(metric "rzk_cluster_rollout_halted{cluster=\"$ZK\",namespace=\"$NS\"}")" = 1 ]
say "reverting the bad change"
T_OP=$(date +%s)
kubectl patch -n "$NS" zk "$ZK" --type=merge -p '{"spec":{"config":{"tickTime":null}}}' >/dev/null
timed "reverting recovers the cluster" settled 3 180
check "Degraded=False again" [ "$(zkj '{.status.conditions[?(@.type=="Degraded")].status}')" = False ]
mark badconfig-done
analyze badconfig "$(pods_of 3)" --max-down 1 --max-noquorum 5

# ---- 7. the data ------------------------------------------------------------------------------------
mark end
touch "$STOP"
for _ in $(seq 1 30); do grep -q '"ev": "stopped"' "$LOG" && break; sleep 0.5; done
HOSTS=$(endpoints "$NS" "$ZK")
check "every acknowledged write is readable from every server ($HOSTS)" "$PY" "$CLIENT" verify --log "$LOG" --hosts "$HOSTS"
check "operator metrics: member lag, voters, operations" bash -c \
  "curl -s http://$OP_METRICS/metrics | grep -q '^rzk_cluster_member_lag_entries{cluster=\"$ZK\"' && \
   [ \"\$(curl -s http://$OP_METRICS/metrics | awk '\$1 == \"rzk_cluster_voters{cluster=\\\"$ZK\\\",namespace=\\\"$NS\\\"}\" {print \$2}')\" = 3 ] && \
   curl -s http://$OP_METRICS/metrics | grep -q 'rzk_cluster_operations_total{cluster=\"$ZK\",namespace=\"$NS\",operation=\"add_member\",result=\"ok\"}'"
say "writes: $(grep -c '"ev": "ack"' "$LOG") acknowledged, $(grep -c '"ev": "fail"' "$LOG") failed attempts"
say "leadership hand-overs: $((HANDOVERS - HANDOVER_FALLBACKS)) of $HANDOVERS rollouts handed over before the leader's restart ($HANDOVER_FALLBACKS fell back to restarting the leader)"
finish
