//! The consensus handle used by the server: propose/forward writes, read barriers, membership.

use crate::log_store::LogStore;
use crate::network::{encode_frame, read_frame, Network, PeerRequest, PeerResponse, RpcConn};
use crate::state_machine::{ApplyHook, StateMachine};
use crate::types::*;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, Config, ServerState, SnapshotPolicy};
use parking_lot::{Mutex, RwLock};
use rzk_storage::{LogOptions, LogWriter, MetaStore, SnapshotOptions, SnapshotStore};
use rzk_tree::{CmdResult, DataTree, Entry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufWriter};
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
    /// Take a snapshot (and purge older log) after this many entries.
    pub snapshot_every: u64,
    /// How many snapshot files to keep (ZooKeeper's autopurge.snapRetainCount).
    pub snapshots_keep: usize,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: (u64, u64),
    /// Called on the leader with sessions that followers report as active.
    pub touch_sink: Arc<dyn Fn(&[i64]) + Send + Sync>,
}

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
    #[error("server {0} could not start an election: {1}")]
    ElectFailed(u64, String),
    #[error("no other member took over within {0:?}")]
    NotHandedOver(Duration),
}

/// A requested membership change (ZooKeeper incremental reconfig).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MembershipChange {
    /// Members to add or update; `true` = participant (voter), `false` = observer (learner).
    pub upsert: Vec<(u64, Member, bool)>,
    pub remove: Vec<u64>,
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

pub type Pending<T> = Pin<Box<dyn Future<Output = T> + Send>>;

type Reply = tokio::sync::oneshot::Sender<Result<(i64, CmdResult), ProposeError>>;

struct Inner {
    /// Leader-side group commit: queued writes become one Raft entry (see `batcher`).
    batch_tx: mpsc::UnboundedSender<(Entry, Reply)>,
    raft: Raft,
    id: u64,
    forward: Mutex<HashMap<u64, Arc<RpcConn>>>,
    touch_sink: Arc<dyn Fn(&[i64]) + Send + Sync>,
    reconfig: tokio::sync::Mutex<()>,
    /// Counts leadership transfers; only the latest one re-enables this member's elections.
    step_aside: std::sync::atomic::AtomicU64,
    /// Membership log index of a configuration without this member, learned from a forwarded
    /// reconfig's answer (0: none).
    removed_in: std::sync::atomic::AtomicU64,
    /// The batcher's in-flight slots; a leadership transfer holds them all so nothing new is
    /// proposed while the target catches up.
    slots: Arc<tokio::sync::Semaphore>,
}

/// A running Raft member holding the replicated [`DataTree`].
#[derive(Clone)]
pub struct RaftNode {
    inner: Arc<Inner>,
}

const INITIALIZED: &str = "initialized";
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

