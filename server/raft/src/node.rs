//! The consensus handle used by the server: [`RaftNode`]'s core (start, status, role, membership
//! view). Its other roles live beside it: `bootstrap` (first start of an ensemble), `batcher`
//! (leader-side group commit), `forward` (follower→leader writes, read index, touches) and `leader`
//! (reconfig, leadership transfer).

use crate::batcher::{batcher, Reply, IN_FLIGHT};
use crate::error::StartError;
use crate::log_store::LogStore;
use crate::network::{serve_peers, Network, RpcConn};
use crate::state_machine::{ApplyHook, StateMachine};
use crate::types::*;
use openraft::{Config, ServerState, SnapshotPolicy};
use parking_lot::{Mutex, RwLock};
use rzk_storage::{LogOptions, LogWriter, MetaStore, SnapshotOptions, SnapshotStore};
use rzk_tree::{DataTree, Entry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Clone)]
pub struct RaftNodeConfig {
    pub node_id: u64,
    /// Directory holding `log/`, `meta/` and `snapshots/`.
    pub dir: PathBuf,
    /// Members from the configuration file: used only to bootstrap a brand-new ensemble.
    pub members: BTreeMap<u64, Member>,
    /// Which of `members` are observers (Raft learners).
    pub observers: BTreeSet<u64>,
    /// Address to accept peer connections on (None: single node, no peers).
    pub listen: Option<String>,
    /// When to take a snapshot (and purge older log).
    pub snapshot: crate::SnapshotPolicy,
    /// Payload bytes of the newest log entries kept in memory (`rzk.logCacheBytes`).
    pub log_cache_bytes: usize,
    /// How many snapshot files to keep (ZooKeeper's autopurge.snapRetainCount).
    pub snapshots_keep: usize,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: (u64, u64),
    /// How long a client request waits for a reachable leader before it fails (an election in
    /// progress, or a leader that died and is not yet replaced).
    pub hold_without_leader: Duration,
    /// Called on the leader with sessions that followers report as active.
    pub touch_sink: TouchSink,
}

/// The membership as the state machine knows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MembersView {
    pub voters: BTreeMap<u64, Member>,
    pub learners: BTreeMap<u64, Member>,
    /// Log index of the membership entry (ZooKeeper's config version).
    pub version: u64,
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
    /// On the leader: per member, the highest log index known replicated there.
    pub replication: BTreeMap<u64, Option<u64>>,
    /// A reconfig made through this member removed it, and the configuration that did so has not
    /// reached it (the leader stops replicating to removed members): it is no longer a member.
    pub removed: bool,
    /// The cluster feature level in force (1 = rzk 0.1.0; raised through the log once every
    /// member supports more, see `format` and `network::hello`).
    pub feature_level: u32,
}

