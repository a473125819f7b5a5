//! The controller: ZookeeperCluster -> owned objects (server-side apply) -> one day-2 step ->
//! status.
//!
//! Each reconcile reads the cluster fresh from the API server, observes the pods and the
//! ensemble (see [`crate::ensemble`]), lets [`crate::plan::plan`] pick at most ONE step (add or
//! remove a member through `reconfig`, grow/shrink the StatefulSet by one, hand leadership over,
//! restart one pod), persists any server-id allocation in the status BEFORE a pod can use it,
//! applies the owned objects, runs the step and writes the status. Everything the next step
//! depends on is in the cluster (StatefulSet replicas and revisions, pods), in the ensemble
//! (membership, leader, lag) or in the status (server ids): a restarted operator resumes a scale
//! operation or a rollout where it was.
//!
//! Idempotency: every owned object is applied with server-side apply under the field manager
//! `rzk-operator`; an apply of an unchanged object is a no-op on the API server (resourceVersion
//! unchanged). The status is written only when it differs (condition transition times are
//! carried over; nothing volatile such as lag is recorded there, it goes to the metrics), and
//! Events are published only when something changed. So a reconcile of a settled, healthy
//! cluster writes nothing.
//!
//! No finalizer: owned objects go with the cluster through owner references (garbage
//! collection), and the claims follow the StatefulSet's PVC retention policy
//! (`spec.storage.reclaimPolicy` / `scaleDownReclaimPolicy`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::builders::{self, BuildContext, MANAGER};
use crate::crd::{
    Condition, EnsembleStatus, MemberStatus, ServerIdStatus, ZookeeperCluster,
    ZookeeperClusterStatus,
};
use crate::metrics::Metrics;
use crate::plan::{self, Action as Step, EnsembleObs, Phase, Plan, PodObs};
use crate::{auth, ensemble, zkclient};

/// Errors of one reconciliation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("applying {kind} {name}: {source}")]
    Apply {
        kind: &'static str,
        name: String,
        source: kube::Error,
    },
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no namespace")]
    NoNamespace,
}

impl Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::Apply { .. } => "apply",
            Error::Kube(_) => "api",
            Error::NoNamespace => "invalid",
        }
    }
}

/// Shared state of the controller.
pub struct Context {
    pub client: Client,
    pub build: BuildContext,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    /// Timeout of one exchange with a server (four-letter word, admin command, session).
    pub probe_timeout: Duration,
    /// How long a `reconfig` may take (a new member catching up from a snapshot).
    pub reconfig_timeout: Duration,
    /// Key the clusters' super passwords are derived from (see [`crate::auth`]).
    pub auth_key: Vec<u8>,
    /// Leadership hand-overs in progress, per cluster: a rate limit and the attempt count for the
    /// fallback (a restarted operator starts counting again, which is harmless).
    transfers: Mutex<HashMap<(String, String), Transfer>>,
}

/// A leadership hand-over in progress.
struct Transfer {
    from: i64,
    attempts: u32,
    last: Option<Instant>,
}

/// Time an election gets before the next attempt (each costs an election's worth of unavailability).
const TRANSFER_RETRY: Duration = Duration::from_secs(8);
/// How long the leader's `transfer_leadership` may take (catch-up + election + step-down).
const TRANSFER_CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Elections tried (on different followers in turn) before the operator goes on without a hand-over.
const TRANSFER_ATTEMPTS: u32 = 3;

impl Context {
    pub fn new(
        client: Client,
        build: BuildContext,
        metrics: Arc<Metrics>,
        auth_key: Vec<u8>,
    ) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            build,
            metrics,
            probe_timeout: Duration::from_secs(2),
            reconfig_timeout: Duration::from_secs(180),
            auth_key,
            transfers: Mutex::new(HashMap::new()),
        }
    }
}

/// Run the controller until shutdown (SIGTERM/ctrl-c).
pub async fn run(ctx: Arc<Context>, namespace: Option<String>) {
    let client = ctx.client.clone();
    fn api<R>(client: &Client, ns: &Option<String>) -> Api<R>
    where
        R: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let zks: Api<ZookeeperCluster> = api(&client, &namespace);
    let stss: Api<StatefulSet> = api(&client, &namespace);
    let cms: Api<ConfigMap> = api(&client, &namespace);
    let svcs: Api<Service> = api(&client, &namespace);
    let pdbs: Api<PodDisruptionBudget> = api(&client, &namespace);
    let pods: Api<Pod> = api(&client, &namespace);
    let owned =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER}"));
    let controller = Controller::new(zks, watcher::Config::default())
        .owns(stss, owned.clone())
        .owns(cms, owned.clone())
        .owns(svcs, owned.clone())
        .owns(pdbs, owned.clone())
        .watches(pods, owned, |pod: Pod| {
            let ns = pod.namespace();
            pod.labels()
                .get("app.kubernetes.io/instance")
                .cloned()
                .map(|name| {
                    let r = ObjectRef::<ZookeeperCluster>::new(&name);
                    match ns {
                        Some(ns) => r.within(&ns),
                        None => r,
                    }
                })
        });
    // Forget metrics of deleted clusters.
    let store = controller.store();
    let metrics = ctx.metrics.clone();
    tokio::spawn(async move {
        let mut known: BTreeMap<(String, String), ()> = BTreeMap::new();
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            let now: BTreeMap<(String, String), ()> = store
                .state()
                .iter()
                .map(|z| ((z.namespace().unwrap_or_default(), z.name_any()), ()))
                .collect();
            for k in known.keys() {
                if !now.contains_key(k) {
                    metrics.remove_cluster(&k.0, &k.1);
                }
            }
            known = now;
        }
    });
    controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(cluster = %obj, "reconciled"),
                // Pods of a just-deleted cluster map to a cluster that is gone: nothing to do.
                Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => {
                    tracing::debug!(cluster = %obj, "cluster gone")
                }
                Err(e) => tracing::warn!(error = %e, "reconcile failed"),
            }
        })
        .await;
}