impl RaftNode {
    pub async fn start(
        cfg: RaftNodeConfig,
        tree: Arc<RwLock<DataTree>>,
        hook: Arc<dyn ApplyHook>,
    ) -> Result<Self, StartError> {
        let (log, report) =
            rzk_storage::LogStore::open(&cfg.dir.join("log"), LogOptions::default())?;
        tracing::info!(
            entries = report.entries,
            segments = report.segments,
            "raft log opened"
        );
        let meta = MetaStore::open(&cfg.dir.join("meta"))?;
        let initialized = meta.load(INITIALIZED)?.is_some();
        let snapshots = SnapshotStore::open(
            &cfg.dir.join("snapshots"),
            SnapshotOptions {
                keep: cfg.snapshots_keep.max(1),
            },
        )?;
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
            }),
        };
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
            let voters: BTreeMap<u64, Member> = cfg
                .members
                .iter()
                .filter(|(id, _)| !cfg.observers.contains(id))
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            let bootstrapper = voters.keys().next() == Some(&cfg.node_id);
            if !bootstrapper {
                meta.save(INITIALIZED, b"joined")?;
            } else if voters.len() == 1 {
                node.initialize(voters, &meta).await?;
            } else {
                let n = node.clone();
                tokio::spawn(async move {
                    if let Err(e) = n
                        .bootstrap(voters, cfg.members.clone(), cfg.observers.clone(), meta)
                        .await
                    {
                        tracing::error!(error = %e, "bootstrap failed");
                    }
                });
            }
        }
        Ok(node)
    }

    async fn initialize(
        &self,
        voters: BTreeMap<u64, Member>,
        meta: &MetaStore,
    ) -> Result<(), StartError> {
        match self.inner.raft.initialize(voters).await {
            Ok(()) => tracing::info!("initialized a new ensemble"),
            Err(e) => tracing::info!(error = %e, "initialize skipped"),
        }
        meta.save(INITIALIZED, b"bootstrapped")?;
        Ok(())
    }

    /// Waits until a majority of the configured voters are reachable and none of them has joined a
    /// cluster yet, then initializes. If any has, this member joins instead.
    async fn bootstrap(
        &self,
        voters: BTreeMap<u64, Member>,
        all: BTreeMap<u64, Member>,
        observers: BTreeSet<u64>,
        meta: MetaStore,
    ) -> Result<(), StartError> {
        loop {
            if self.inner.raft.is_initialized().await.unwrap_or(false) {
                meta.save(INITIALIZED, b"joined")?;
                return Ok(());
            }
            let mut reachable = 1;
            let mut someone_initialized = false;
            for (id, m) in &voters {
                if *id == self.inner.id {
                    continue;
                }
                let conn = RpcConn::new(m.quorum_addr.clone());
                if let Ok(PeerResponse::Status { initialized }) = conn
                    .call(&PeerRequest::Status, Duration::from_secs(1))
                    .await
                {
                    reachable += 1;
                    someone_initialized |= initialized;
                }
            }
            if someone_initialized {
                tracing::info!(
                    "another member already belongs to a cluster; joining instead of initializing"
                );
                meta.save(INITIALIZED, b"joined")?;
                return Ok(());
            }
            if reachable * 2 > voters.len() {
                self.initialize(voters.clone(), &meta).await?;
                if !observers.is_empty() && self.wait_leader(Duration::from_secs(30)).await {
                    for id in &observers {
                        if let Some(m) = all.get(id) {
                            // The initial membership must commit before another change is accepted.
                            for attempt in 0..50 {
                                match self.inner.raft.add_learner(*id, m.clone(), false).await {
                                    Ok(_) => break,
                                    Err(e) if attempt == 49 => {
                                        tracing::warn!(id, error = %e, "adding observer failed")
                                    }
                                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                                }
                            }
                        }
                    }
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }

    fn leader_conn(&self) -> Result<(u64, Arc<RpcConn>), ProposeError> {
        let m = self.inner.raft.metrics().borrow().clone();
        let leader = m.current_leader.ok_or(ProposeError::NoLeader)?;
        let node = m
            .membership_config
            .membership()
            .get_node(&leader)
            .cloned()
            .ok_or(ProposeError::NoLeader)?;
        let mut f = self.inner.forward.lock();
        let conn = f
            .entry(leader)
            .or_insert_with(|| Arc::new(RpcConn::new(node.quorum_addr.clone())))
            .clone();
        Ok((leader, conn))
    }

    fn is_leader(&self) -> bool {
        self.inner.raft.metrics().borrow().state == ServerState::Leader
    }

    /// Queues `entry` for the next batch. The queue is FIFO, so calls keep their order.
    async fn propose_local(&self, entry: Entry) -> Pending<Result<(i64, CmdResult), ProposeError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.inner.batch_tx.send((entry, tx)).is_err() {
            return Box::pin(async { Err(ProposeError::Fatal("proposal queue closed".into())) });
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(ProposeError::Fatal("proposal dropped".into())))
        })
    }

    /// Submits a write: proposed here when leader, else forwarded to the leader. The entry is queued
    /// (locally or on the ordered forward connection) before this returns, so a caller's writes keep
    /// their order. The returned future resolves once the entry is applied on THIS member.
    pub async fn submit(&self, entry: Entry) -> Pending<Result<(i64, CmdResult), ProposeError>> {
        if self.is_leader() {
            return self.propose_local(entry).await;
        }
        let (leader, conn) = match self.leader_conn() {
            Ok(c) => c,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let rx = conn.send(&PeerRequest::Propose(entry)).await;
        let me = self.clone();
        Box::pin(async move {
            let rx = rx.map_err(|e| ProposeError::Forward(e.to_string()))?;
            match conn
                .wait(rx, FORWARD_TIMEOUT)
                .await
                .map_err(|e| ProposeError::Forward(e.to_string()))?
            {
                PeerResponse::Propose(Ok((zxid, r))) => {
                    me.wait_applied(index_of(zxid)).await?;
                    Ok((zxid, r))
                }
                PeerResponse::Propose(Err(e)) => Err(e),
                _ => Err(ProposeError::Forward(format!(
                    "unexpected answer from leader {leader}"
                ))),
            }
        })
    }

    async fn wait_applied(&self, index: u64) -> Result<(), ProposeError> {
        self.inner
            .raft
            .wait(Some(FORWARD_TIMEOUT))
            .applied_index_at_least(Some(index), "apply forwarded write")
            .await
            .map(|_| ())
            .map_err(|e| ProposeError::Fatal(e.to_string()))
    }

    /// ZooKeeper `sync`: once this resolves, this member has applied everything the leader had
    /// committed when it was called. Returns the index waited for.
    pub async fn read_barrier(&self) -> Result<i64, ProposeError> {
        let index = if self.is_leader() {
            // openraft confirms leadership with one heartbeat round whose deadline is the heartbeat
            // interval; a slow round on a busy machine is not a lost quorum, so retry a few times.
            let mut attempt = 0;
            loop {
                match self.inner.raft.ensure_linearizable().await {
                    Ok(l) => break l.map_or(0, |l| l.index),
                    Err(RaftError::APIError(
                        openraft::error::CheckIsLeaderError::ForwardToLeader(f),
                    )) => {
                        return Err(ProposeError::NotLeader {
                            leader: f.leader_id,
                        })
                    }
                    Err(RaftError::APIError(
                        openraft::error::CheckIsLeaderError::QuorumNotEnough(_),
                    )) if attempt < 10 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(ProposeError::Fatal(e.to_string())),
                }
            }
        } else {
            let (_, conn) = self.leader_conn()?;
            match conn
                .call(&PeerRequest::ReadIndex, FORWARD_TIMEOUT)
                .await
                .map_err(|e| ProposeError::Forward(e.to_string()))?
            {
                PeerResponse::ReadIndex(r) => r? as u64,
                _ => {
                    return Err(ProposeError::Forward(
                        "unexpected answer to ReadIndex".into(),
                    ))
                }
            }
        };
        self.wait_applied(index).await?;
        Ok(index as i64)
    }

    /// Tells the leader these sessions were active here (no-op on the leader itself).
    pub async fn report_touches(&self, sessions: Vec<i64>) {
        if sessions.is_empty() {
            return;
        }
        if self.is_leader() {
            (self.inner.touch_sink)(&sessions);
            return;
        }
        if let Ok((_, conn)) = self.leader_conn() {
            let _ = conn
                .call(&PeerRequest::Touch(sessions), Duration::from_secs(2))
                .await;
        }
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

    /// Applies an incremental membership change (ZooKeeper reconfig), forwarding to the leader if needed.
    /// Sends a reconfig to the leader; answers once this member has applied the new configuration
    /// (unless it is no longer in it).
    async fn forward_reconfig(
        &self,
        change: MembershipChange,
    ) -> Result<MembersView, ReconfigError> {
        let (_, conn) = self.leader_conn()?;
        match conn
            .call(&PeerRequest::Reconfig(change), Duration::from_secs(120))
            .await
            .map_err(|e| ProposeError::Forward(e.to_string()))?
        {
            PeerResponse::Reconfig(r) => {
                if let Ok(v) = &r {
                    // A member that was just removed may never see the final config entry.
                    if v.voters.contains_key(&self.inner.id)
                        || v.learners.contains_key(&self.inner.id)
                    {
                        let _ = self.wait_applied(v.version).await;
                    } else {
                        self.inner
                            .removed_in
                            .fetch_max(v.version, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                r
            }
            _ => Err(ReconfigError::Failed(
                "unexpected answer to Reconfig".into(),
            )),
        }
    }

    pub async fn reconfigure(
        &self,
        change: MembershipChange,
    ) -> Result<MembersView, ReconfigError> {
        if !self.is_leader() {
            return self.forward_reconfig(change).await;
        }
        self.reconfigure_as_leader(change, true).await
    }

    async fn reconfigure_as_leader(
        &self,
        change: MembershipChange,
        hand_over: bool,
    ) -> Result<MembersView, ReconfigError> {
        let _one_at_a_time = self
            .inner
            .reconfig
            .try_lock()
            .map_err(|_| ReconfigError::InProgress)?;
        let raft = &self.inner.raft;
        let cur = self.members();
        let mut voters: BTreeSet<u64> = cur.voters.keys().copied().collect();
        let mut all: BTreeSet<u64> = voters.iter().chain(cur.learners.keys()).copied().collect();
        for id in &change.remove {
            if !all.contains(id) {
                return Err(ReconfigError::BadArguments(format!(
                    "server {id} is not a member"
                )));
            }
            voters.remove(id);
            all.remove(id);
        }
        for (id, _, voter) in &change.upsert {
            all.insert(*id);
            if *voter {
                voters.insert(*id);
            } else {
                voters.remove(id);
            }
        }
        if voters.is_empty() {
            return Err(ReconfigError::BadArguments(
                "the new configuration has no participants".into(),
            ));
        }
        // A leader that leaves the voters hands leadership to a synced member of the new voter set
        // first, and that member makes the change: openraft 0.9 panics when a leader that removed
        // itself is later added back ("Only leader is allowed to call update_effective_membership").
        let me = self.inner.id;
        if hand_over && !voters.contains(&me) {
            if let Some(to) = self.best_transfer_target(|v| voters.contains(&v)) {
                drop(_one_at_a_time);
                match self.transfer_leadership(to, Duration::from_secs(10)).await {
                    Ok(_) => return self.forward_reconfig(change).await,
                    Err(e) => {
                        tracing::warn!(to, error = %e, "no hand-over before leaving the voters; making the change as leader");
                        if !self.is_leader() {
                            return Err(ReconfigError::Propose(ProposeError::NotLeader {
                                leader: None,
                            }));
                        }
                    }
                }
                return Box::pin(self.reconfigure_as_leader(change, false)).await;
            }
        }
        // New members first catch up as learners.
        for (id, m, _) in &change.upsert {
            let known = cur.voters.get(id).or(cur.learners.get(id));
            if known != Some(m) {
                raft.add_learner(*id, m.clone(), true)
                    .await
                    .map_err(map_change_err)?;
            }
        }
        // The new voter set must have a majority that is up to date (leader + synced followers that
        // answer right now: replication progress alone does not show that a follower died).
        // Replication metrics trail the catch-up above a little: give them a moment first.
        let me = self.inner.id;
        let _ = raft
            .wait(Some(Duration::from_secs(2)))
            .metrics(
                |m| {
                    let synced = self.status_of(m).synced(100);
                    voters.iter().filter(|v| synced.contains(v)).count()
                        + usize::from(voters.contains(&me))
                        > voters.len() / 2
                },
                "new voters synced",
            )
            .await;
        let st = self.status();
        let synced: BTreeSet<u64> = st.synced(100).into_iter().collect();
        let mut ok = usize::from(voters.contains(&self.inner.id));
        let all_nodes: BTreeMap<u64, Member> = cur
            .voters
            .iter()
            .chain(cur.learners.iter())
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for v in voters
            .iter()
            .filter(|v| **v != self.inner.id && synced.contains(v))
        {
            let addr = change
                .upsert
                .iter()
                .find(|(id, _, _)| id == v)
                .map(|(_, m, _)| m.quorum_addr.clone())
                .or_else(|| all_nodes.get(v).map(|m| m.quorum_addr.clone()));
            if let Some(addr) = addr {
                if let Ok(PeerResponse::Status { .. }) = RpcConn::new(addr)
                    .call(&PeerRequest::Status, Duration::from_secs(1))
                    .await
                {
                    ok += 1;
                }
            }
        }
        if ok * 2 <= voters.len() {
            return Err(ReconfigError::NoQuorum);
        }
        let gone: BTreeSet<u64> = change.remove.iter().copied().collect();
        let demoted = change
            .upsert
            .iter()
            .any(|(id, _, voter)| !voter && cur.voters.contains_key(id));
        if voters != cur.voters.keys().copied().collect() {
            // Without demotions one joint change also drops the removed voters entirely (retain =
            // false), which still works when the leader removes itself and steps down afterwards.
            raft.change_membership(ChangeMembers::ReplaceAllVoters(voters.clone()), demoted)
                .await
                .map_err(map_change_err)?;
        }
        let still_there: BTreeSet<u64> = {
            let now = self.members();
            gone.iter()
                .copied()
                .filter(|id| now.voters.contains_key(id) || now.learners.contains_key(id))
                .collect()
        };
        if !still_there.is_empty() && self.is_leader() {
            raft.change_membership(ChangeMembers::RemoveNodes(still_there), false)
                .await
                .map_err(map_change_err)?;
        }
        Ok(self.members())
    }

    pub fn status(&self) -> RaftStatus {
        self.status_of(&self.inner.raft.metrics().borrow())
    }

    /// [`RaftStatus`] from one metrics snapshot (also inside `raft.wait().metrics(..)` conditions).
    fn status_of(&self, m: &openraft::RaftMetrics<u64, Member>) -> RaftStatus {
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
        }
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

    /// Starts an election on this member now. Used to move leadership away from a leader that is
    /// about to restart (openraft 0.9 has no leader transfer): a caught-up follower that calls an
    /// election with a higher term makes the old leader step down.
    pub async fn trigger_election(&self) -> Result<(), String> {
        if self.is_leader() {
            return Err("this member is the leader".into());
        }
        self.inner
            .raft
            .trigger()
            .elect()
            .await
            .map_err(|e| e.to_string())
    }

    /// The voter (other than this leader, and `eligible`) with the most of the log: the best
    /// transfer target.
    pub fn best_transfer_target(&self, eligible: impl Fn(u64) -> bool) -> Option<u64> {
        let st = self.status();
        st.replication
            .iter()
            .filter(|(id, _)| **id != st.id && st.voters.contains(id) && eligible(**id))
            .max_by_key(|(id, m)| (m.unwrap_or(0), std::cmp::Reverse(**id)))
            .map(|(id, _)| *id)
    }

    /// Hands leadership to voter `to` (openraft 0.9 has no leader transfer, so this builds one):
    /// this leader stops proposing (queued writes wait) and stops standing for election, waits until
    /// `to` has its whole log, asks `to` to start an election (which it wins with an up-to-date log;
    /// this leader steps down when it sees the higher term), and waits until another member leads.
    /// Another member than `to` may win when a follower's leader lease refuses `to` its vote (five
    /// and more voters); this member never wins it back within `window`. Returns the new leader.
    pub async fn transfer_leadership(
        &self,
        to: u64,
        window: Duration,
    ) -> Result<u64, TransferError> {
        use std::sync::atomic::Ordering;
        const CATCH_UP: Duration = Duration::from_secs(3);
        const STEP_DOWN: Duration = Duration::from_secs(3);
        let me = self.inner.id;
        let m = self.inner.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            return Err(TransferError::NotLeader);
        }
        let membership = m.membership_config.membership();
        if to == me || !membership.voter_ids().any(|v| v == to) {
            return Err(TransferError::NotAVoter(to));
        }
        let addr = membership
            .get_node(&to)
            .map(|n| n.quorum_addr.clone())
            .ok_or(TransferError::NotAVoter(to))?;
        let gen = self.inner.step_aside.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.raft.runtime_config().elect(false);
        tracing::info!(
            to,
            "transferring leadership: proposals paused until server {to} has the whole log"
        );
        let result = async {
            // Holding every slot: the batches in flight have committed, no new one starts.
            let _paused = tokio::time::timeout(CATCH_UP, self.inner.slots.acquire_many(IN_FLIGHT))
                .await
                .map_err(|_| TransferError::Behind(to, CATCH_UP))?
                .map_err(|_| TransferError::NotLeader)?;
            let caught_up = self
                .inner
                .raft
                .wait(Some(CATCH_UP))
                .metrics(
                    |m| self.status_of(m).synced(0).contains(&to),
                    "transfer target caught up",
                )
                .await
                .is_ok();
            if !caught_up {
                return Err(TransferError::Behind(to, CATCH_UP));
            }
            match RpcConn::new(addr)
                .call(&PeerRequest::Elect, Duration::from_secs(2))
                .await
            {
                Ok(PeerResponse::Elect(Ok(()))) => {}
                Ok(PeerResponse::Elect(Err(e))) => return Err(TransferError::ElectFailed(to, e)),
                Ok(_) => return Err(TransferError::ElectFailed(to, "unexpected answer".into())),
                Err(e) => return Err(TransferError::ElectFailed(to, e.to_string())),
            }
            // Writes stay paused only until this member has stepped down.
            let stepped_down = self
                .inner
                .raft
                .wait(Some(STEP_DOWN))
                .metrics(|m| m.state != ServerState::Leader, "stepped down")
                .await
                .is_ok();
            drop(_paused);
            if !stepped_down {
                return Err(TransferError::NotHandedOver(STEP_DOWN));
            }
            self.inner
                .raft
                .wait(Some(window))
                .metrics(
                    |m| m.current_leader.is_some_and(|l| l != me),
                    "another leader",
                )
                .await
                .map(|m| m.current_leader.unwrap_or(to))
                .map_err(|_| TransferError::NotHandedOver(window))
        }
        .await;
        // (slots released) queued writes go on: the new leader refuses them (the writer's client
        // reconnects and retries), or this leader proposes them if nothing changed.
        if self.inner.step_aside.load(Ordering::SeqCst) == gen {
            self.inner.raft.runtime_config().elect(true);
        }
        match &result {
            Ok(l) => tracing::info!(to, new_leader = l, "leadership transferred"),
            Err(e) => tracing::warn!(to, error = %e, "leadership transfer failed"),
        }
        result
    }

    pub async fn shutdown(&self) {
        let _ = self.inner.raft.shutdown().await;
    }
}

fn map_change_err(e: RaftError<u64, ClientWriteError<u64, Member>>) -> ReconfigError {
    match e {
        RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
            let s = c.to_string();
            if s.contains("progress") {
                ReconfigError::InProgress
            } else {
                ReconfigError::Failed(s)
            }
        }
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
            ReconfigError::Propose(ProposeError::NotLeader {
                leader: f.leader_id,
            })
        }
        other => ReconfigError::Failed(other.to_string()),
    }
}

/// Accepts peer connections and answers their requests.
async fn serve_peers(node: RaftNode, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let node = node.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    if let Err(e) = handle_peer(node, stream).await {
                        tracing::debug!(%peer, error = %e, "peer connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "peer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle_peer(node: RaftNode, stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let (mut rd, wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        let mut wr = BufWriter::new(wr);
        while let Some(f) = rx.recv().await {
            if wr.write_all(&f).await.is_err() {
                break;
            }
            if rx.is_empty() && wr.flush().await.is_err() {
                break;
            }
        }
    });
    let raft = node.inner.raft.clone();
    while let Some((id, body)) = read_frame(&mut rd).await? {
        let req: PeerRequest = match postcard::from_bytes(&body) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable peer request; closing");
                break;
            }
        };
        let send = |tx: &mpsc::UnboundedSender<Vec<u8>>, resp: PeerResponse| {
            let _ = tx.send(encode_frame(id, &resp));
        };
        match req {
            PeerRequest::Append(r) => send(&tx, PeerResponse::Append(raft.append_entries(r).await)),
            PeerRequest::Vote(r) => send(&tx, PeerResponse::Vote(raft.vote(r).await)),
            PeerRequest::Snapshot(r) => {
                send(&tx, PeerResponse::Snapshot(raft.install_snapshot(r).await))
            }
            PeerRequest::Status => {
                let initialized = raft.is_initialized().await.unwrap_or(false);
                send(&tx, PeerResponse::Status { initialized })
            }
            PeerRequest::Elect => {
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let r = node.trigger_election().await;
                    let _ = tx.send(encode_frame(id, &PeerResponse::Elect(r)));
                });
            }
            PeerRequest::Touch(s) => {
                (node.inner.touch_sink)(&s);
                send(&tx, PeerResponse::Touched)
            }
            PeerRequest::Propose(e) => {
                // Queue now (keeps the forwarder's order), answer when applied.
                let fut = if node.is_leader() {
                    node.propose_local(e).await
                } else {
                    Box::pin(async { Err(ProposeError::NotLeader { leader: None }) })
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(encode_frame(id, &PeerResponse::Propose(fut.await)));
                });
            }
            PeerRequest::ReadIndex => {
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let r = if node.is_leader() {
                        node.read_barrier().await
                    } else {
                        Err(ProposeError::NotLeader { leader: None })
                    };
                    let _ = tx.send(encode_frame(id, &PeerResponse::ReadIndex(r)));
                });
            }
            PeerRequest::Reconfig(c) => {
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let r = if node.is_leader() {
                        node.reconfigure(c).await
                    } else {
                        Err(ReconfigError::Propose(ProposeError::NotLeader {
                            leader: None,
                        }))
                    };
                    let _ = tx.send(encode_frame(id, &PeerResponse::Reconfig(r)));
                });
            }
        }
    }
    drop(tx);
    let _ = writer.await;
    Ok(())
}

