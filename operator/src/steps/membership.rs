//! Membership changes through `reconfig` on the leader, as the super user.

use std::time::Duration;

use kube::ResourceExt;

use super::{host_port, StepError};
use crate::plan::{self, PodObs};
use crate::reconcile::Reconciler;
use crate::{auth, builders, zkclient};

impl Reconciler<'_> {
    /// Add the pod of `ordinal` as a participant under `id`.
    pub(crate) async fn add_member(&self, ordinal: i32, id: i64) -> Result<(), StepError> {
        let joining = plan::joining_spec(
            id,
            self.pod(ordinal).and_then(|p| p.own_spec.as_deref()),
            &builders::server_value(&self.zk, ordinal, &self.ctx.build),
        );
        let res = self.reconfig(self.leader_pod(), &joining, "").await;
        self.operation("add_member", res.is_ok());
        match res {
            Ok(cfg) => {
                self.event_on(
                    self.pod_ref(&builders::pod_name(&self.zk, ordinal)),
                    "MemberAdded",
                    "Reconfig",
                    format!(
                        "{} (server {id}) joined the ensemble: {}",
                        builders::pod_name(&self.zk, ordinal),
                        one_line(&cfg)
                    ),
                )
                .await;
                Ok(())
            }
            Err(source) => {
                let e = StepError::AddMember { id, source };
                let pod = self.pod_ref(&builders::pod_name(&self.zk, ordinal));
                self.warn_event_on(pod, "ReconfigFailed", "Reconfig", e.to_string())
                    .await;
                Err(e)
            }
        }
    }

    /// Remove members (ids no pod owns, or the highest ordinal's on scale-down).
    pub(crate) async fn remove_members(&self, ids: &[i64]) -> Result<(), StepError> {
        let leaving = ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let res = self.reconfig(self.leader_pod(), "", &leaving).await;
        self.operation("remove_member", res.is_ok());
        match res {
            Ok(cfg) => {
                let note = format!("server(s) {leaving} left the ensemble: {}", one_line(&cfg));
                match self.pod_of_ids(ids) {
                    Some(pod) => {
                        let pod = self.pod_ref(&pod);
                        self.event_on(pod, "MemberRemoved", "Reconfig", note).await
                    }
                    None => self.event("MemberRemoved", "Reconfig", note).await,
                }
                Ok(())
            }
            // Already gone (a previous attempt succeeded): fine.
            Err(e)
                if e.server_code() == Some(zkclient::code::BAD_ARGUMENTS)
                    && self
                        .ens
                        .membership
                        .as_ref()
                        .is_some_and(|m| ids.iter().all(|i| !m.contains(*i))) =>
            {
                Ok(())
            }
            Err(source) => {
                let e = StepError::RemoveMembers {
                    ids: leaving,
                    source,
                };
                self.warn_event("ReconfigFailed", "Reconfig", e.to_string())
                    .await;
                Err(e)
            }
        }
    }

    /// The pod running one of `ids` (the one an Event about their removal names).
    fn pod_of_ids(&self, ids: &[i64]) -> Option<String> {
        self.pod_obs
            .iter()
            .find(|p| p.server_id.is_some_and(|s| ids.contains(&s)))
            .map(|p| p.name.clone())
    }

    /// Run `reconfig` on the leader as the super user; returns the new configuration.
    pub(crate) async fn reconfig(
        &self,
        leader: Option<&PodObs>,
        joining: &str,
        leaving: &str,
    ) -> Result<String, zkclient::ZkError> {
        let ip = leader.and_then(|p| p.ip.clone()).unwrap_or_default();
        let addr = host_port(&ip, self.zk.spec.ports.client);
        tracing::info!(cluster = %self.zk.name_any(), %addr, joining, leaving, "reconfig");
        let mut s = zkclient::Session::connect(
            &addr,
            Duration::from_secs(30),
            self.ctx.probe_timeout.max(Duration::from_secs(5)),
        )
        .await?;
        let res = async {
            s.auth_digest(&format!("{}:{}", auth::SUPER_USER, self.password))
                .await?;
            s.reconfig(joining, leaving, -1, self.ctx.reconfig_timeout)
                .await
        }
        .await;
        s.close().await;
        res
    }
}

fn one_line(cfg: &str) -> String {
    cfg.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}