fn error_policy(zk: Arc<ZookeeperCluster>, err: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(cluster = %zk.name_any(), error = %err, "reconcile error");
    ctx.metrics
        .reconcile_errors
        .with_label_values(&[err.reason()])
        .inc();
    Action::requeue(Duration::from_secs(10))
}

/// One reconciliation of one cluster.
pub async fn reconcile(zk: Arc<ZookeeperCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let start = Instant::now();
    let res = reconcile_inner(&zk, &ctx).await;
    ctx.metrics
        .reconcile_duration
        .observe(start.elapsed().as_secs_f64());
    ctx.metrics
        .reconciliations
        .with_label_values(&[if res.is_ok() { "ok" } else { "error" }])
        .inc();
    res
}

fn now_epoch() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

/// Server ids when the status has none: a new cluster gets them from [`plan::allocate_ids`];
/// an existing one (status lost, or created by an operator version without id allocation)
/// adopts them from the members ConfigMap, else from what the running servers report, else
/// `ordinal + 1` (the earlier scheme).
pub fn adopt_ids(
    zk: &ZookeeperCluster,
    sts_replicas: Option<i32>,
    members_cm: Option<&ConfigMap>,
    pods: &[PodObs],
) -> Vec<ServerIdStatus> {
    let Some(r) = sts_replicas else {
        return Vec::new();
    };
    let from_cm: BTreeMap<i32, i64> = members_cm
        .and_then(|cm| cm.data.as_ref())
        .map(|d| {
            d.iter()
                .filter_map(|(k, v)| {
                    let pod = k.strip_suffix(".myid")?;
                    Some((builders::ordinal_of_pod(zk, pod)?, v.trim().parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let joined: Vec<i64> = members_cm
        .and_then(|cm| cm.data.as_ref())
        .and_then(|d| d.get(builders::JOINED_KEY))
        .map(|j| j.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for o in 0..r.max(pods.iter().map(|p| p.ordinal + 1).max().unwrap_or(0)) {
        let id = from_cm
            .get(&o)
            .copied()
            .or_else(|| {
                pods.iter()
                    .find(|p| p.ordinal == o)
                    .and_then(|p| p.server_id)
            })
            .unwrap_or(i64::from(o) + 1);
        out.push(ServerIdStatus {
            ordinal: o,
            id,
            joined: joined.contains(&id),
        });
    }
    out
}

async fn reconcile_inner(cached: &ZookeeperCluster, ctx: &Context) -> Result<Action, Error> {
    let ns = cached.namespace().ok_or(Error::NoNamespace)?;
    let name = cached.name_any();
    let client = &ctx.client;
    let zk_api = Api::<ZookeeperCluster>::namespaced(client.clone(), &ns);
    // Fresh from the API server: the status holds the server-id allocation.
    let Some(zk) = zk_api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    if zk.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let old = zk.status.clone().unwrap_or_default();
    let password =
        auth::super_password(&ctx.auth_key, &ns, &name, zk.uid().as_deref().unwrap_or(""));
    let zoo_cfg = builders::zoo_cfg(&zk, &auth::super_digest(&password));

    // ---- observe -----------------------------------------------------------------------------
    let sts_api = Api::<StatefulSet>::namespaced(client.clone(), &ns);
    let existing_sts = sts_api.get_opt(&builders::statefulset_name(&zk)).await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels(&builders::selector_string(&zk)))
        .await?;
    let pod_obs = ensemble::observe_pods(&zk, &pods.items, ctx.probe_timeout).await;
    let (ens, ens_error) = ensemble::observe_ensemble(&zk, &pod_obs, ctx.probe_timeout).await;

    // ---- server ids --------------------------------------------------------------------------
    let sts_replicas = existing_sts
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.replicas);
    // A new cluster starts all its servers at once (they bootstrap the ensemble together).
    let current_r = sts_replicas.unwrap_or(zk.spec.replicas);
    let (mut ids, mut next) = if old.server_ids.is_empty() {
        let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
            .get_opt(&builders::members_config_map_name(&zk))
            .await?;
        let adopted = adopt_ids(&zk, sts_replicas, cm.as_ref(), &pod_obs);
        (adopted, 1)
    } else {
        (old.server_ids.clone(), old.next_server_id.unwrap_or(1))
    };
    // Never reuse an id the ensemble knows.
    if let Some(m) = &ens.membership {
        next = next.max(m.ids().max().unwrap_or(0) + 1);
    }
    ids = plan::update_ids(&ids, current_r, &pod_obs, ens.membership.as_ref());
    (ids, next) = plan::allocate_ids(&ids, next, current_r);

    let template_hash =
        builders::template_hash_of(&builders::statefulset(&zk, current_r, &zoo_cfg))
            .unwrap_or_default();
    let rollout_ready = existing_sts.as_ref().is_some_and(|s| {
        builders::template_hash_of(s).as_deref() == Some(template_hash.as_str())
            && s.status.as_ref().and_then(|st| st.observed_generation) >= s.metadata.generation
    });
    let plan = plan::plan(&plan::PlanInput {
        name: &builders::statefulset_name(&zk),
        desired: zk.spec.replicas,
        sts_replicas: current_r,
        ids: &ids,
        pods: &pod_obs,
        ens: &ens,
        template_hash: &template_hash,
        rollout_ready,
        now: now_epoch(),
        health_timeout: i64::from(zk.spec.rollout.health_timeout_seconds),
    });
    let mut target_r = current_r;
    match &plan.action {
        Step::SetReplicas(n) => {
            target_r = *n;
            (ids, next) = plan::allocate_ids(&ids, next, target_r);
        }
        Step::ReplaceId { ordinal } => {
            (ids, next) = plan::replace_id(&ids, next, *ordinal);
        }
        _ => {}
    }
    if plan.action != Step::None || plan.phase != Phase::Settled {
        tracing::info!(cluster = %name, phase = plan.phase.reason(), action = ?plan.action, "{}", plan.message);
    }

    // Persist the allocation before any pod can run with it.
    if ids != old.server_ids || Some(next) != old.next_server_id {
        let mut s = old.clone();
        s.server_ids = ids.clone();
        s.next_server_id = Some(next);
        write_status(&zk_api, &name, &s).await?;
    }

    // ---- apply -------------------------------------------------------------------------------
    let applied = apply_all(&zk, ctx, &ns, target_r, &zoo_cfg, &ids).await;
    let (sts, apply_error) = match applied {
        Ok(sts) => (Some(sts), None),
        Err(e) => {
            warn_event(
                &zk,
                ctx,
                "ReconcileFailed",
                "Reconcile",
                truncate(&e.to_string(), 1000),
            )
            .await;
            (existing_sts.clone(), Some(e))
        }
    };
    if apply_error.is_none() {
        if let Err(e) = gc_config_maps(&zk, ctx, &ns, &zoo_cfg, &pods.items).await {
            tracing::warn!(cluster = %name, error = %e, "deleting old config maps failed");
        }
    }

    // ---- the step ----------------------------------------------------------------------------
    let mut step_error = None;
    if apply_error.is_none() {
        step_error = execute(&zk, ctx, &ns, &plan, &pod_obs, &ens, &password, current_r).await;
    }

    // ---- status ------------------------------------------------------------------------------
    let status = compute_status(&StatusInput {
        zk: &zk,
        sts: sts.as_ref(),
        replicas: target_r,
        pods: &pod_obs,
        ens: &ens,
        ens_error: ens_error.as_deref(),
        ids: &ids,
        next_id: next,
        plan: &plan,
        template_hash: &template_hash,
        apply_error: apply_error.as_ref().map(|e| e.to_string()),
        step_error: step_error.clone(),
        build: &ctx.build,
    });
    let mut roles: BTreeMap<String, i64> = BTreeMap::new();
    for m in &status.members {
        *roles.entry(m.role.clone()).or_default() += 1;
    }
    ctx.metrics.set_cluster(
        &ns,
        &name,
        &roles,
        status.quorum_healthy,
        status.ready_replicas,
        zk.spec.replicas,
    );
    let voters = ens.membership.as_ref().map_or(0, |m| m.voters.len());
    let synced = ens.membership.as_ref().map_or(0, |m| {
        m.voters
            .keys()
            .filter(|v| Some(**v) != ens.leader_id)
            .filter(|v| {
                ens.lag
                    .get(v)
                    .is_some_and(|l| l.is_some_and(|l| l <= plan::SYNCED_LAG))
            })
            .count()
    });
    ctx.metrics.set_ensemble(
        &ns,
        &name,
        status.updated_replicas,
        voters,
        synced,
        ens.leader_id,
        &ens.lag,
        plan.halted.is_some(),
    );

    // Re-read: the allocation above may have changed the stored status.
    let stored = if ids != old.server_ids || Some(next) != old.next_server_id {
        zk_api.get_status(&name).await?.status.unwrap_or_default()
    } else {
        old.clone()
    };
    let status = carry_transition_times(&stored, status);
    if status != stored {
        publish_status_events(&zk, ctx, &old, &status).await;
        write_status(&zk_api, &name, &status).await?;
    }

    if let Some(e) = apply_error {
        return Err(e);
    }
    let secs = if plan.action != Step::None {
        1
    } else if plan.phase == Phase::Settled && status.quorum_healthy && step_error.is_none() {
        30
    } else {
        3
    };
    Ok(Action::requeue(Duration::from_secs(secs)))
}

async fn write_status(
    api: &Api<ZookeeperCluster>,
    name: &str,
    status: &ZookeeperClusterStatus,
) -> Result<(), Error> {
    // Server-side apply of the whole status: fields that disappeared (e.g. the leader) are
    // removed because this manager owned them.
    let patch = serde_json::json!({
        "apiVersion": "rzk.dev/v1alpha1",
        "kind": "ZookeeperCluster",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Run the planned step. Returns an error message when it failed (reported in the status).
#[allow(clippy::too_many_arguments)]
async fn execute(
    zk: &ZookeeperCluster,
    ctx: &Context,
    ns: &str,
    plan: &Plan,
    pods: &[PodObs],
    ens: &EnsembleObs,
    password: &str,
    current_r: i32,
) -> Option<String> {
    let name = zk.name_any();
    let pod = |o: i32| pods.iter().find(|p| p.ordinal == o);
    let leader_pod = ens.leader_id.and_then(|l| {
        pods.iter()
            .find(|p| p.server_id == Some(l) && p.mode.as_deref() == Some("leader"))
    });
    match &plan.action {
        Step::None => None,
        Step::SetReplicas(n) => {
            ctx.metrics.operation(ns, &name, "scale", true);
            event(
                zk,
                ctx,
                if *n > current_r {
                    "ScalingUp"
                } else {
                    "ScalingDown"
                },
                "Scale",
                format!(
                    "StatefulSet replicas {current_r} -> {n} (target {}): {}",
                    zk.spec.replicas, plan.message
                ),
            )
            .await;
            None
        }
        Step::AddMember { ordinal, id } => {
            let p = pod(*ordinal);
            let joining = plan::joining_spec(
                *id,
                p.and_then(|p| p.own_spec.as_deref()),
                &builders::server_value(zk, *ordinal, &ctx.build),
            );
            let res = reconfig(zk, ctx, leader_pod, password, &joining, "").await;
            ctx.metrics.operation(ns, &name, "add_member", res.is_ok());
            match res {
                Ok(cfg) => {
                    event(
                        zk,
                        ctx,
                        "MemberAdded",
                        "Reconfig",
                        format!(
                            "{} (server {id}) joined the ensemble: {}",
                            builders::pod_name(zk, *ordinal),
                            one_line(&cfg)
                        ),
                    )
                    .await;
                    None
                }
                Err(e) => {
                    let msg = format!("adding server {id} failed: {e}");
                    warn_event(zk, ctx, "ReconfigFailed", "Reconfig", msg.clone()).await;
                    Some(msg)
                }
            }
        }
        Step::RemoveMembers { ids } => {
            let leaving = ids
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let res = reconfig(zk, ctx, leader_pod, password, "", &leaving).await;
            ctx.metrics
                .operation(ns, &name, "remove_member", res.is_ok());
            match res {
                Ok(cfg) => {
                    event(
                        zk,
                        ctx,
                        "MemberRemoved",
                        "Reconfig",
                        format!("server(s) {leaving} left the ensemble: {}", one_line(&cfg)),
                    )
                    .await;
                    None
                }
                // Already gone (a previous attempt succeeded): fine.
                Err(e)
                    if e.server_code() == Some(zkclient::code::BAD_ARGUMENTS)
                        && ens
                            .membership
                            .as_ref()
                            .is_some_and(|m| ids.iter().all(|i| !m.contains(*i))) =>
                {
                    None
                }
                Err(e) => {
                    let msg = format!("removing server(s) {leaving} failed: {e}");
                    warn_event(zk, ctx, "ReconfigFailed", "Reconfig", msg.clone()).await;
                    Some(msg)
                }
            }
        }
        Step::TransferLeadership { from, candidates } => {
            let key = (ns.to_string(), name.clone());
            let attempt = {
                let mut t = ctx.transfers.lock().unwrap();
                let st = t.entry(key.clone()).or_insert(Transfer {
                    from: *from,
                    attempts: 0,
                    last: None,
                });
                if st.from != *from {
                    *st = Transfer {
                        from: *from,
                        attempts: 0,
                        last: None,
                    };
                }
                if st.last.is_some_and(|l| l.elapsed() < TRANSFER_RETRY) {
                    return None; // asked recently: give the election time
                }
                st.attempts += 1;
                st.last = Some(Instant::now());
                st.attempts
            };
            if attempt > TRANSFER_ATTEMPTS {
                ctx.transfers.lock().unwrap().remove(&key);
                return transfer_fallback(zk, ctx, ns, plan, pods, *from, password, attempt - 1)
                    .await;
            }
            let to_ordinal = candidates[(attempt as usize - 1) % candidates.len()];
            let Some(ip) = pod(to_ordinal).and_then(|p| p.ip.clone()) else {
                return Some(format!(
                    "no address for the new leader candidate ordinal {to_ordinal}"
                ));
            };
            let target = builders::pod_name(zk, to_ordinal);
            // The leader transfers (catch-up, targeted election, no win-back); a leader of an earlier
            // version does not know the command: then the follower just starts an election.
            let to_id = pod(to_ordinal).and_then(|p| p.server_id);
            if let (Some(lp), Some(to_id)) =
                (leader_pod.filter(|p| p.server_id == Some(*from)), to_id)
            {
                if let Some(lip) = lp.ip.as_deref() {
                    let admin = host_port(lip, zk.spec.ports.admin);
                    let path = format!("/commands/transfer_leadership?to={to_id}");
                    let res = zkclient::http_get(&admin, &path, TRANSFER_CALL_TIMEOUT).await;
                    let answer = match &res {
                        Ok((200, body)) => serde_json::from_str::<serde_json::Value>(body).ok(),
                        _ => None,
                    };
                    let field = |k: &str| answer.as_ref().and_then(|v| v.get(k));
                    let transferred = field("transferred").and_then(|t| t.as_bool());
                    match transferred {
                        Some(true) => {
                            ctx.metrics
                                .operation(ns, &name, "transfer_leadership", true);
                            let new_leader = field("leader").and_then(|l| l.as_i64());
                            event(
                                zk,
                                ctx,
                                "LeadershipTransfer",
                                "Transfer",
                                format!(
                                    "server {from} ({}) handed leadership to server {} (asked: {target}, server {to_id}; attempt {attempt} of {TRANSFER_ATTEMPTS}): {}",
                                    lp.name,
                                    new_leader.map_or("?".into(), |l| l.to_string()),
                                    plan.message
                                ),
                            )
                            .await;
                            return None;
                        }
                        Some(false) => {
                            ctx.metrics
                                .operation(ns, &name, "transfer_leadership", false);
                            let why = field("error")
                                .and_then(|e| e.as_str())
                                .unwrap_or("no reason given");
                            let msg = format!("transfer of leadership from {} to {target} (server {to_id}): {why}", lp.name);
                            warn_event(
                                zk,
                                ctx,
                                "LeadershipTransferFailed",
                                "Transfer",
                                msg.clone(),
                            )
                            .await;
                            return Some(msg);
                        }
                        None => tracing::info!(
                            cluster = %name,
                            leader = %lp.name,
                            answer = ?res.as_ref().map(|(c, b)| (c, truncate(b.trim(), 200))),
                            "the leader cannot transfer leadership (older rzk?): asking {target} to start an election"
                        ),
                    }
                }
            }
            let admin = host_port(&ip, zk.spec.ports.admin);
            let elect = || zkclient::http_get(&admin, "/commands/elect", ctx.probe_timeout);
            let triggered = |res: &Result<(u16, String), zkclient::ZkError>| {
                matches!(res, Ok((200, body)) if serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v.get("triggered").and_then(|t| t.as_bool()))
                    == Some(true))
            };
            let res = elect().await;
            let ok = triggered(&res);
            ctx.metrics.operation(ns, &name, "transfer_leadership", ok);
            if ok {
                event(
                    zk,
                    ctx,
                    "LeadershipTransfer",
                    "Elect",
                    format!("asked {target} to take over leadership from server {from} (attempt {attempt} of {TRANSFER_ATTEMPTS}): {}", plan.message),
                )
                .await;
                None
            } else {
                let msg = match res {
                    Ok((code, body)) => format!(
                        "elect on {target}: HTTP {code}: {}",
                        truncate(body.trim(), 200)
                    ),
                    Err(e) => format!("elect on {target}: {e}"),
                };
                warn_event(zk, ctx, "LeadershipTransferFailed", "Elect", msg.clone()).await;
                Some(msg)
            }
        }
        Step::DeletePod { ordinal } | Step::ReplaceId { ordinal } => {
            let replace = matches!(plan.action, Step::ReplaceId { .. });
            let pname = builders::pod_name(zk, *ordinal);
            let api = Api::<Pod>::namespaced(ctx.client.clone(), ns);
            let uid = match api.get_opt(&pname).await {
                Ok(Some(p)) => p.uid(),
                Ok(None) => return None,
                Err(e) => return Some(format!("reading pod {pname}: {e}")),
            };
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..Default::default()
            };
            let res = api.delete(&pname, &dp).await;
            let op = if replace {
                "replace_member"
            } else {
                "restart_pod"
            };
            ctx.metrics.operation(ns, &name, op, res.is_ok());
            match res {
                Ok(_) => {
                    let p = pod(*ordinal);
                    let role = p
                        .and_then(|p| p.mode.clone())
                        .unwrap_or_else(|| "down".into());
                    if replace {
                        warn_event(
                            zk,
                            ctx,
                            "MemberReplaced",
                            "DeletePod",
                            format!(
                                "deleted {pname} to restart it under a new server id: {}",
                                plan.message
                            ),
                        )
                        .await;
                    } else {
                        event(
                            zk,
                            ctx,
                            "RestartingPod",
                            "DeletePod",
                            format!("deleted {pname} ({role}, server {}) to run the current revision: {}", p.and_then(|p| p.server_id).unwrap_or(0), plan.message),
                        )
                        .await;
                    }
                    None
                }
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => None,
                Err(e) => Some(format!("deleting pod {pname}: {e}")),
            }
        }
    }
}

fn host_port(ip: &str, port: i32) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Leadership could not be handed over (the old leader kept winning the elections): go on
/// without it. A rollout restarts the leader anyway (an ordinary failover: the others elect a new
/// leader); a removal removes the leader from the ensemble (it steps down once the new
/// configuration is committed).
#[allow(clippy::too_many_arguments)]
async fn transfer_fallback(
    zk: &ZookeeperCluster,
    ctx: &Context,
    ns: &str,
    plan: &Plan,
    pods: &[PodObs],
    leader: i64,
    password: &str,
    attempts: u32,
) -> Option<String> {
    let name = zk.name_any();
    let why =
        format!("server {leader} is still the leader after {attempts} elections on other members");
    tracing::warn!(cluster = %name, leader, attempts, "leadership hand-over failed: {why}; going on without it");
    if plan.phase == Phase::RollingUpdate {
        let Some(p) = pods.iter().find(|p| p.server_id == Some(leader)) else {
            return Some(format!("{why}; its pod is not found"));
        };
        warn_event(
            zk,
            ctx,
            "LeadershipTransferFailed",
            "DeletePod",
            format!(
                "{why}: restarting its pod {} anyway (the others elect a new leader)",
                p.name
            ),
        )
        .await;
        let api = Api::<Pod>::namespaced(ctx.client.clone(), ns);
        let res = api.delete(&p.name, &DeleteParams::default()).await;
        ctx.metrics.operation(ns, &name, "restart_pod", res.is_ok());
        return res.err().map(|e| format!("deleting pod {}: {e}", p.name));
    }
    warn_event(
        zk,
        ctx,
        "LeadershipTransferFailed",
        "Reconfig",
        format!("{why}: removing it from the ensemble while it leads"),
    )
    .await;
    let leader_pod = pods
        .iter()
        .find(|p| p.server_id == Some(leader) && p.mode.as_deref() == Some("leader"));
    let res = reconfig(zk, ctx, leader_pod, password, "", &leader.to_string()).await;
    ctx.metrics
        .operation(ns, &name, "remove_member", res.is_ok());
    res.err().map(|e| format!("removing leader {leader}: {e}"))
}

fn one_line(cfg: &str) -> String {
    cfg.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

/// Run `reconfig` on the leader as the super user.
async fn reconfig(
    zk: &ZookeeperCluster,
    ctx: &Context,
    leader: Option<&PodObs>,
    password: &str,
    joining: &str,
    leaving: &str,
) -> Result<String, zkclient::ZkError> {
    let ip = leader.and_then(|p| p.ip.clone()).unwrap_or_default();
    let addr = host_port(&ip, zk.spec.ports.client);
    tracing::info!(cluster = %zk.name_any(), %addr, joining, leaving, "reconfig");
    let mut s = zkclient::Session::connect(
        &addr,
        Duration::from_secs(30),
        ctx.probe_timeout.max(Duration::from_secs(5)),
    )
    .await?;
    let res = async {
        s.auth_digest(&format!("{}:{password}", auth::SUPER_USER))
            .await?;
        s.reconfig(joining, leaving, -1, ctx.reconfig_timeout).await
    }
    .await;
    s.close().await;
    res
}

/// Apply every owned object; returns the applied StatefulSet.
async fn apply_all(
    zk: &ZookeeperCluster,
    ctx: &Context,
    ns: &str,
    replicas: i32,
    zoo_cfg: &str,
    ids: &[ServerIdStatus],
) -> Result<StatefulSet, Error> {
    let b = &ctx.build;
    apply(zk, ctx, ns, "ConfigMap", builders::config_map(zk, zoo_cfg)).await?;
    apply(
        zk,
        ctx,
        ns,
        "ConfigMap",
        builders::members_config_map(zk, b, ids),
    )
    .await?;
    apply(zk, ctx, ns, "Service", builders::headless_service(zk)).await?;
    apply(zk, ctx, ns, "Service", builders::client_service(zk)).await?;
    let sts = apply(
        zk,
        ctx,
        ns,
        "StatefulSet",
        builders::statefulset(zk, replicas, zoo_cfg),
    )
    .await?;
    let pdb_api = Api::<PodDisruptionBudget>::namespaced(ctx.client.clone(), ns);
    if zk.spec.pdb.enabled {
        apply(zk, ctx, ns, "PodDisruptionBudget", builders::pdb(zk)).await?;
    } else if let Some(existing) = pdb_api.get_opt(&builders::pdb_name(zk)).await? {
        if is_owned_by(&existing, zk) {
            pdb_api
                .delete(&builders::pdb_name(zk), &Default::default())
                .await?;
            event(
                zk,
                ctx,
                "Deleted",
                "DeletePodDisruptionBudget",
                format!("Deleted PodDisruptionBudget {}", builders::pdb_name(zk)),
            )
            .await;
        }
    }
    Ok(sts)
}

/// Delete the zoo.cfg ConfigMaps of earlier revisions that no pod uses any more.
async fn gc_config_maps(
    zk: &ZookeeperCluster,
    ctx: &Context,
    ns: &str,
    zoo_cfg: &str,
    pods: &[Pod],
) -> Result<(), kube::Error> {
    let api = Api::<ConfigMap>::namespaced(ctx.client.clone(), ns);
    let current = builders::config_map_name(zk, zoo_cfg);
    let prefix = format!("{}-config", zk.name_any());
    let used: Vec<String> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref())
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.config_map.as_ref().map(|c| c.name.clone()))
        .collect();
    let cms = api
        .list_metadata(&ListParams::default().labels(&format!(
            "app.kubernetes.io/instance={},app.kubernetes.io/managed-by={MANAGER}",
            zk.name_any()
        )))
        .await?;
    for cm in cms.items {
        let n = cm.name_any();
        let revision = n == prefix
            || n.strip_prefix(&format!("{prefix}-"))
                .is_some_and(|h| h.len() == 10 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if !revision || n == current || used.contains(&n) || !is_owned_by(&cm, zk) {
            continue;
        }
        api.delete(&n, &DeleteParams::default()).await?;
        tracing::info!(cluster = %zk.name_any(), configmap = %n, "deleted the config of an earlier revision");
    }
    Ok(())
}

fn is_owned_by<R: Resource>(obj: &R, zk: &ZookeeperCluster) -> bool {
    let uid = zk.uid();
    obj.meta()
        .owner_references
        .as_ref()
        .is_some_and(|o| o.iter().any(|r| Some(&r.uid) == uid.as_ref()))
}

/// Server-side apply one object; publish an Event when it changed.
async fn apply<R>(
    zk: &ZookeeperCluster,
    ctx: &Context,
    ns: &str,
    kind: &'static str,
    obj: R,
) -> Result<R, Error>
where
    R: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let api = Api::<R>::namespaced(ctx.client.clone(), ns);
    let before = api
        .get_metadata_opt(&name)
        .await
        .map_err(|source| Error::Apply {
            kind,
            name: name.clone(),
            source,
        })?
        .and_then(|m| m.metadata.resource_version);
    let pp = PatchParams::apply(MANAGER).force();
    let after = api
        .patch(&name, &pp, &Patch::Apply(&obj))
        .await
        .map_err(|source| Error::Apply {
            kind,
            name: name.clone(),
            source,
        })?;
    let after_rv = after.meta().resource_version.clone();
    match before {
        None => {
            event(
                zk,
                ctx,
                "Created",
                &format!("Create{kind}"),
                format!("Created {kind} {name}"),
            )
            .await
        }
        Some(rv) if Some(&rv) != after_rv.as_ref() => {
            tracing::info!(%kind, %name, "updated");
            event(
                zk,
                ctx,
                "Updated",
                &format!("Update{kind}"),
                format!("Updated {kind} {name}"),
            )
            .await
        }
        _ => {}
    }
    Ok(after)
}

async fn event(zk: &ZookeeperCluster, ctx: &Context, reason: &str, action: &str, note: String) {
    publish(zk, ctx, EventType::Normal, reason, action, note).await
}

async fn warn_event(
    zk: &ZookeeperCluster,
    ctx: &Context,
    reason: &str,
    action: &str,
    note: String,
) {
    publish(
        zk,
        ctx,
        EventType::Warning,
        reason,
        action,
        truncate(&note, 1000),
    )
    .await
}

async fn publish(
    zk: &ZookeeperCluster,
    ctx: &Context,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let r = ctx
        .recorder
        .publish(
            &Event {
                type_,
                reason: reason.into(),
                note: Some(note),
                action: action.into(),
                secondary: None,
            },
            &zk.object_ref(&()),
        )
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "publishing event failed");
    }
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        last_transition_time: None,
        observed_generation: generation,
    }
}

/// Everything the status is computed from.
pub struct StatusInput<'a> {
    pub zk: &'a ZookeeperCluster,
    pub sts: Option<&'a StatefulSet>,
    /// The StatefulSet replicas now (the current step of a scale operation).
    pub replicas: i32,
    pub pods: &'a [PodObs],
    pub ens: &'a EnsembleObs,
    pub ens_error: Option<&'a str>,
    pub ids: &'a [ServerIdStatus],
    pub next_id: i64,
    pub plan: &'a Plan,
    /// Hash of the current pod template.
    pub template_hash: &'a str,
    pub apply_error: Option<String>,
    pub step_error: Option<String>,
    pub build: &'a BuildContext,
}

/// Compute the status from what was observed (pure; transition times are filled in later).
pub fn compute_status(inp: &StatusInput<'_>) -> ZookeeperClusterStatus {
    let zk = inp.zk;
    let generation = zk.metadata.generation;
    let desired = zk.spec.replicas;
    let r = inp.replicas;
    let membership = inp.ens.membership.as_ref();
    let in_range: Vec<&PodObs> = inp.pods.iter().filter(|p| p.ordinal < r).collect();
    let ready_replicas = in_range.iter().filter(|p| p.ready).count() as i32;
    let updated = |p: &PodObs| p.template_hash.as_deref() == Some(inp.template_hash);
    let updated_replicas = in_range.iter().filter(|p| updated(p)).count() as i32;
    let synced = |id: i64| {
        inp.ens.leader_id == Some(id)
            || inp
                .ens
                .lag
                .get(&id)
                .is_some_and(|l| l.is_some_and(|l| l <= plan::SYNCED_LAG))
    };

    let mut ordinals: Vec<i32> = inp.pods.iter().map(|p| p.ordinal).collect();
    ordinals.extend((0..r).filter(|o| inp.ids.iter().any(|s| s.ordinal == *o)));
    ordinals.sort();
    ordinals.dedup();
    let member_status: Vec<MemberStatus> = ordinals
        .iter()
        .map(|o| {
            let p = inp.pods.iter().find(|p| p.ordinal == *o);
            let id = inp
                .ids
                .iter()
                .find(|s| s.ordinal == *o)
                .map(|s| s.id)
                .or_else(|| p.and_then(|p| p.server_id))
                .unwrap_or(0);
            let member = membership.is_some_and(|m| m.contains(id));
            let role = match p {
                Some(p) if p.mode.is_some() => p.mode.clone().unwrap_or_default(),
                Some(p) if p.running && membership.is_some() && !member => "joining".into(),
                _ => "unknown".into(),
            };
            MemberStatus {
                id,
                pod: builders::pod_name(zk, *o),
                role,
                ready: p.is_some_and(|p| p.ready),
                synced: member && synced(id),
                updated: p.is_some_and(&updated),
            }
        })
        .collect();
    let leader = inp
        .pods
        .iter()
        .find(|p| p.mode.as_deref() == Some("leader"))
        .map(|p| p.name.clone());
    let serving_voters = membership.map_or(0, |m| {
        m.voters
            .keys()
            .filter(|id| {
                inp.pods.iter().any(|p| {
                    p.server_id == Some(**id)
                        && matches!(p.mode.as_deref(), Some("leader" | "follower"))
                })
            })
            .count()
    });
    let voters = membership.map_or(0, |m| m.voters.len());
    let quorum_healthy = leader.is_some() && voters > 0 && serving_voters * 2 > voters;
    let version = inp.pods.iter().find_map(|p| p.version.clone());

    let available = condition(
        "Available",
        quorum_healthy,
        if quorum_healthy {
            "QuorumHealthy"
        } else {
            "NoQuorum"
        },
        if quorum_healthy {
            format!(
                "{serving_voters} of {voters} voting members serving, leader {}",
                leader.clone().unwrap_or_default()
            )
        } else {
            match inp.ens_error {
                Some(e) if voters == 0 => format!("no quorum: {e}"),
                _ => format!("no quorum: {serving_voters} of {voters} voting members serving"),
            }
        },
        generation,
    );
    // Pods of removed ordinals still terminating: the scale-down is not over yet.
    let leaving = inp.pods.iter().filter(|p| p.ordinal >= r).count();
    let settled = inp.plan.phase == Phase::Settled
        && ready_replicas >= desired
        && updated_replicas >= desired
        && r == desired
        && leaving == 0;
    let progressing = condition(
        "Progressing",
        !settled,
        if settled {
            "Reconciled"
        } else if inp.plan.phase == Phase::Settled && leaving > 0 {
            Phase::ScalingDown.reason()
        } else {
            inp.plan.phase.reason()
        },
        if inp.plan.phase == Phase::Settled && leaving > 0 {
            format!("waiting for {leaving} pod(s) of removed servers to terminate")
        } else {
            inp.plan.message.clone()
        },
        generation,
    );
    let degraded = if let Some(e) = &inp.apply_error {
        condition(
            "Degraded",
            true,
            "ReconcileFailed",
            truncate(e, 1000),
            generation,
        )
    } else if let Some((reason, msg)) = &inp.plan.halted {
        condition("Degraded", true, reason, truncate(msg, 1000), generation)
    } else if !quorum_healthy {
        condition(
            "Degraded",
            true,
            "NoQuorum",
            format!("{ready_replicas} of {r} servers ready, no serving quorum"),
            generation,
        )
    } else if let Some(e) = &inp.step_error {
        condition(
            "Degraded",
            true,
            "OperationFailed",
            truncate(e, 1000),
            generation,
        )
    } else if ready_replicas < r {
        condition(
            "Degraded",
            true,
            "MembersNotReady",
            format!("{ready_replicas} of {r} servers ready"),
            generation,
        )
    } else {
        condition(
            "Degraded",
            false,
            "AllMembersReady",
            format!("all {r} servers ready"),
            generation,
        )
    };

    ZookeeperClusterStatus {
        observed_generation: generation,
        replicas: r,
        ready_replicas,
        updated_replicas,
        selector: Some(builders::selector_string(zk)),
        leader,
        version,
        quorum_healthy,
        members: member_status,
        ensemble: membership.map(|m| EnsembleStatus {
            voters: m.voters.keys().copied().collect(),
            observers: m.observers.keys().copied().collect(),
            config_version: m.version.clone(),
        }),
        server_ids: inp.ids.to_vec(),
        next_server_id: Some(inp.next_id),
        connect_string: Some(builders::connect_string(zk, inp.build)),
        conditions: vec![available, progressing, degraded],
    }
}

/// Keep `lastTransitionTime` of conditions whose status did not change; stamp the others now.
pub fn carry_transition_times(
    old: &ZookeeperClusterStatus,
    mut new: ZookeeperClusterStatus,
) -> ZookeeperClusterStatus {
    let now = k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now())
        .to_string();
    for c in &mut new.conditions {
        let prev = old.conditions.iter().find(|o| o.type_ == c.type_);
        c.last_transition_time = match prev {
            Some(p) if p.status == c.status => {
                p.last_transition_time.clone().or_else(|| Some(now.clone()))
            }
            _ => Some(now.clone()),
        };
    }
    new
}

