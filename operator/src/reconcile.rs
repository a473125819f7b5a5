//! The controller: ZookeeperCluster → owned objects (server-side apply) → status.
//!
//! Idempotency: every owned object is applied with server-side apply under the field manager
//! `rzk-operator`; an apply of an unchanged object is a no-op on the API server (resourceVersion
//! unchanged). The status is patched only when it differs from the stored one (condition
//! transition times are carried over), and Events are published only when an apply actually
//! changed an object (its resourceVersion moved) or a condition/leader changed. So a reconcile of
//! an unchanged, healthy cluster writes nothing: GitOps tools see no drift.
//!
//! No finalizer: owned objects go with the cluster through owner references (garbage
//! collection), and the claims follow the StatefulSet's PVC retention policy
//! (`spec.storage.reclaimPolicy`), so the operator has nothing to clean up itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::builders::{self, BuildContext, MANAGER};
use crate::crd::{Condition, MemberStatus, ZookeeperCluster, ZookeeperClusterStatus};
use crate::fourlw;
use crate::metrics::Metrics;

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
    /// Timeout of one four-letter-word exchange with a server.
    pub probe_timeout: Duration,
}

impl Context {
    pub fn new(client: Client, build: BuildContext, metrics: Arc<Metrics>) -> Self {
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

async fn reconcile_inner(zk: &ZookeeperCluster, ctx: &Context) -> Result<Action, Error> {
    let ns = zk.namespace().ok_or(Error::NoNamespace)?;
    let name = zk.name_any();
    let client = &ctx.client;

    let applied = apply_all(zk, ctx, &ns).await;
    let (sts, apply_error) = match applied {
        Ok(sts) => (Some(sts), None),
        Err(e) => {
            let _ = ctx
                .recorder
                .publish(
                    &Event {
                        type_: EventType::Warning,
                        reason: "ReconcileFailed".into(),
                        note: Some(truncate(&e.to_string(), 1000)),
                        action: "Reconcile".into(),
                        secondary: None,
                    },
                    &zk.object_ref(&()),
                )
                .await;
            let sts = Api::<StatefulSet>::namespaced(client.clone(), &ns)
                .get_opt(&builders::statefulset_name(zk))
                .await
                .ok()
                .flatten();
            (sts, Some(e))
        }
    };

    // Observe the servers.
    let pods = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels(&builders::selector_string(zk)))
        .await?;
    let members = observe_members(zk, ctx, &pods.items).await;
    let status = compute_status(zk, sts.as_ref(), &members, apply_error.as_ref(), &ctx.build);

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

    let old = zk.status.clone().unwrap_or_default();
    let status = carry_transition_times(&old, status);
    if status != old {
        publish_status_events(zk, ctx, &old, &status).await;
        let api = Api::<ZookeeperCluster>::namespaced(client.clone(), &ns);
        // Server-side apply of the whole status: fields that disappeared (e.g. the leader) are
        // removed because this manager owned them.
        let patch = serde_json::json!({
            "apiVersion": "rzk.dev/v1alpha1",
            "kind": "ZookeeperCluster",
            "status": status,
        });
        api.patch_status(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    }

    if let Some(e) = apply_error {
        return Err(e);
    }
    let settled = status.quorum_healthy
        && status.ready_replicas == zk.spec.replicas
        && status.members.iter().all(|m| m.role != "unknown");
    Ok(Action::requeue(Duration::from_secs(if settled {
        30
    } else {
        5
    })))
}

/// Apply every owned object; returns the applied StatefulSet.
async fn apply_all(zk: &ZookeeperCluster, ctx: &Context, ns: &str) -> Result<StatefulSet, Error> {
    let b = &ctx.build;
    apply(zk, ctx, ns, "ConfigMap", builders::config_map(zk, b)).await?;
    apply(zk, ctx, ns, "Service", builders::headless_service(zk)).await?;
    apply(zk, ctx, ns, "Service", builders::client_service(zk)).await?;
    let sts = apply(zk, ctx, ns, "StatefulSet", builders::statefulset(zk, b)).await?;
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
    let r = ctx
        .recorder
        .publish(
            &Event {
                type_: EventType::Normal,
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

/// A pod as the operator sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub pod: String,
    pub id: i64,
    pub ready: bool,
    pub srvr: Option<fourlw::Srvr>,
}

async fn observe_members(zk: &ZookeeperCluster, ctx: &Context, pods: &[Pod]) -> Vec<Observed> {
    let port = zk.spec.ports.client;
    let futs = pods.iter().filter_map(|pod| {
        let name = pod.name_any();
        let id = builders::server_id_of_pod(&name)?;
        let status = pod.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let ip = status.and_then(|s| s.pod_ip.clone());
        let timeout = ctx.probe_timeout;
        Some(async move {
            let srvr = match ip {
                Some(ip) if pod.metadata.deletion_timestamp.is_none() => {
                    let addr = if ip.contains(':') {
                        format!("[{ip}]:{port}")
                    } else {
                        format!("{ip}:{port}")
                    };
                    match fourlw::srvr(&addr, timeout).await {
                        Ok(s) => Some(s),
                        Err(e) => {
                            tracing::debug!(pod = %name, error = %e, "srvr failed");
                            None
                        }
                    }
                }
                _ => None,
            };
            Observed {
                pod: name,
                id,
                ready,
                srvr,
            }
        })
    });
    let mut out = futures::future::join_all(futs).await;
    out.sort_by_key(|o| o.id);
    out
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

/// Compute the status from what was observed (pure; transition times are filled in later).
pub fn compute_status(
    zk: &ZookeeperCluster,
    sts: Option<&StatefulSet>,
    members: &[Observed],
    apply_error: Option<&Error>,
    build: &BuildContext,
) -> ZookeeperClusterStatus {
    let generation = zk.metadata.generation;
    let desired = zk.spec.replicas;
    let sts_status = sts.and_then(|s| s.status.clone()).unwrap_or_default();
    let ready_replicas = members
        .iter()
        .filter(|m| m.ready && m.id <= i64::from(desired))
        .count() as i32;

    let member_status: Vec<MemberStatus> = members
        .iter()
        .map(|m| MemberStatus {
            id: m.id,
            pod: m.pod.clone(),
            role: m
                .srvr
                .as_ref()
                .map(|s| s.mode.clone())
                .unwrap_or_else(|| "unknown".into()),
            ready: m.ready,
        })
        .collect();
    let leader = member_status
        .iter()
        .find(|m| m.role == "leader")
        .or_else(|| {
            (desired == 1)
                .then(|| member_status.iter().find(|m| m.role == "standalone"))
                .flatten()
        })
        .map(|m| m.pod.clone());
    let voters = member_status
        .iter()
        .filter(|m| m.role == "leader" || m.role == "follower")
        .count() as i32;
    let quorum_healthy = if desired == 1 {
        leader.is_some()
    } else {
        member_status.iter().any(|m| m.role == "leader") && voters > desired / 2
    };
    let version = members
        .iter()
        .find_map(|m| m.srvr.as_ref().and_then(|s| s.version.clone()));

    // Rollout state of the StatefulSet.
    let sts_generation_seen = match (
        sts.and_then(|s| s.metadata.generation),
        sts_status.observed_generation,
    ) {
        (Some(g), Some(o)) => o >= g,
        _ => false,
    };
    let revisions_match = sts_status.update_revision.is_none()
        || sts_status.current_revision == sts_status.update_revision;
    let updated = sts_status.updated_replicas.unwrap_or(0);
    let rolled_out = sts_generation_seen
        && revisions_match
        && updated >= desired
        && sts_status.replicas == desired;
    let all_ready = ready_replicas >= desired;

    let available = condition(
        "Available",
        quorum_healthy,
        if quorum_healthy {
            "QuorumHealthy"
        } else {
            "NoQuorum"
        },
        if quorum_healthy {
            match &leader {
                Some(l) => format!(
                    "{voters_or_one} of {desired} servers serving, leader {l}",
                    voters_or_one = voters.max(1)
                ),
                None => "serving".into(),
            }
        } else {
            format!("no quorum: {voters} of {desired} servers are leader/follower")
        },
        generation,
    );
    let progressing = !(rolled_out && all_ready);
    let progressing = condition(
        "Progressing",
        progressing,
        if !rolled_out {
            "RollingOut"
        } else if !all_ready {
            "WaitingForReady"
        } else {
            "Reconciled"
        },
        if progressing {
            format!("{updated} of {desired} pods updated, {ready_replicas} of {desired} ready")
        } else {
            format!("all {desired} servers up to date and ready")
        },
        generation,
    );
    let degraded = match apply_error {
        Some(e) => condition(
            "Degraded",
            true,
            "ReconcileFailed",
            truncate(&e.to_string(), 1000),
            generation,
        ),
        None if !quorum_healthy => condition(
            "Degraded",
            true,
            "NoQuorum",
            format!("{ready_replicas} of {desired} servers ready, no serving quorum"),
            generation,
        ),
        None if !all_ready => condition(
            "Degraded",
            true,
            "MembersNotReady",
            format!("{ready_replicas} of {desired} servers ready"),
            generation,
        ),
        None => condition(
            "Degraded",
            false,
            "AllMembersReady",
            format!("all {desired} servers ready"),
            generation,
        ),
    };

    ZookeeperClusterStatus {
        observed_generation: generation,
        replicas: sts_status.replicas,
        ready_replicas,
        selector: Some(builders::selector_string(zk)),
        leader,
        version,
        quorum_healthy,
        members: member_status,
        connect_string: Some(builders::connect_string(zk, build)),
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
    let was = |s: &ZookeeperClusterStatus| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Available" && c.status == "True")
    };
    if was(new) && !was(old) {
        event(
            zk,
            ctx,
            "Available",
            "ObserveQuorum",
            "a quorum is serving".into(),
        )
        .await;
    } else if !was(new) && was(old) {
        let r = ctx
            .recorder
            .publish(
                &Event {
                    type_: EventType::Warning,
                    reason: "QuorumLost".into(),
                    note: Some("no serving quorum".into()),
                    action: "ObserveQuorum".into(),
                    secondary: None,
                },
                &zk.object_ref(&()),
            )
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "publishing event failed");
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
