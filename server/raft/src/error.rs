//! Errors of [`crate::RaftNode`]'s operations.
//!
//! `ProposeError` and `ReconfigError` travel in peer responses (postcard): their shape and variant
//! order are part of the peer wire format.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Storage(#[from] rzk_storage::StorageError),
    #[error("raft: {0}")]
    Raft(String),
    #[error("cannot listen for peers on {addr}: {reason}")]
    Listen { addr: String, reason: String },
}

#[derive(Debug, thiserror::Error, Clone, Serialize, Deserialize)]
pub enum ProposeError {
    #[error("no leader is known")]
    NoLeader,
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    #[error("forwarding to the leader failed: {0}")]
    Forward(String),
    #[error("replication stopped: {0}")]
    Fatal(String),
}

#[derive(Debug, thiserror::Error, Clone, Serialize, Deserialize)]
pub enum ReconfigError {
    #[error("the new configuration would not have a quorum of synced voters")]
    NoQuorum,
    #[error("another membership change is in progress")]
    InProgress,
    #[error("bad reconfiguration: {0}")]
    BadArguments(String),
    #[error("{0}")]
    Propose(#[from] ProposeError),
    #[error("membership change failed: {0}")]
    Failed(String),
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TransferError {
    #[error("this member is not the leader")]
    NotLeader,
    #[error("server {0} is not another voting member")]
    NotAVoter(u64),
    #[error("server {0} did not catch up with the leader's log within {1:?}")]
    Behind(u64, Duration),
    /// The target's answer to `PeerRequest::Elect` (its [`ElectError`] as text: the wire carries
    /// a string), or why it could not be asked.
    #[error("server {0} could not start an election: {1}")]
    ElectFailed(u64, String),
    #[error("no other member took over within {0:?}")]
    NotHandedOver(Duration),
}

/// Why [`crate::RaftNode::trigger_election`] did not start an election. Sent to the leader that
/// asked as its `Display` text (`PeerResponse::Elect` carries a `String`).
#[derive(Debug, thiserror::Error)]
pub enum ElectError {
    #[error("this member is the leader")]
    IsLeader,
    #[error("{0}")]
    Raft(#[source] Box<openraft::error::Fatal<u64>>),
}
