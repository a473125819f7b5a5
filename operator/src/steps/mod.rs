//! The day-2 steps [`crate::plan::plan`] picks, run by the reconciler: at most one per reconcile.
//!
//! * [`scale`]: the StatefulSet grows or shrinks by one (the apply does it; the step reports it).
//! * [`membership`]: `reconfig` adds a member or removes members, on the leader, as the super user.
//! * [`transfer`]: a leadership hand-over before the leader is restarted or removed.
//! * [`restart`]: one pod deleted to run the current revision, or to come back under a new id.

pub(crate) mod membership;
pub(crate) mod restart;
pub(crate) mod scale;
pub(crate) mod transfer;

use crate::plan::{Action as Step, Plan};
use crate::reconcile::Reconciler;
use crate::zkclient::ZkError;

/// A step that failed (retried by a later reconcile). [`StepError::reason`] is the Degraded
/// condition's reason, [`StepError::operation`] the `operation` label of
/// `rzk_cluster_operations_total`.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("adding server {id} failed: {source}")]
    AddMember { id: i64, source: ZkError },
    #[error("removing server(s) {ids} failed: {source}")]
    RemoveMembers { ids: String, source: ZkError },
    #[error("removing leader {leader}: {source}")]
    RemoveLeader { leader: i64, source: ZkError },
    #[error("no address for the new leader candidate ordinal {0}")]
    NoCandidateAddress(i32),
    #[error("transfer of leadership from {from} to {to} (server {to_id}): {why}")]
    TransferRefused {
        from: String,
        to: String,
        to_id: i64,
        why: String,
    },
    #[error("elect on {target}: HTTP {code}: {body}")]
    ElectRefused {
        target: String,
        code: u16,
        body: String,
    },
    #[error("elect on {target}: {source}")]
    Elect { target: String, source: ZkError },
    #[error("{why}; its pod is not found")]
    LeaderPodNotFound { why: String },
    #[error("reading pod {pod}: {source}")]
    ReadPod { pod: String, source: kube::Error },
    #[error("deleting pod {pod}: {source}")]
    DeletePod { pod: String, source: kube::Error },
}

impl StepError {
    /// The Degraded condition's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            StepError::AddMember { .. }
            | StepError::RemoveMembers { .. }
            | StepError::RemoveLeader { .. } => "ReconfigFailed",
            StepError::NoCandidateAddress(_)
            | StepError::TransferRefused { .. }
            | StepError::ElectRefused { .. }
            | StepError::Elect { .. } => "LeadershipTransferFailed",
            StepError::LeaderPodNotFound { .. }
            | StepError::ReadPod { .. }
            | StepError::DeletePod { .. } => "PodDeletionFailed",
        }
    }
}

impl Reconciler<'_> {
    /// Run the planned step.
    pub(crate) async fn execute(&self, plan: &Plan) -> Result<(), StepError> {
        match &plan.action {
            Step::None => Ok(()),
            Step::SetReplicas(n) => {
                self.scale(*n, plan).await;
                Ok(())
            }
            Step::AddMember { ordinal, id } => self.add_member(*ordinal, *id).await,
            Step::RemoveMembers { ids } => self.remove_members(ids).await,
            Step::TransferLeadership { from, candidates } => {
                self.transfer_leadership(plan, *from, candidates).await
            }
            Step::DeletePod { ordinal } => self.delete_pod(plan, *ordinal, false).await,
            Step::ReplaceId { ordinal } => self.delete_pod(plan, *ordinal, true).await,
        }
    }
}

/// `ip:port`, bracketed for IPv6.
pub(crate) fn host_port(ip: &str, port: i32) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}
