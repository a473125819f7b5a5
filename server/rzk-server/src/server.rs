//! The running server: shared state, the apply hook that fires watches, session expiry and reaping.

use crate::stats::Stats;
use crate::watches::{ConnId, WatchManager};
use parking_lot::{Mutex, RwLock};
use rzk_config::ServerConfig;
use rzk_proto::consts::{event_type, keeper_state, xid};
use rzk_proto::records::{ReplyHeader, WatcherEvent};
use rzk_proto::{Jute, Writer};
use rzk_raft::{ApplyHook, RaftNode, RaftNodeConfig, Role};
use rzk_tree::{Command, DataTree, Entry, WatchEvent};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Frames for a connection's writer task.
pub enum Out {
    Frame(Vec<u8>),
    /// Flush what is queued, then close the socket.
    Close,
}

/// What the server knows about a live client connection (for notifications, `cons`, expiry).
pub struct ConnInfo {
    pub tx: mpsc::UnboundedSender<Out>,
    pub session_id: i64,
    pub peer: SocketAddr,
    pub established: SystemTime,
    pub received: AtomicU64,
    pub sent: AtomicU64,
    pub last_zxid: AtomicU64,
    pub timeout_ms: i32,
    /// A read-only session (readonly.rs): writes get NotReadOnly; closed when the quorum is back.
    pub read_only: bool,
    /// Set when the client itself sent closeSession: its reply must go out before the socket closes.
    pub closing: std::sync::atomic::AtomicBool,
    pub detail: Mutex<ConnDetail>,
}

/// Last-operation details printed by `cons`.
#[derive(Default, Clone)]
pub struct ConnDetail {
    pub lop: &'static str,
    pub lcxid: i32,
    pub lzxid: i64,
    pub lresp_ms: i64,
    pub llat_ms: u64,
    pub min_ms: u64,
    pub max_ms: u64,
    pub total_ms: u64,
    pub count: u64,
}

/// ZooKeeper's four-letter abbreviation of an opcode in `cons` output.
pub fn op_abbrev(opc: i32) -> &'static str {
    use rzk_proto::consts::op::*;
    match opc {
        CREATE | CREATE2 | CREATE_CONTAINER | CREATE_TTL => "CREA",
        DELETE => "DELE",
        EXISTS => "EXIS",
        GET_DATA => "GETD",
        SET_DATA => "SETD",
        GET_ACL => "GETA",
        SET_ACL => "SETA",
        GET_CHILDREN | GET_CHILDREN2 => "GETC",
        SYNC => "SYNC",
        PING => "PING",
        MULTI | MULTI_READ => "MULT",
        CHECK => "CHEC",
        AUTH => "AUTH",
        SET_WATCHES | SET_WATCHES2 => "SETW",
        ADD_WATCH => "ADDW",
        REMOVE_WATCHES => "REMW",
        CHECK_WATCHES => "CHKW",
        CLOSE_SESSION => "CLOS",
        GET_EPHEMERALS => "GETE",
        GET_ALL_CHILDREN_NUMBER => "GETN",
        WHO_AM_I => "WHOA",
        _ => "NA",
    }
}

pub struct Shared {
    pub cfg: Arc<ServerConfig>,
    pub tree: Arc<RwLock<DataTree>>,
    pub raft: OnceLock<RaftNode>,
    pub watches: Mutex<WatchManager>,
    pub conns: Mutex<HashMap<ConnId, Arc<ConnInfo>>>,
    /// Last time each session was heard from on this server (expiry input on the leader).
    pub touches: Mutex<HashMap<i64, Instant>>,
    /// Sessions active here since the last report to the leader (followers).
    pub touched: Mutex<std::collections::HashSet<i64>>,
    /// Sessions for which a close has been proposed, so expiry proposes it only once.
    pub closing: Mutex<HashMap<i64, Instant>>,
    /// (term, first seen) of this member's current leadership, while no quorum ack is known yet.
    leading_since: Mutex<Option<(u64, Instant)>>,
    pub stats: Stats,
    /// `audit.enable`: audit.rs.
    pub audit: crate::audit::AuditLog,
    /// `readonlymode.enabled`: readonly.rs.
    pub read_only: crate::readonly::ReadOnlyMode,
    /// `globalOutstandingLimit` / `requestThrottleLimit`: throttle.rs.
    pub throttle: crate::throttle::Throttle,
    pub next_conn: AtomicU64,
    pub started: Instant,
    session_seq: AtomicU64,
    pub server_id: u64,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A framed notification for `ev` (xid -1, zxid -1).
pub fn notification_frame(ev: &WatchEvent) -> Vec<u8> {
    let mut w = Writer::framed();
    ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    }
    .encode(&mut w);
    WatcherEvent {
        typ: ev.typ,
        state: keeper_state::SYNC_CONNECTED,
        path: ev.path.clone(),
    }
    .encode(&mut w);
    w.finish_frame()
}