/// Group commit on the leader: while up to `IN_FLIGHT` batches are being replicated and fsynced,
/// new writes queue up; each time a slot frees, everything queued (up to `MAX_BATCH`) becomes ONE
/// Raft entry. openraft 0.9 flushes one append at a time, so this is what lets many concurrent
/// writes share an fsync.
const IN_FLIGHT: u32 = 2;

async fn batcher(
    raft: Raft,
    mut rx: mpsc::UnboundedReceiver<(Entry, Reply)>,
    slots: Arc<tokio::sync::Semaphore>,
) {
    while let Some(first) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut entries = vec![first.0];
        let mut replies = vec![first.1];
        while entries.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((e, r)) => {
                    entries.push(e);
                    replies.push(r);
                }
                Err(_) => break,
            }
        }
        let sent = raft.client_write_ff(entries).await;
        tokio::spawn(async move {
            let result = match sent {
                Err(e) => Err(ProposeError::Fatal(e.to_string())),
                Ok(rx) => match rx.await {
                    Ok(Ok(resp)) => Ok((resp.log_id.index, resp.data)),
                    Ok(Err(ClientWriteError::ForwardToLeader(f))) => Err(ProposeError::NotLeader {
                        leader: f.leader_id,
                    }),
                    Ok(Err(e)) => Err(ProposeError::Fatal(e.to_string())),
                    Err(e) => Err(ProposeError::Fatal(e.to_string())),
                },
            };
            drop(permit);
            match result {
                Ok((index, results)) => {
                    let mut results = results.into_iter();
                    for (pos, reply) in replies.into_iter().enumerate() {
                        let r = results
                            .next()
                            .ok_or_else(|| ProposeError::Fatal("missing result in batch".into()));
                        let _ = reply.send(r.map(|r| (zxid_of(index, pos), r)));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}
