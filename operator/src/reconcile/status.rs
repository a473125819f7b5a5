//! The status: computed from what was observed (pure), recorded in the metrics, written
//! (server-side apply) only when it changed.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams};

use super::events::truncate;
use super::{Error, Ids, Reconciler};
use crate::builders::{self, BuildContext, MANAGER};
use crate::crd::{
    Condition, EnsembleStatus, MemberStatus, ServerIdStatus, ZookeeperCluster,
    ZookeeperClusterStatus,
};
use crate::metrics::EnsembleGauges;
use crate::plan::{self, EnsembleObs, Phase, Plan, PodObs};
use crate::steps::StepError;

impl Reconciler<'_> {
    /// The status after this reconcile (transition times not filled in yet).
    pub(super) fn status(
        &self,
        ids: &Ids,
        plan: &Plan,
        applied: &Result<StatefulSet, Error>,
        step_error: Option<&StepError>,
    ) -> ZookeeperClusterStatus {
        let template_hash = self.template_hash();
        compute_status(&StatusInput {
            zk: &self.zk,
            sts: applied.as_ref().ok().or(self.sts.as_ref()),
            replicas: ids.target_replicas,
            pods: &self.pod_obs,
            ens: &self.ens,
            ens_error: self.ens_error.as_deref(),
            ids: &ids.ids,
            next_id: ids.next,
            plan,
            template_hash: &template_hash,
            apply_error: applied.as_ref().err().map(|e| e.to_string()),
            step_error,
            build: &self.ctx.build,
        })
    }

    /// The cluster's gauges.
    pub(super) fn record_metrics(&self, status: &ZookeeperClusterStatus, plan: &Plan) {
        let (ns, name, ens) = (&self.ns, &self.name, &self.ens);
        let metrics = &self.ctx.metrics;
        let mut roles: BTreeMap<String, i64> = BTreeMap::new();
        for m in &status.members {
            *roles.entry(m.role.clone()).or_default() += 1;
        }
        metrics.set_cluster(
            ns,
            name,
            &roles,
            status.quorum_healthy,
            status.ready_replicas,
            self.zk.spec.replicas,
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
        metrics.set_ensemble(
            ns,
            name,
            &EnsembleGauges {
                updated: status.updated_replicas,
                voters,
                synced_followers: synced,
                leader: ens.leader_id,
                lag: &ens.lag,
                halted: plan.halted.is_some(),
            },
        );
    }

    /// Write the status when it differs from the stored one (publishing the Events of its
    /// changes first).
    pub(super) async fn write_status_if_changed(
        &self,
        ids: &Ids,
        status: ZookeeperClusterStatus,
    ) -> Result<(), Error> {
        // Re-read: the allocation written earlier in this reconcile changed the stored status.
        let stored = if self.ids_changed(ids) {
            self.api
                .get_status(&self.name)
                .await?
                .status
                .unwrap_or_default()
        } else {
            self.old.clone()
        };
        let status = carry_transition_times(&stored, status);
        if status != stored {
            self.publish_status_events(&status).await;
            write_status(&self.api, &self.name, &status).await?;
        }
        Ok(())
    }
}

pub(super) async fn write_status(
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
    pub step_error: Option<&'a StepError>,
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
    } else if let Some(e) = inp.step_error {
        condition(
            "Degraded",
            true,
            e.reason(),
            truncate(&e.to_string(), 1000),
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