async fn publish_status_events(
    zk: &ZookeeperCluster,
    ctx: &Context,
    old: &ZookeeperClusterStatus,
    new: &ZookeeperClusterStatus,
) {
    if new.leader != old.leader {
        if let Some(l) = &new.leader {
            event(
                zk,
                ctx,
                "LeaderElected",
                "ObserveLeader",
                format!("{l} is the leader"),
            )
            .await;
        }
    }
    let cond =
        |s: &ZookeeperClusterStatus, t: &str| s.conditions.iter().find(|c| c.type_ == t).cloned();
    let available =
        |s: &ZookeeperClusterStatus| cond(s, "Available").is_some_and(|c| c.status == "True");
    if available(new) && !available(old) {
        event(
            zk,
            ctx,
            "Available",
            "ObserveQuorum",
            "a quorum is serving".into(),
        )
        .await;
    } else if !available(new) && available(old) {
        warn_event(
            zk,
            ctx,
            "QuorumLost",
            "ObserveQuorum",
            "no serving quorum".into(),
        )
        .await;
    }
    // A halted rollout / scale operation: one Warning when it starts.
    let halted = |s: &ZookeeperClusterStatus| {
        cond(s, "Degraded").filter(|c| {
            c.status == "True" && (c.reason == "RolloutHalted" || c.reason == "MemberUnhealthy")
        })
    };
    if let Some(c) = halted(new) {
        if halted(old).map(|o| o.reason) != Some(c.reason.clone()) {
            warn_event(zk, ctx, &c.reason, "Rollout", c.message.clone()).await;
        }
    } else if halted(old).is_some() {
        event(
            zk,
            ctx,
            "Resumed",
            "Rollout",
            "the unhealthy server recovered; resuming".into(),
        )
        .await;
    }
    let gone: Vec<i64> = old
        .ensemble
        .as_ref()
        .map(|e| e.voters.clone())
        .unwrap_or_default();
    if let Some(e) = &new.ensemble {
        if !gone.is_empty() && e.voters != gone {
            event(
                zk,
                ctx,
                "MembershipChanged",
                "ObserveEnsemble",
                format!(
                    "voting members {gone:?} -> {:?} (config version {})",
                    e.voters, e.config_version
                ),
            )
            .await;
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}