impl RaftStatus {
    /// Followers (voters and learners) whose log is within `lag` entries of the leader's.
    pub fn synced(&self, lag: u64) -> Vec<u64> {
        self.replication
            .iter()
            .filter(|(id, m)| **id != self.id && m.is_some_and(|i| i + lag >= self.last_log_index))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// How many entries a follower may trail the leader's log and still count as synced (a reconfig's
/// new voters must be, for a quorum of them).
pub const SYNCED_LAG: u64 = 100;

/// Receives the sessions that followers report as active (on the leader).
pub type TouchSink = Arc<dyn Fn(&[i64]) + Send + Sync>;

pub type Pending<T> = Pin<Box<dyn Future<Output = T> + Send>>;

pub(crate) struct Inner {
    /// Leader-side group commit: queued writes become one Raft entry (see `batcher`).
    pub(crate) batch_tx: mpsc::UnboundedSender<(Entry, Reply)>,
    pub(crate) raft: Raft,
    pub(crate) id: u64,
    /// One ordered connection per leader, for forwarded requests.
    pub(crate) forward: Mutex<HashMap<u64, Arc<RpcConn>>>,
    pub(crate) touch_sink: TouchSink,
    pub(crate) reconfig: tokio::sync::Mutex<()>,
    /// Counts leadership transfers; only the latest one re-enables this member's elections.
    pub(crate) step_aside: std::sync::atomic::AtomicU64,
    /// Membership log index of a configuration without this member, learned from a forwarded
    /// reconfig's answer (0: none).
    pub(crate) removed_in: std::sync::atomic::AtomicU64,
    /// The batcher's in-flight slots; a leadership transfer holds them all so nothing new is
    /// proposed while the target catches up.
    pub(crate) slots: Arc<tokio::sync::Semaphore>,
    /// The cluster feature level applied so far (kept by the state machine).
    pub(crate) feature_level: Arc<std::sync::atomic::AtomicU32>,
    /// Connections the leader uses to learn each member's supported feature level.
    pub(crate) probes: Mutex<HashMap<u64, (String, Arc<RpcConn>)>>,
    /// See [`RaftNodeConfig::hold_without_leader`].
    pub(crate) hold_without_leader: Duration,
    /// Requests that waited for a leader and were then sent (`rzk_requests_held_total`).
    pub(crate) held_requests: std::sync::atomic::AtomicU64,
}

/// A running Raft member holding the replicated [`DataTree`].
#[derive(Clone)]
pub struct RaftNode {
    pub(crate) inner: Arc<Inner>,
}

impl RaftNode {
    pub async fn start(
        cfg: RaftNodeConfig,
        tree: Arc<RwLock<DataTree>>,
        hook: Arc<dyn ApplyHook>,
    ) -> Result<Self, StartError> {
        let log_opts = LogOptions {
            v1_payload_prefix: crate::format::V1_PREFIX.to_vec(),
            cache_bytes: cfg.log_cache_bytes,
            ..LogOptions::default()
        };
        let (log, report) = rzk_storage::LogStore::open(&cfg.dir.join("log"), log_opts)?;
        tracing::info!(
            entries = report.entries,
            segments = report.segments,
            "raft log opened"
        );
        let meta = MetaStore::open_with_v1_prefix(
            &cfg.dir.join("meta"),
            crate::format::V1_PREFIX.to_vec(),
        )?;
        let initialized = meta.load(crate::bootstrap::INITIALIZED)?.is_some();
        let snapshots = SnapshotStore::open(
            &cfg.dir.join("snapshots"),
            SnapshotOptions {
                keep: cfg.snapshots_keep.max(1),
            },
        )?;
        let feature_level = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counters = Arc::new(crate::snapshot_policy::Counters::default());
        let sm = StateMachine::open(
            tree,
            snapshots,
            hook,
            feature_level.clone(),
            counters.clone(),
        )?;
        let writer = LogWriter::new(log)?;
        let store = LogStore::new(writer, meta.clone(), counters.clone());

        let config = Config {
            cluster_name: "rzk".into(),
            heartbeat_interval: cfg.heartbeat_ms,
            election_timeout_min: cfg.election_timeout_ms.0,
            election_timeout_max: cfg.election_timeout_ms.1,
            snapshot_policy: match cfg.snapshot.every_entries {
                Some(n) => SnapshotPolicy::LogsSinceLast(n),
                None => SnapshotPolicy::Never,
            },
            max_in_snapshot_log_to_keep: 1000,
            max_payload_entries: 256,
            ..Default::default()
        }
        .validate()
        .map_err(|e| StartError::Raft(e.to_string()))?;
        let raft = Raft::new(cfg.node_id, Arc::new(config), Network, store, sm)
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let (batch_tx, batch_rx) = mpsc::unbounded_channel();
        let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT as usize));
        tokio::spawn(batcher(raft.clone(), batch_rx, slots.clone()));
        tokio::spawn(crate::snapshot_policy::run(
            raft.clone(),
            cfg.snapshot,
            counters,
        ));
        let node = RaftNode {
            inner: Arc::new(Inner {
                batch_tx,
                raft,
                id: cfg.node_id,
                forward: Mutex::new(HashMap::new()),
                touch_sink: cfg.touch_sink.clone(),
                reconfig: tokio::sync::Mutex::new(()),
                step_aside: Default::default(),
                removed_in: Default::default(),
                slots,
                feature_level,
                probes: Mutex::new(HashMap::new()),
                hold_without_leader: cfg.hold_without_leader,
                held_requests: std::sync::atomic::AtomicU64::new(0),
            }),
        };
        tokio::spawn(node.clone().raise_feature_level_loop());
        tokio::spawn(node.clone().quiet_while_removed_loop());
        if let Some(addr) = &cfg.listen {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| StartError::Listen {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?;
            tokio::spawn(serve_peers(node.clone(), listener));
        }
        // initialize() runs once ever, on one member: the lowest participant id of a new ensemble.
        if !initialized {
            node.bootstrap_new(&cfg, meta).await?;
        }
        Ok(node)
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }

    pub(crate) fn is_leader(&self) -> bool {
        self.inner.raft.metrics().borrow().state == ServerState::Leader
    }

    /// The current membership (as applied locally).
    pub fn members(&self) -> MembersView {
        let m = self.inner.raft.metrics().borrow().clone();
        let mc = m.membership_config.clone();
        let membership = mc.membership();
        let voter_ids: BTreeSet<u64> = membership.voter_ids().collect();
        let mut v = MembersView {
            version: mc.log_id().map_or(0, |l| l.index),
            ..Default::default()
        };
        for (id, node) in membership.nodes() {
            if voter_ids.contains(id) {
                v.voters.insert(*id, node.clone());
            } else {
                v.learners.insert(*id, node.clone());
            }
        }
        v
    }

    pub fn status(&self) -> RaftStatus {
        self.status_of(&self.inner.raft.metrics().borrow())
    }

    /// [`RaftStatus`] from one metrics snapshot (also inside `raft.wait().metrics(..)` conditions).
    pub(crate) fn status_of(&self, m: &openraft::RaftMetrics<u64, Member>) -> RaftStatus {
        let role = match m.state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        let membership = m.membership_config.membership();
        RaftStatus {
            id: self.inner.id,
            role,
            leader: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            last_applied: m.last_applied.map_or(0, |l| l.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            millis_since_quorum_ack: m.millis_since_quorum_ack,
            replication: m
                .replication
                .as_ref()
                .map(|r| r.iter().map(|(id, l)| (*id, l.map(|l| l.index))).collect())
                .unwrap_or_default(),
            removed: self
                .inner
                .removed_in
                .load(std::sync::atomic::Ordering::SeqCst)
                > m.membership_config.log_id().map_or(0, |l| l.index),
            feature_level: self
                .inner
                .feature_level
                .load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Client requests that waited for a reachable leader and were then sent to it.
    pub fn held_requests(&self) -> u64 {
        self.inner
            .held_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Resolves when this member has become leader (or after `timeout`).
    pub async fn wait_leader(&self, timeout: Duration) -> bool {
        self.inner
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.state == ServerState::Leader, "leader")
            .await
            .is_ok()
    }

    /// Resolves when this member's role or the membership changes (or after `timeout`).
    pub async fn wait_role_or_membership_change(&self, timeout: Duration) {
        let before = {
            let m = self.inner.raft.metrics().borrow().clone();
            (m.state, m.membership_config.log_id().map(|l| l.index))
        };
        let _ = self
            .inner
            .raft
            .wait(Some(timeout))
            .metrics(
                |m| (m.state, m.membership_config.log_id().map(|l| l.index)) != before,
                "role or membership change",
            )
            .await;
    }

    /// Resolves when some leader is known (or after `timeout`).
    pub async fn wait_any_leader(&self, timeout: Duration) -> bool {
        self.inner
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "leader known")
            .await
            .is_ok()
    }

    pub async fn shutdown(&self) {
        let _ = self.inner.raft.shutdown().await;
    }
}
