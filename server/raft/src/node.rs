//! The consensus handle used by the server.

use crate::log_store::LogStore;
use crate::network::Network;
use crate::state_machine::{ApplyHook, StateMachine};
use crate::types::*;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{Config, ServerState, SnapshotPolicy};
use parking_lot::RwLock;
use rzk_storage::{LogOptions, LogWriter, MetaStore, SnapshotOptions, SnapshotStore};
use rzk_tree::{CmdResult, DataTree, Entry};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct RaftNodeConfig {
    pub node_id: u64,
    /// Directory holding `log/`, `meta/` and `snapshots/`.
    pub dir: PathBuf,
    /// Initial members, used only by the very first start of a fresh ensemble.
    pub members: BTreeMap<u64, Member>,
    /// Take a snapshot (and purge older log) after this many entries.
    pub snapshot_every: u64,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: (u64, u64),
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Storage(#[from] rzk_storage::StorageError),
    #[error("raft: {0}")]
    Raft(String),
}

#[derive(Debug, thiserror::Error, Clone)]
pub enum ProposeError {
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    #[error("replication stopped: {0}")]
    Fatal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    Learner,
    Shutdown,
}

#[derive(Debug, Clone)]
pub struct RaftStatus {
    pub id: u64,
    pub role: Role,
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: u64,
    pub last_applied: u64,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    pub millis_since_quorum_ack: Option<u64>,
}

/// A running Raft member holding the replicated [`DataTree`].
#[derive(Clone)]
pub struct RaftNode {
    raft: Raft,
    id: u64,
}

const INITIALIZED: &str = "initialized";

impl RaftNode {
    pub async fn start(cfg: RaftNodeConfig, tree: Arc<RwLock<DataTree>>, hook: Arc<dyn ApplyHook>) -> Result<Self, StartError> {
        let (log, report) = rzk_storage::LogStore::open(&cfg.dir.join("log"), LogOptions::default())?;
        tracing::info!(entries = report.entries, segments = report.segments, "raft log opened");
        let meta = MetaStore::open(&cfg.dir.join("meta"))?;
        let initialized = meta.load(INITIALIZED)?.is_some();
        let snapshots = SnapshotStore::open(&cfg.dir.join("snapshots"), SnapshotOptions::default())?;
        let sm = StateMachine::open(tree, snapshots, hook)?;
        let writer = LogWriter::new(log)?;
        let store = LogStore::new(writer, meta.clone());

        let config = Config {
            cluster_name: "rzk".into(),
            heartbeat_interval: cfg.heartbeat_ms,
            election_timeout_min: cfg.election_timeout_ms.0,
            election_timeout_max: cfg.election_timeout_ms.1,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.snapshot_every),
            max_in_snapshot_log_to_keep: 1000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| StartError::Raft(e.to_string()))?;
        let raft = Raft::new(cfg.node_id, Arc::new(config), Network, store, sm)
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;

        // initialize() runs once ever per member; the marker survives restarts with the data dir.
        if !initialized {
            if cfg.members.len() == 1 && cfg.members.contains_key(&cfg.node_id) {
                if let Err(e) = raft.initialize(cfg.members.clone()).await {
                    tracing::info!(error = %e, "initialize skipped");
                }
            }
            meta.save(INITIALIZED, b"1")?;
        }
        Ok(RaftNode { raft, id: cfg.node_id })
    }

    /// Appends `entry` to the replicated log. The returned future resolves once the entry is
    /// committed and applied. The entry is queued before this function returns, so calls made in
    /// sequence are applied in that sequence.
    pub async fn propose(&self, entry: Entry) -> impl Future<Output = Result<(i64, CmdResult), ProposeError>> {
        let rx = self.raft.client_write_ff(entry).await;
        async move {
            let rx = rx.map_err(|e| ProposeError::Fatal(e.to_string()))?;
            match rx.await {
                Ok(Ok(resp)) => Ok((resp.log_id.index as i64, resp.data)),
                Ok(Err(ClientWriteError::ForwardToLeader(f))) => Err(ProposeError::NotLeader { leader: f.leader_id }),
                Ok(Err(e)) => Err(ProposeError::Fatal(e.to_string())),
                Err(e) => Err(ProposeError::Fatal(e.to_string())),
            }
        }
    }

    /// Waits until this member has applied everything committed before the call (ZooKeeper `sync`).
    pub async fn barrier(&self) -> Result<i64, ProposeError> {
        match self.raft.ensure_linearizable().await {
            Ok(l) => Ok(l.map_or(0, |l| l.index as i64)),
            Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader { leader: f.leader_id })
            }
            Err(e) => Err(ProposeError::Fatal(e.to_string())),
        }
    }

    pub fn status(&self) -> RaftStatus {
        let m = self.raft.metrics().borrow().clone();
        let role = match m.state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        let membership = m.membership_config.membership();
        RaftStatus {
            id: self.id,
            role,
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            last_applied: m.last_applied.map_or(0, |l| l.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            millis_since_quorum_ack: m.millis_since_quorum_ack,
        }
    }

    /// Resolves when this member has become leader (or after `timeout`).
    pub async fn wait_leader(&self, timeout: std::time::Duration) -> bool {
        self.raft
            .wait(Some(timeout))
            .metrics(|m| m.state == ServerState::Leader, "leader")
            .await
            .is_ok()
    }

    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }
}
