//! Events: Normal and Warning, regarding the cluster.
//!
//! kube's event recorder folds an Event into an earlier one (a series: a count, the FIRST note)
//! when type, reason, action, reporter, regarding object and related object are all equal. So
//! an Event about one object (a pod restarted, a member added, an object applied) names that
//! object as its `related` object, with its uid (and, for applied objects, resourceVersion):
//! restarting zk-0, zk-1 and zk-2 makes three Events, and the next rollout's restart of zk-0
//! (a new pod, a new uid) a new one too. Only repeats about the same object state aggregate.

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};

use super::Reconciler;
use crate::crd::{ZookeeperCluster, ZookeeperClusterStatus};

/// The reference to a pod of the cluster: with its uid when it was observed in `pods`.
pub fn pod_reference(zk: &ZookeeperCluster, pods: &[Pod], name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: Some(name.to_string()),
        namespace: zk.namespace(),
        uid: pods
            .iter()
            .find(|p| p.name_any() == name)
            .and_then(|p| p.uid()),
        ..Default::default()
    }
}

/// The reference to an applied object, at its resourceVersion.
pub fn object_reference<R: Resource<DynamicType = ()>>(obj: &R) -> ObjectReference {
    let mut r = obj.object_ref(&());
    r.resource_version = obj.meta().resource_version.clone();
    r
}

/// The Event as the recorder gets it.
pub fn event(
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
    related: Option<ObjectReference>,
) -> Event {
    let note = match type_ {
        EventType::Warning => truncate(&note, 1000),
        EventType::Normal => note,
    };
    Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: related,
    }
}

impl Reconciler<'_> {
    /// A Normal Event about the cluster as a whole.
    pub(crate) async fn event(&self, reason: &str, action: &str, note: String) {
        self.publish(event(EventType::Normal, reason, action, note, None))
            .await
    }

    /// A Warning about the cluster as a whole (its note truncated to 1000 bytes).
    pub(crate) async fn warn_event(&self, reason: &str, action: &str, note: String) {
        self.publish(event(EventType::Warning, reason, action, note, None))
            .await
    }

    /// A Normal Event about one object (`related`) of the cluster.
    pub(crate) async fn event_on(
        &self,
        related: ObjectReference,
        reason: &str,
        action: &str,
        note: String,
    ) {
        self.publish(event(
            EventType::Normal,
            reason,
            action,
            note,
            Some(related),
        ))
        .await
    }

    /// A Warning about one object (`related`) of the cluster.
    pub(crate) async fn warn_event_on(
        &self,
        related: ObjectReference,
        reason: &str,
        action: &str,
        note: String,
    ) {
        self.publish(event(
            EventType::Warning,
            reason,
            action,
            note,
            Some(related),
        ))
        .await
    }

    /// The reference to one of the cluster's pods (see [`pod_reference`]).
    pub(crate) fn pod_ref(&self, name: &str) -> ObjectReference {
        pod_reference(&self.zk, &self.pods, name)
    }

    async fn publish(&self, ev: Event) {
        let r = self
            .ctx
            .recorder
            .publish(&ev, &self.zk.object_ref(&()))
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "publishing event failed");
        }
    }

    /// The Events of a status change: leader elected, quorum gained or lost, a halted
    /// operation, a membership change.
    pub(super) async fn publish_status_events(&self, new: &ZookeeperClusterStatus) {
        let old = &self.old;
        if new.leader != old.leader {
            if let Some(l) = &new.leader {
                self.event_on(
                    self.pod_ref(l),
                    "LeaderElected",
                    "ObserveLeader",
                    format!("{l} is the leader"),
                )
                .await;
            }
        }
        let cond = |s: &ZookeeperClusterStatus, t: &str| {
            s.conditions.iter().find(|c| c.type_ == t).cloned()
        };
        let available =
            |s: &ZookeeperClusterStatus| cond(s, "Available").is_some_and(|c| c.status == "True");
        if available(new) && !available(old) {
            self.event("Available", "ObserveQuorum", "a quorum is serving".into())
                .await;
        } else if !available(new) && available(old) {
            self.warn_event("QuorumLost", "ObserveQuorum", "no serving quorum".into())
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
                self.warn_event(&c.reason, "Rollout", c.message.clone())
                    .await;
            }
        } else if halted(old).is_some() {
            self.event(
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
                self.event(
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
}

pub(crate) fn truncate(s: &str, n: usize) -> String {
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
