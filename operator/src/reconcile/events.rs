//! Events: Normal and Warning, regarding the cluster.

use kube::runtime::events::{Event, EventType};
use kube::Resource;

use super::Reconciler;
use crate::crd::ZookeeperClusterStatus;

impl Reconciler<'_> {
    pub(crate) async fn event(&self, reason: &str, action: &str, note: String) {
        self.publish(EventType::Normal, reason, action, note).await
    }

    /// A Warning (its note truncated to 1000 bytes).
    pub(crate) async fn warn_event(&self, reason: &str, action: &str, note: String) {
        self.publish(EventType::Warning, reason, action, truncate(&note, 1000))
            .await
    }

    async fn publish(&self, type_: EventType, reason: &str, action: &str, note: String) {
        let r = self
            .ctx
            .recorder
            .publish(
                &Event {
                    type_,
                    reason: reason.into(),
                    note: Some(note),
                    action: action.into(),
                    secondary: None,
                },
                &self.zk.object_ref(&()),
            )
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
                self.event(
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
