//! The controller: ZookeeperCluster -> owned objects (server-side apply) -> one day-2 step ->
//! status.
//!
//! Each reconcile reads the cluster fresh from the API server, observes the pods and the
//! ensemble (see [`crate::ensemble`]), lets [`crate::plan::plan`] pick at most ONE step (add or
//! remove a member through `reconfig`, grow/shrink the StatefulSet by one, hand leadership over,
//! restart one pod), persists any server-id allocation in the status BEFORE a pod can use it,
//! applies the owned objects, runs the step (see [`crate::steps`]) and writes the status.
//! Everything the next step depends on is in the cluster (StatefulSet replicas and revisions,
//! pods), in the ensemble (membership, leader, lag) or in the status (server ids): a restarted
//! operator resumes a scale operation or a rollout where it was.
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
//!
//! * [`apply`]: server-side apply of the owned objects, old zoo.cfg revisions deleted.
//! * [`status`]: the status computed from what was observed (pure), metrics, status writes.
//! * [`events`]: Events (Normal/Warning) and the ones derived from status changes.
//! * [`ids`]: server ids adopted when the status has none.

mod apply;
pub mod events;
mod ids;
mod status;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

pub use ids::adopt_ids;
pub use status::{carry_transition_times, compute_status, StatusInput};

use crate::builders::{self, BuildContext, MANAGER};
use crate::crd::{ServerIdStatus, ZookeeperCluster, ZookeeperClusterStatus};
use crate::metrics::Metrics;
use crate::plan::{self, Action as Step, EnsembleObs, Phase, Plan, PodObs};
use crate::steps::transfer::Transfer;
use crate::{auth, ensemble};

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
    /// The `reason` label of `rzk_operator_reconcile_errors_total`.
    pub fn reason(&self) -> &'static str {
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
    pub(crate) transfers: Mutex<HashMap<(String, String), Transfer>>,
}

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

/// The steps of one reconciliation, in order.
async fn reconcile_inner(cached: &ZookeeperCluster, ctx: &Context) -> Result<Action, Error> {
    // 1. Read the cluster fresh (its status holds the server-id allocation); observe the
    //    StatefulSet, the pods (`conf`, `srvr`) and the ensemble through its leader.
    let Some(r) = Reconciler::observe(cached, ctx).await? else {
        return Ok(Action::await_change());
    };
    // 2. Server ids: kept from the status (or adopted), updated from what the servers run,
    //    allocated for the current StatefulSet replicas.
    let ids = r.server_ids().await?;
    // 3. Pick at most one step.
    let plan = r.plan(&ids);
    // 4. Ids the step needs (a new ordinal, a replaced id), persisted before any pod can use them.
    let ids = r.allocate_for(&plan, ids);
    r.persist_ids(&ids).await?;
    // 5. Server-side apply the owned objects; delete zoo.cfg revisions no pod uses.
    let applied = r.apply_all(ids.target_replicas, &ids.ids).await;
    // 6. Run the step (only when the owned objects are as they should be).
    let step_error = match &applied {
        Ok(_) => r.execute(&plan).await.err(),
        Err(_) => None,
    };
    if let Some(e) = &step_error {
        ctx.metrics
            .step_failures
            .with_label_values(&[e.reason()])
            .inc();
    }
    // 7. Status (written only when it changed), metrics, the Events of status changes.
    let status = r.status(&ids, &plan, &applied, step_error.as_ref());
    r.record_metrics(&status, &plan);
    r.write_status_if_changed(&ids, status.clone()).await?;
    // 8. Come back soon while something is going on.
    applied?;
    let secs = if plan.action != Step::None {
        1
    } else if plan.phase == Phase::Settled && status.quorum_healthy && step_error.is_none() {
        30
    } else {
        3
    };
    Ok(Action::requeue(Duration::from_secs(secs)))
}

/// What one reconciliation knows about one cluster: read and observed once, at its start.
pub(crate) struct Reconciler<'a> {
    pub ctx: &'a Context,
    pub zk: ZookeeperCluster,
    pub ns: String,
    pub name: String,
    pub api: Api<ZookeeperCluster>,
    /// The status as read at the start.
    pub old: ZookeeperClusterStatus,
    /// The cluster's super-user password (see [`crate::auth`]).
    pub password: String,
    /// zoo.cfg of the current revision.
    pub zoo_cfg: String,
    /// The StatefulSet as it was before this reconcile's apply.
    pub sts: Option<StatefulSet>,
    /// The StatefulSet's replicas (None: no StatefulSet yet).
    pub sts_replicas: Option<i32>,
    /// The StatefulSet's replicas, or `spec.replicas` for a new cluster (a new ensemble starts
    /// all its servers at once: they bootstrap it together).
    pub current_r: i32,
    pub pods: Vec<Pod>,
    pub pod_obs: Vec<PodObs>,
    pub ens: EnsembleObs,
    /// Why the membership could not be read.
    pub ens_error: Option<String>,
}

/// The server-id allocation of one reconciliation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ids {
    pub ids: Vec<ServerIdStatus>,
    pub next: i64,
    /// The StatefulSet replicas after this reconcile's step.
    pub target_replicas: i32,
}