struct Hook(Arc<Shared>);

impl ApplyHook for Hook {
    fn applied(&self, _zxid: i64, entry: Option<&Entry>, events: &[WatchEvent]) {
        let s = &self.0;
        if !events.is_empty() {
            let mut watches = s.watches.lock();
            let conns = s.conns.lock();
            for ev in events {
                let targets = watches.trigger(&ev.path, ev.typ);
                if targets.is_empty() {
                    continue;
                }
                let frame = notification_frame(ev);
                for c in targets {
                    if let Some(ci) = conns.get(&c) {
                        let _ = ci.tx.send(Out::Frame(frame.clone()));
                        s.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if let Some(Entry {
            cmd: Command::CloseSession { session_id },
            ..
        }) = entry
        {
            if s.audit.enabled() {
                // The session's ephemerals, deleted by the server (every member logs them).
                for ev in events.iter().filter(|e| e.typ == event_type::NODE_DELETED) {
                    s.audit.system(
                        Some(*session_id),
                        crate::audit::OP_EPHEMERAL_DELETED,
                        Some(&ev.path),
                        crate::audit::Outcome::Success,
                    );
                }
            }
            s.touches.lock().remove(session_id);
            s.closing.lock().remove(session_id);
            for ci in s.conns.lock().values() {
                if ci.session_id == *session_id && !ci.closing.load(Ordering::Relaxed) {
                    let _ = ci.tx.send(Out::Close);
                }
            }
        }
    }
}

impl Shared {
    pub fn raft(&self) -> &RaftNode {
        self.raft
            .get()
            .expect("raft is started before connections are accepted")
    }

    /// ZooKeeper-style session id: server id in the top byte, then a time-based counter.
    pub fn new_session_id(&self) -> i64 {
        let seq = self.session_seq.fetch_add(1, Ordering::Relaxed);
        let base = ((now_ms() as u64) << 24) >> 8;
        ((self.server_id << 56) | base).wrapping_add(seq) as i64
    }

    pub fn touch(&self, session: i64) {
        if session != 0 {
            self.touches.lock().insert(session, Instant::now());
            if self.cfg.is_distributed() {
                self.touched.lock().insert(session);
            }
        }
    }

    /// What this server is now (one word for srvr, mntr, the admin JSON and /metrics).
    pub fn role(&self) -> crate::report::Role {
        let st = self.raft.get().map(|r| r.status());
        crate::report::Role::of(self.cfg.is_distributed(), st.as_ref())
    }

    /// Whether this member may serve clients: standalone, or part of a live quorum (a follower
    /// that knows its leader, or a leader that heard from a quorum recently), as a ZooKeeper
    /// server outside LOOKING state.
    pub fn serving(&self) -> bool {
        if !self.cfg.is_distributed() {
            return true;
        }
        let Some(r) = self.raft.get() else {
            return false;
        };
        let st = r.status();
        if !Self::member(&st) {
            // Not (or no longer) a member: e.g. removed by reconfig, or not yet added.
            return false;
        }
        if self
            .tree
            .read()
            .node("/zookeeper/config")
            .is_none_or(|n| n.data.as_ref().is_none_or(|d| d.is_empty()))
        {
            // A new ensemble serves once its membership is visible at /zookeeper/config.
            return false;
        }
        match st.role {
            Role::Leader => {
                let limit = (self.cfg.sync_limit as u64 * self.cfg.tick_time as u64).max(1000);
                match st.millis_since_quorum_ack {
                    Some(ms) => ms <= limit || st.voters.len() == 1,
                    // Just elected, no heartbeat round answered yet: serving for up to the same limit
                    // (dropping every client at each election would turn a hand-over into an outage).
                    None => {
                        let mut since = self.leading_since.lock();
                        let (term, t0) = *since.get_or_insert((st.term, Instant::now()));
                        if term != st.term {
                            *since = Some((st.term, Instant::now()));
                            true
                        } else {
                            st.voters.len() == 1 || t0.elapsed().as_millis() as u64 <= limit
                        }
                    }
                }
            }
            Role::Follower | Role::Learner => st.leader.is_some(),
            _ => false,
        }
    }

    fn member(st: &rzk_raft::RaftStatus) -> bool {
        !st.removed && (st.voters.contains(&st.id) || st.learners.contains(&st.id))
    }

    /// Whether this server is a member of its ensemble's configuration (always when standalone).
    pub fn is_member(&self) -> bool {
        !self.cfg.is_distributed() || self.raft.get().is_some_and(|r| Self::member(&r.status()))
    }

    pub fn is_leader(&self) -> bool {
        self.raft
            .get()
            .is_some_and(|r| r.status().role == Role::Leader)
    }
}

/// Starts replication and the background duties; returns the shared state for the listeners.
pub async fn start(cfg: Arc<ServerConfig>) -> anyhow::Result<Arc<Shared>> {
    let server_id = cfg.server_id.unwrap_or(1);
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        tree: Arc::new(RwLock::new({
            let mut t = DataTree::new();
            t.set_enforce_quota(cfg.enforce_quota);
            t
        })),
        raft: OnceLock::new(),
        watches: Mutex::new(WatchManager::default()),
        conns: Mutex::new(HashMap::new()),
        touches: Mutex::new(HashMap::new()),
        touched: Mutex::new(std::collections::HashSet::new()),
        closing: Mutex::new(HashMap::new()),
        leading_since: Mutex::new(None),
        stats: Stats::new(),
        audit: crate::audit::AuditLog::new(
            cfg.audit_enable,
            cfg.rzk_knob("auditLogFile").map(std::path::Path::new),
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the audit log file (rzk.auditLogFile={}): {e}",
                cfg.rzk_knob("auditLogFile").unwrap_or_default()
            )
        })?,
        read_only: Default::default(),
        throttle: crate::throttle::Throttle::new(&cfg),
        next_conn: AtomicU64::new(1),
        started: Instant::now(),
        session_seq: AtomicU64::new(0),
        server_id: server_id & 0x7f,
    });
    let dir = cfg.data_log_dir.join("rzk");
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", dir.display()))?;
    let mut members = BTreeMap::new();
    let mut observers = std::collections::BTreeSet::new();
    let client = cfg.client_address().unwrap_or(("127.0.0.1".into(), 2181));
    let distributed = cfg.is_distributed();
    if !distributed {
        members.insert(
            server_id,
            rzk_raft::Member {
                quorum_addr: String::new(),
                election_port: 0,
                client_addr: format!("{}:{}", client.0, client.1),
            },
        );
    } else {
        for (id, sp) in &cfg.servers {
            let ca = sp
                .client_addr
                .clone()
                .unwrap_or_else(|| (sp.host.clone(), client.1));
            members.insert(*id, member_of(sp, &ca));
            if sp.role == rzk_config::PeerRole::Observer {
                observers.insert(*id);
            }
        }
    }
    let listen = if distributed {
        let me = cfg.my_server().ok_or_else(|| {
            anyhow::anyhow!("this server (myid {server_id}) has no server.N line")
        })?;
        let host = if cfg.quorum_listen_on_all_ips {
            "0.0.0.0".to_string()
        } else {
            me.host.clone()
        };
        Some(format!(
            "{}:{}",
            rzk_config::bracket_host(&host),
            me.quorum_port
        ))
    } else {
        None
    };
    // ZooKeeper's snapshot triggers (transactions, log size); rzk.snapshotEveryEntries switches
    // to counting Raft entries instead (tests).
    let snapshot = rzk_raft::SnapshotPolicy {
        snap_count: cfg.snap_count.max(2) as u64,
        size_limit_bytes: (cfg.snap_size_limit_kb > 0)
            .then(|| (cfg.snap_size_limit_kb as u64).saturating_mul(1024)),
        every_entries: cfg
            .rzk_knob("snapshotEveryEntries")
            .and_then(|v| v.parse::<u64>().ok())
            .map(|n| n.max(100)),
    };
    let log_cache_bytes = cfg
        .rzk_knob("logCacheBytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(16 * 1024 * 1024);
    let tick = cfg.tick_time as u64;
    let sink = {
        let weak = Arc::downgrade(&shared);
        Arc::new(move |ids: &[i64]| {
            if let Some(s) = weak.upgrade() {
                let now = Instant::now();
                let mut t = s.touches.lock();
                for id in ids {
                    t.insert(*id, now);
                }
            }
        }) as Arc<dyn Fn(&[i64]) + Send + Sync>
    };
    let hb = (tick / 3).clamp(100, 700);
    let el_min = (tick * 2 / 5).clamp(250, 1200).max(hb + 50);
    let el_max = (tick * 3 / 5).clamp(400, 1800).max(el_min + 100);
    let raft_cfg = RaftNodeConfig {
        node_id: server_id,
        dir,
        members,
        observers,
        listen,
        snapshot,
        log_cache_bytes,
        snapshots_keep: cfg.snap_retain_count.max(3) as usize,
        // openraft 0.9 uses the heartbeat interval as the AppendEntries deadline, so it must cover a
        // peer round trip plus a follower fsync under load; elections follow after lease + timeout.
        // tickTime/3 tolerates peer round trips up to ~tickTime/4 (ZooKeeper's rule of thumb);
        // followers wait lease (= election max) + election timeout before campaigning.
        heartbeat_ms: hb,
        election_timeout_ms: (el_min, el_max),
        // Long enough to wait out a leader's death and the election after it (followers notice
        // after lease + election timeout, then vote), shorter than the quorum watchdog's wait.
        hold_without_leader: Duration::from_millis(el_max * 2 + hb * 2),
        touch_sink: sink,
    };
    let raft = RaftNode::start(
        raft_cfg,
        shared.tree.clone(),
        Arc::new(Hook(shared.clone())),
    )
    .await?;
    let _ = shared.raft.set(raft.clone());
    if !distributed && !raft.wait_leader(Duration::from_secs(10)).await {
        anyhow::bail!("single-node replication did not become leader within 10s");
    }
    tokio::spawn(expiry_loop(shared.clone()));
    tokio::spawn(reaper_loop(shared.clone()));
    if distributed {
        tokio::spawn(quorum_watchdog(shared.clone()));
        tokio::spawn(touch_report_loop(shared.clone()));
        tokio::spawn(config_node_loop(shared.clone()));
    }
    Ok(shared)
}

/// Leader duty: close sessions not heard from within their timeout.
async fn expiry_loop(s: Arc<Shared>) {
    let period = Duration::from_millis((s.cfg.tick_time as u64 / 2).clamp(10, 1000));
    let mut was_leader = false;
    loop {
        tokio::time::sleep(period).await;
        // Only a leader that has its quorum decides expiry; after a period without one (when no
        // client could reach the ensemble) every session gets a full timeout again.
        if !s.is_leader() || !s.serving() {
            was_leader = false;
            continue;
        }
        let now = Instant::now();
        let sessions: Vec<(i64, i32)> = s
            .tree
            .read()
            .sessions()
            .iter()
            .map(|(id, i)| (*id, i.timeout_ms))
            .collect();
        let mut expired = Vec::new();
        {
            let mut touches = s.touches.lock();
            if !was_leader {
                // A new leader gives every session a full timeout from now (as ZooKeeper does).
                for (id, _) in &sessions {
                    touches.insert(*id, now);
                }
                was_leader = true;
            }
            let mut closing = s.closing.lock();
            closing.retain(|_, t| now.duration_since(*t) < Duration::from_secs(10));
            for (id, timeout) in &sessions {
                let last = *touches.entry(*id).or_insert(now);
                if now.duration_since(last) > Duration::from_millis(*timeout as u64)
                    && !closing.contains_key(id)
                {
                    closing.insert(*id, now);
                    expired.push(*id);
                }
            }
        }
        for id in expired {
            tracing::info!(session = format_args!("0x{id:x}"), "expiring session");
            let fut = s
                .raft()
                .submit(Entry {
                    time_ms: now_ms(),
                    cmd: Command::CloseSession { session_id: id },
                })
                .await;
            tokio::spawn(async move {
                if let Err(e) = fut.await {
                    tracing::warn!(error = %e, "session expiry proposal failed");
                }
            });
        }
    }
}

/// Leader duty: delete empty containers and expired TTL nodes.
async fn reaper_loop(s: Arc<Shared>) {
    let ms = s
        .cfg
        .rzk_knob("containerCheckIntervalMs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000u64);
    let period = Duration::from_millis(ms.max(10));
    loop {
        tokio::time::sleep(period).await;
        if !s.is_leader() {
            continue;
        }
        let candidates = s.tree.read().reap_candidates(now_ms());
        for (path, czxid) in candidates {
            let fut = s
                .raft()
                .submit(Entry {
                    time_ms: now_ms(),
                    cmd: Command::Reap { path, czxid },
                })
                .await;
            let _ = fut.await;
        }
    }
}

fn member_of(sp: &rzk_config::ServerSpec, client: &(String, u16)) -> rzk_raft::Member {
    // A wildcard client address is advertised under the server's own host.
    let host = if client.0 == "0.0.0.0" || client.0 == "::" {
        sp.host.clone()
    } else {
        client.0.clone()
    };
    let client = &(host, client.1);
    rzk_raft::Member {
        quorum_addr: format!("{}:{}", rzk_config::bracket_host(&sp.host), sp.quorum_port),
        election_port: sp.election_port,
        client_addr: format!("{}:{}", rzk_config::bracket_host(&client.0), client.1),
    }
}

/// A reconfig `server.N=...` spec as a Raft member plus whether it votes.
pub fn member_from_spec(
    sp: &rzk_config::ServerSpec,
    default_client_port: u16,
) -> (rzk_raft::Member, bool) {
    let ca = sp
        .client_addr
        .clone()
        .unwrap_or_else(|| (sp.host.clone(), default_client_port));
    (
        member_of(sp, &ca),
        sp.role == rzk_config::PeerRole::Participant,
    )
}

/// Follower duty: report sessions active here to the leader, which decides expiry.
async fn touch_report_loop(s: Arc<Shared>) {
    let period = Duration::from_millis((s.cfg.tick_time as u64 / 2).clamp(50, 1000));
    loop {
        tokio::time::sleep(period).await;
        let ids: Vec<i64> = s.touched.lock().drain().collect();
        if !s.is_leader() {
            s.raft().report_touches(ids).await;
        }
    }
}

/// Renders the membership as ZooKeeper's dynamic configuration text (/zookeeper/config).
pub fn render_config(v: &rzk_raft::MembersView) -> String {
    let mut out = String::new();
    let line = |out: &mut String, id: &u64, m: &rzk_raft::Member, role: &str| {
        let (host, qport) = m
            .quorum_addr
            .rsplit_once(':')
            .unwrap_or((m.quorum_addr.as_str(), "0"));
        out.push_str(&format!(
            "server.{id}={host}:{qport}:{}:{role};{}\n",
            m.election_port, m.client_addr
        ));
    };
    let mut all: Vec<(&u64, &rzk_raft::Member, &str)> = v
        .voters
        .iter()
        .map(|(i, m)| (i, m, "participant"))
        .collect();
    all.extend(v.learners.iter().map(|(i, m)| (i, m, "observer")));
    all.sort_by_key(|(i, _, _)| **i);
    for (i, m, r) in all {
        line(&mut out, i, m, r);
    }
    out.push_str(&format!("version={:x}", v.version));
    out
}

/// Leader duty: keep /zookeeper/config equal to the Raft membership (checked at once when the role
/// or the membership changes: followers serve only once it is there).
async fn config_node_loop(s: Arc<Shared>) {
    loop {
        s.raft()
            .wait_role_or_membership_change(Duration::from_millis(100))
            .await;
        if !s.is_leader() {
            continue;
        }
        let want = render_config(&s.raft().members());
        let have = s
            .tree
            .read()
            .node("/zookeeper/config")
            .and_then(|n| n.data.clone())
            .unwrap_or_default();
        if have != want.as_bytes() {
            let fut = s
                .raft()
                .submit(Entry {
                    time_ms: now_ms(),
                    cmd: Command::SetConfig {
                        data: want.into_bytes(),
                    },
                })
                .await;
            let _ = fut.await;
        }
    }
}

/// Drops all client connections while this member is outside a working quorum, like a ZooKeeper
/// server that goes back to LOOKING; clients reconnect to a member that can serve them.
async fn quorum_watchdog(s: Arc<Shared>) {
    // A member passes through candidate/no-leader states for milliseconds during an election or a
    // leadership transfer; only a state that lasts a tick (as ZooKeeper's follower read timeout)
    // drops the clients. New connections are refused meanwhile (conn/session.rs checks `serving()`).
    let grace = Duration::from_millis((s.cfg.tick_time as u64).clamp(200, 2000));
    let mut was_serving = true;
    let mut down_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let serving = s.serving();
        let since = *down_since.get_or_insert_with(Instant::now);
        if serving {
            down_since = None;
        }
        if !serving && since.elapsed() < grace {
            continue;
        }
        if !serving {
            // Read-only sessions (readonly.rs) are the ones a member without quorum may keep.
            let conns: Vec<_> = s
                .conns
                .lock()
                .values()
                .filter(|c| !c.read_only)
                .map(|c| c.tx.clone())
                .collect();
            if was_serving || !conns.is_empty() {
                tracing::warn!(
                    clients = conns.len(),
                    "lost the quorum; disconnecting clients"
                );
            }
            for tx in conns {
                let _ = tx.send(Out::Close);
            }
        } else if !was_serving {
            tracing::info!("serving clients again");
        }
        was_serving = serving;
    }
}