impl<'a> Reconciler<'a> {
    async fn observe(cached: &ZookeeperCluster, ctx: &'a Context) -> Result<Option<Self>, Error> {
        let ns = cached.namespace().ok_or(Error::NoNamespace)?;
        let name = cached.name_any();
        let client = &ctx.client;
        let api = Api::<ZookeeperCluster>::namespaced(client.clone(), &ns);
        let Some(zk) = api.get_opt(&name).await? else {
            return Ok(None);
        };
        if zk.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let old = zk.status.clone().unwrap_or_default();
        let password =
            auth::super_password(&ctx.auth_key, &ns, &name, zk.uid().as_deref().unwrap_or(""));
        let zoo_cfg = builders::zoo_cfg(&zk, &auth::super_digest(&password));
        let sts = Api::<StatefulSet>::namespaced(client.clone(), &ns)
            .get_opt(&builders::statefulset_name(&zk))
            .await?;
        let pods = Api::<Pod>::namespaced(client.clone(), &ns)
            .list(&ListParams::default().labels(&builders::selector_string(&zk)))
            .await?
            .items;
        let pod_obs = ensemble::observe_pods(&zk, &pods, ctx.probe_timeout).await;
        let (ens, ens_error) = ensemble::observe_ensemble(&zk, &pod_obs, ctx.probe_timeout).await;
        let sts_replicas = sts
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.replicas);
        Ok(Some(Self {
            current_r: sts_replicas.unwrap_or(zk.spec.replicas),
            ctx,
            ns,
            name,
            api,
            old,
            password,
            zoo_cfg,
            sts,
            sts_replicas,
            pods,
            pod_obs,
            ens,
            ens_error,
            zk,
        }))
    }

    /// The allocation for the current replicas (see the module docs of [`crate::plan`]).
    async fn server_ids(&self) -> Result<Ids, Error> {
        let (ids, mut next) = if self.old.server_ids.is_empty() {
            let cm = Api::<ConfigMap>::namespaced(self.ctx.client.clone(), &self.ns)
                .get_opt(&builders::members_config_map_name(&self.zk))
                .await?;
            let adopted = adopt_ids(&self.zk, self.sts_replicas, cm.as_ref(), &self.pod_obs);
            (adopted, 1)
        } else {
            (
                self.old.server_ids.clone(),
                self.old.next_server_id.unwrap_or(1),
            )
        };
        // Never reuse an id the ensemble knows.
        if let Some(m) = &self.ens.membership {
            next = next.max(m.ids().max().unwrap_or(0) + 1);
        }
        let ids = plan::update_ids(
            &ids,
            self.current_r,
            &self.pod_obs,
            self.ens.membership.as_ref(),
        );
        let (ids, next) = plan::allocate_ids(&ids, next, self.current_r);
        Ok(Ids {
            ids,
            next,
            target_replicas: self.current_r,
        })
    }

    /// Hash of the current pod template.
    fn template_hash(&self) -> String {
        builders::template_hash_of(&builders::statefulset(
            &self.zk,
            self.current_r,
            &self.zoo_cfg,
        ))
        .unwrap_or_default()
    }

    fn plan(&self, ids: &Ids) -> Plan {
        let template_hash = self.template_hash();
        let rollout_ready = self.sts.as_ref().is_some_and(|s| {
            builders::template_hash_of(s).as_deref() == Some(template_hash.as_str())
                && s.status.as_ref().and_then(|st| st.observed_generation) >= s.metadata.generation
        });
        let plan = plan::plan(&plan::PlanInput {
            name: &builders::statefulset_name(&self.zk),
            desired: self.zk.spec.replicas,
            sts_replicas: self.current_r,
            ids: &ids.ids,
            pods: &self.pod_obs,
            ens: &self.ens,
            template_hash: &template_hash,
            rollout_ready,
            now: k8s_openapi::jiff::Timestamp::now().as_second(),
            health_timeout: i64::from(self.zk.spec.rollout.health_timeout_seconds),
        });
        if plan.action != Step::None || plan.phase != Phase::Settled {
            tracing::info!(cluster = %self.name, phase = plan.phase.reason(), action = ?plan.action, "{}", plan.message);
        }
        plan
    }

    /// The ids after the planned step: the next ordinal's (scale-up), or a fresh one for a
    /// replaced member.
    fn allocate_for(&self, plan: &Plan, mut ids: Ids) -> Ids {
        match &plan.action {
            Step::SetReplicas(n) => {
                ids.target_replicas = *n;
                (ids.ids, ids.next) = plan::allocate_ids(&ids.ids, ids.next, *n);
            }
            Step::ReplaceId { ordinal } => {
                (ids.ids, ids.next) = plan::replace_id(&ids.ids, ids.next, *ordinal);
            }
            _ => {}
        }
        ids
    }

    /// True when the allocation differs from the status read at the start.
    fn ids_changed(&self, ids: &Ids) -> bool {
        ids.ids != self.old.server_ids || Some(ids.next) != self.old.next_server_id
    }

    /// Persist the allocation before any pod can run with it.
    async fn persist_ids(&self, ids: &Ids) -> Result<(), Error> {
        if self.ids_changed(ids) {
            let mut s = self.old.clone();
            s.server_ids = ids.ids.clone();
            s.next_server_id = Some(ids.next);
            status::write_status(&self.api, &self.name, &s).await?;
        }
        Ok(())
    }

    /// The pod of an ordinal, as observed.
    pub fn pod(&self, ordinal: i32) -> Option<&PodObs> {
        self.pod_obs.iter().find(|p| p.ordinal == ordinal)
    }

    /// The pod of the server that leads (by id, and by its own `srvr` mode).
    pub fn leader_pod(&self) -> Option<&PodObs> {
        self.ens.leader_id.and_then(|l| {
            self.pod_obs
                .iter()
                .find(|p| p.server_id == Some(l) && p.mode.as_deref() == Some("leader"))
        })
    }

    /// The Pod API of the cluster's namespace.
    pub fn pod_api(&self) -> Api<Pod> {
        Api::namespaced(self.ctx.client.clone(), &self.ns)
    }

    /// Count one operation in `rzk_cluster_operations_total`.
    pub fn operation(&self, op: &str, ok: bool) {
        self.ctx.metrics.operation(&self.ns, &self.name, op, ok);
    }
}
