//! The znode tree and session table: the deterministic state machine every member applies.

use crate::acl::{self, Acl, Id};
use crate::command::{CmdResult, Command, Entry, OpResult, WatchEvent, WriteOp};
use crate::path;
use rzk_proto::consts::{create_mode, event_type, op, perms};
use rzk_proto::ErrorCode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// `ephemeralOwner` of container nodes (EphemeralType.CONTAINER).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// High byte marking TTL nodes in `ephemeralOwner` (EphemeralType.TTL); the TTL is in the low 40 bits.
pub const TTL_MASK: i64 = 0xff00_0000_0000_0000u64 as i64;
pub const TTL_MAX: i64 = 0x0000_00ff_ffff_ffff;

/// Znode metadata as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

impl From<Stat> for rzk_proto::records::Stat {
    fn from(s: Stat) -> Self {
        rzk_proto::records::Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: s.data_length,
            num_children: s.num_children,
            pzxid: s.pzxid,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    pub data: Option<Vec<u8>>,
    pub acl: Arc<Vec<Acl>>,
    pub stat: Stat,
    pub children: BTreeSet<String>,
}

impl Node {
    /// The stat clients see: container and TTL markers read as ephemeralOwner 0, as in ZooKeeper.
    fn stat(&self) -> Stat {
        let mut s = self.stat;
        if self.ephemeral_session().is_none() {
            s.ephemeral_owner = 0;
        }
        s.data_length = self.data.as_ref().map_or(0, |d| d.len() as i32);
        s.num_children = self.children.len() as i32;
        // Stored cversion counts child creations (the sequence counter); clients see
        // creations + deletions, derived as ZooKeeper's DataNode.copyStat does.
        s.cversion = s.cversion.wrapping_mul(2).wrapping_sub(s.num_children);
        s
    }
    pub fn is_container(&self) -> bool {
        self.stat.ephemeral_owner == CONTAINER_OWNER
    }
    pub fn ttl(&self) -> Option<i64> {
        let o = self.stat.ephemeral_owner;
        (o != CONTAINER_OWNER && o & TTL_MASK == TTL_MASK).then_some(o & TTL_MAX)
    }
    /// Owner session of an ephemeral node.
    pub fn ephemeral_session(&self) -> Option<i64> {
        let o = self.stat.ephemeral_owner;
        (o != 0 && o != CONTAINER_OWNER && o & TTL_MASK != TTL_MASK).then_some(o)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub timeout_ms: i32,
    pub passwd: Vec<u8>,
}

/// The replicated state. Serializable as a whole for snapshots.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataTree {
    nodes: NodeMap,
    sessions: BTreeMap<i64, SessionInfo>,
    #[serde(skip)]
    ephemerals: HashMap<i64, BTreeSet<String>>,
    #[serde(skip)]
    containers: BTreeSet<String>,
    #[serde(skip)]
    ttls: BTreeSet<String>,
    /// Paths with a quota (a `/zookeeper/quota/<path>/zookeeper_limits` node exists).
    #[serde(skip)]
    quotas: BTreeSet<String>,
    /// One shared copy per distinct ACL list (most nodes carry the same few).
    #[serde(skip)]
    acls: HashMap<Vec<Acl>, Arc<Vec<Acl>>>,
    last_zxid: i64,
    /// `enforceQuota`: hard quota limits refuse writes (QuotaExceeded). Configuration, not
    /// replicated state: every member sets it at start from its zoo.cfg (ARCHITECTURE.md).
    #[serde(skip)]
    enforce_quota: bool,
}

/// A copy of the replicated part of a [`DataTree`] (what a snapshot holds), taken with
/// [`DataTree::image`] so that serializing it can happen while the tree keeps changing. It shares
/// keys and nodes with the tree (reference counts): taking it costs one pointer copy per znode.
/// It serializes to exactly the bytes of the tree it was taken from (same fields, same order;
/// the indexes a tree rebuilds after loading are not part of either).
#[derive(Debug, Clone, Serialize)]
pub struct TreeImage {
    nodes: NodeMap,
    sessions: BTreeMap<i64, SessionInfo>,
    last_zxid: i64,
}

impl TreeImage {
    /// Number of znodes in the image.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// Path -> node. Shared (`Arc`) keys and nodes make [`DataTree::image`] a copy of pointers, not of
/// nodes: a write to a node that an image still holds copies that one node (`Arc::make_mut`), so
/// only nodes changed while a snapshot is written cost extra memory. Pointer-sized values keep the
/// table small (it is sized in powers of two, so up to half of it is empty slots); foldhash
/// (randomly seeded) is several times faster than SipHash on paths.
type NodeMap = HashMap<Arc<str>, Arc<Node>, foldhash::fast::RandomState>;

const CONFIG_NODE: &str = "/zookeeper/config";

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

/// How to revert one change of a multi that fails later. Parents are never cloned (they may have
/// many children): only the child name and the parent's previous stat are kept.
enum UndoOp {
    /// Put back the node at a path (`None`: remove what is there). Only for childless nodes.
    Node(String, Option<Arc<Node>>),
    /// Revert a child insert (`added`) or removal in `parent` and restore its stat.
    Child {
        parent: String,
        name: String,
        added: bool,
        stat: Stat,
    },
    /// Restore data, ACL and stat of a node, leaving its children alone.
    Attrs {
        path: String,
        data: Option<Vec<u8>>,
        acl: Arc<Vec<Acl>>,
        stat: Stat,
    },
}

type Undo = Vec<UndoOp>;

impl DataTree {
    /// Copies the replicated state for a snapshot (see [`TreeImage`]).
    pub fn image(&self) -> TreeImage {
        TreeImage {
            nodes: self.nodes.clone(),
            sessions: self.sessions.clone(),
            last_zxid: self.last_zxid,
        }
    }

    pub fn new() -> Self {
        let mut t = DataTree {
            nodes: NodeMap::default(),
            sessions: BTreeMap::new(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            quotas: BTreeSet::new(),
            acls: HashMap::new(),
            last_zxid: 0,
            enforce_quota: false,
        };
        let empty = |children: &[&str], acl: Vec<Acl>| Node {
            data: Some(Vec::new()),
            acl: Arc::new(acl),
            stat: Stat::default(),
            children: children.iter().map(|c| c.to_string()).collect(),
        };
        t.nodes.insert(
            "/".into(),
            Arc::new(empty(&["zookeeper"], Acl::world_all())),
        );
        t.nodes.insert(
            "/zookeeper".into(),
            Arc::new(empty(&["quota", "config"], Acl::world_all())),
        );
        t.nodes.insert(
            "/zookeeper/quota".into(),
            Arc::new(empty(&[], Acl::world_all())),
        );
        t.nodes
            .insert(CONFIG_NODE.into(), Arc::new(empty(&[], Acl::world_read())));
        t
    }

    /// A tree holding another store's znodes (rzk-server's `import-zookeeper`): each
    /// `(path, data, acl, stat)` is kept as given, `stat.cversion` as ZooKeeper persists it
    /// (child creations: the sequence counter). Children are derived from the paths; the
    /// system nodes of [`DataTree::new`] that `nodes` lacks are kept. A node whose parent is
    /// missing is refused (`Err(path)`).
    pub fn from_parts(
        nodes: impl IntoIterator<Item = (String, Option<Vec<u8>>, Vec<Acl>, Stat)>,
        sessions: BTreeMap<i64, SessionInfo>,
        last_zxid: i64,
    ) -> Result<DataTree, String> {
        let mut t = DataTree::new();
        for (p, data, acl, stat) in nodes {
            t.nodes.insert(
                p.as_str().into(),
                Arc::new(Node {
                    data,
                    acl: Arc::new(acl),
                    stat,
                    children: BTreeSet::new(),
                }),
            );
        }
        for n in t.nodes.values_mut().map(Arc::make_mut) {
            n.children.clear();
        }
        let paths: Vec<String> = t.nodes.keys().map(|k| k.to_string()).collect();
        for p in &paths {
            if p == "/" {
                continue;
            }
            if path::validate(p).is_err() {
                return Err(p.clone());
            }
            match t.nodes.get_mut(path::parent(p)).map(Arc::make_mut) {
                Some(parent) => {
                    parent.children.insert(path::name(p).to_string());
                }
                None => return Err(p.clone()),
            }
        }
        t.sessions = sessions;
        t.last_zxid = last_zxid;
        t.rebuild_indexes();
        Ok(t)
    }

    /// Rebuilds the derived indexes after deserializing a snapshot.
    pub fn rebuild_indexes(&mut self) {
        self.ephemerals.clear();
        self.containers.clear();
        self.ttls.clear();
        self.quotas.clear();
        let paths: Vec<String> = self.nodes.keys().map(|k| k.to_string()).collect();
        for p in paths {
            self.index_node(&p);
            let acl = self.nodes[p.as_str()].acl.as_ref().clone();
            let shared = self.intern(acl);
            if let Some(n) = self.nodes.get_mut(p.as_str()).map(Arc::make_mut) {
                n.acl = shared;
            }
        }
    }

    fn index_node(&mut self, p: &str) {
        if let Some(q) = quota_target(p, LIMITS) {
            self.quotas.insert(q.to_string());
        }
        let Some(n) = self.nodes.get(p) else { return };
        if let Some(s) = n.ephemeral_session() {
            self.ephemerals.entry(s).or_default().insert(p.to_string());
        } else if n.is_container() {
            self.containers.insert(p.to_string());
        } else if n.ttl().is_some() {
            self.ttls.insert(p.to_string());
        }
    }

    fn unindex_node(&mut self, p: &str) {
        let Some(n) = self.nodes.get(p) else { return };
        if let Some(s) = n.ephemeral_session() {
            if let Some(set) = self.ephemerals.get_mut(&s) {
                set.remove(p);
                if set.is_empty() {
                    self.ephemerals.remove(&s);
                }
            }
        }
        self.containers.remove(p);
        self.ttls.remove(p);
        if let Some(q) = quota_target(p, LIMITS) {
            self.quotas.remove(q);
        }
    }

    /// The quota root governing `p`: the longest quota path equal to or above it.
    fn quota_root(&self, p: &str) -> Option<String> {
        if self.quotas.is_empty() || p.starts_with("/zookeeper/") || p == "/zookeeper" {
            return None;
        }
        let mut cur = p;
        loop {
            if self.quotas.contains(cur) {
                return Some(cur.to_string());
            }
            if cur == "/" {
                return None;
            }
            cur = path::parent(cur);
        }
    }

    /// Adds to the usage recorded in the quota stats node governing `p` (ZooKeeper's updateCountBytes).
    fn update_quota(&mut self, p: &str, count: i64, bytes: i64, undo: Option<&mut Undo>) {
        let Some(root) = self.quota_root(p) else {
            return;
        };
        let stats_path = quota_node(&root, STATS);
        if let Some(u) = undo {
            self.save_node(u, &stats_path);
        }
        if let Some(n) = self.nodes.get_mut(stats_path.as_str()).map(Arc::make_mut) {
            let (c, b) = parse_stats(n.data.as_deref().unwrap_or_default());
            n.data = Some(format!("count={},bytes={}", c + count, b + bytes).into_bytes());
        }
    }

    /// Recomputes the usage of quota path `q` into its stats node (when limits/stats appear).
    fn recompute_quota(&mut self, q: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        if self.nodes.contains_key(q) {
            let prefix = if q == "/" {
                "/".to_string()
            } else {
                format!("{q}/")
            };
            for (k, n) in &self.nodes {
                if **k == *q || k.starts_with(&prefix) && !k.starts_with("/zookeeper") {
                    count += 1;
                    bytes += n.data.as_ref().map_or(0, |d| d.len() as i64);
                }
            }
        }
        if let Some(n) = self
            .nodes
            .get_mut(quota_node(q, STATS).as_str())
            .map(Arc::make_mut)
        {
            n.data = Some(format!("count={count},bytes={bytes}").into_bytes());
        }
    }

    /// Turns hard quota enforcement (`enforceQuota`) on or off. Every member of an ensemble must
    /// use the same setting: writes are validated in [`DataTree::apply`] on each member.
    pub fn set_enforce_quota(&mut self, on: bool) {
        self.enforce_quota = on;
    }
    pub fn enforce_quota(&self) -> bool {
        self.enforce_quota
    }

    /// ZooKeeper's checkQuota: would adding `count`/`bytes` under the quota root governing `p`
    /// pass a limit? A hard limit (`countHardLimit`/`byteHardLimit`) refuses the write with
    /// QuotaExceeded when enforcement is on; a soft one (`count`/`bytes`) only logs a warning.
    /// As in ZooKeeper, a hard limit replaces the soft one of the same kind, and a kind whose
    /// change is zero is not checked.
    fn check_quota(&self, p: &str, count: i64, bytes: i64) -> Result<(), ErrorCode> {
        if !self.enforce_quota {
            return Ok(());
        }
        let Some(root) = self.quota_root(p) else {
            return Ok(());
        };
        let track = |leaf: &str| {
            self.nodes
                .get(quota_node(&root, leaf).as_str())
                .map(|n| Track::parse(n.data.as_deref().unwrap_or_default()))
        };
        let (Some(limits), Some(usage)) = (track(LIMITS), track(STATS)) else {
            return Ok(());
        };
        for (what, diff, used, soft, hard) in [
            ("count", count, usage.count, limits.count, limits.count_hard),
            ("bytes", bytes, usage.bytes, limits.bytes, limits.bytes_hard),
        ] {
            if diff == 0 || (soft < 0 && hard < 0) {
                continue;
            }
            let (limit, is_hard) = if hard >= 0 {
                (hard, true)
            } else {
                (soft, false)
            };
            let new = used.saturating_add(diff);
            if new > limit {
                let kind = if is_hard { "hard" } else { "soft" };
                tracing::warn!(quota = %root, what, current = new, limit, kind, "quota exceeded");
                if is_hard {
                    return Err(ErrorCode::QuotaExceeded);
                }
            }
        }
        Ok(())
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn session(&self, id: i64) -> Option<&SessionInfo> {
        self.sessions.get(&id)
    }
    pub fn sessions(&self) -> &BTreeMap<i64, SessionInfo> {
        &self.sessions
    }
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }
    pub fn ephemerals_by_session(&self) -> &HashMap<i64, BTreeSet<String>> {
        &self.ephemerals
    }
    /// ZooKeeper's approximateDataSize: sum of path lengths (Java String.length, UTF-16 units) and
    /// data lengths.
    pub fn approximate_data_size(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(p, n)| {
                (p.encode_utf16().count() + n.data.as_ref().map_or(0, |d| d.len())) as u64
            })
            .sum()
    }
    pub fn node(&self, p: &str) -> Option<&Node> {
        self.nodes.get(p).map(|n| &**n)
    }

    // ---- reads -------------------------------------------------------------------------------

    pub fn exists(&self, p: &str) -> Option<Stat> {
        self.nodes.get(p).map(|n| n.stat())
    }

    pub fn get_data(&self, p: &str, auth: &[Id]) -> Result<(Option<Vec<u8>>, Stat), ErrorCode> {
        let n = self.nodes.get(p).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&n.acl, perms::READ, auth) {
            return Err(ErrorCode::NoAuth);
        }
        Ok((n.data.clone(), n.stat()))
    }

    pub fn get_children(&self, p: &str, auth: &[Id]) -> Result<(Vec<String>, Stat), ErrorCode> {
        let n = self.nodes.get(p).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&n.acl, perms::READ, auth) {
            return Err(ErrorCode::NoAuth);
        }
        Ok((n.children.iter().cloned().collect(), n.stat()))
    }

    pub fn get_acl(&self, p: &str, auth: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let n = self.nodes.get(p).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&n.acl, perms::READ | perms::ADMIN, auth) {
            return Err(ErrorCode::NoAuth);
        }
        let mut list = n.acl.as_ref().clone();
        // Without ADMIN, ZooKeeper (3.8+, ZOOKEEPER-1392) hides digest hashes as `user:x`.
        if !acl::check(&n.acl, perms::ADMIN, auth) {
            for a in list.iter_mut().filter(|a| a.id.scheme == "digest") {
                a.id.id = acl::redact_digest(&a.id.id);
            }
        }
        Ok((list, n.stat()))
    }

    /// Number of all descendants of `p`.
    pub fn all_children_number(&self, p: &str, auth: &[Id]) -> Result<i32, ErrorCode> {
        let n = self.nodes.get(p).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&n.acl, perms::READ, auth) {
            return Err(ErrorCode::NoAuth);
        }
        if p == "/" {
            return Ok(self.nodes.len() as i32 - 1);
        }
        let prefix = format!("{p}/");
        Ok(self.nodes.keys().filter(|k| k.starts_with(&prefix)).count() as i32)
    }

    pub fn ephemerals_of(&self, session: i64, prefix: &str) -> Vec<String> {
        // As ZooKeeper (Java trim()): a blank or "/" prefix, ignoring surrounding spaces and
        // control characters, means all of the session's ephemerals.
        let trimmed = prefix.trim_matches(|c: char| c <= ' ');
        let all = trimmed.is_empty() || trimmed == "/";
        self.ephemerals
            .get(&session)
            .map(|s| {
                s.iter()
                    .filter(|p| all || p.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Containers that are empty and have had children, and TTL nodes without children whose TTL
    /// elapsed at `now_ms`: the leader proposes a [`Command::Reap`] for each.
    pub fn reap_candidates(&self, now_ms: i64) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for p in &self.containers {
            if let Some(n) = self.nodes.get(p.as_str()) {
                if n.children.is_empty() && n.stat.cversion > 0 {
                    out.push((p.clone(), n.stat.czxid));
                }
            }
        }
        for p in &self.ttls {
            if let Some(n) = self.nodes.get(p.as_str()) {
                if n.children.is_empty() && n.ttl().is_some_and(|ttl| now_ms - n.stat.mtime > ttl) {
                    out.push((p.clone(), n.stat.czxid));
                }
            }
        }
        out
    }

    // ---- writes ------------------------------------------------------------------------------

    /// Applies one log entry at `zxid`; returns the result and the watch events it triggers.
    pub fn apply(&mut self, zxid: i64, entry: &Entry) -> (CmdResult, Vec<WatchEvent>) {
        let mut events = Vec::new();
        if zxid > self.last_zxid {
            self.last_zxid = zxid;
        }
        let t = entry.time_ms;
        let res = match &entry.cmd {
            Command::Noop | Command::SetFeatureLevel { .. } => CmdResult::Done,
            Command::CreateSession {
                session_id,
                timeout_ms,
                passwd,
            } => {
                self.sessions.insert(
                    *session_id,
                    SessionInfo {
                        timeout_ms: *timeout_ms,
                        passwd: passwd.clone(),
                    },
                );
                CmdResult::Session(ErrorCode::Ok)
            }
            Command::CloseSession { session_id } => {
                if self.sessions.remove(session_id).is_none() {
                    CmdResult::Session(ErrorCode::SessionExpired)
                } else {
                    let paths: Vec<String> = self
                        .ephemerals
                        .get(session_id)
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default();
                    for p in paths.iter().rev() {
                        self.remove_node(p, zxid, &mut events);
                    }
                    CmdResult::Session(ErrorCode::Ok)
                }
            }
            Command::Write {
                session_id,
                auth,
                op,
            } => {
                if *session_id != 0 && !self.sessions.contains_key(session_id) {
                    CmdResult::Op(OpResult::Error(ErrorCode::SessionExpired))
                } else {
                    let mut undo = Vec::new();
                    let r = self.apply_op(op, *session_id, auth, zxid, t, &mut undo, &mut events);
                    if matches!(r, OpResult::Error(_)) {
                        self.rollback(undo);
                        events.clear();
                    }
                    CmdResult::Op(r)
                }
            }
            Command::Multi {
                session_id,
                auth,
                ops,
            } => {
                if *session_id != 0 && !self.sessions.contains_key(session_id) {
                    CmdResult::Op(OpResult::Error(ErrorCode::SessionExpired))
                } else {
                    CmdResult::Multi(self.apply_multi(ops, *session_id, auth, zxid, t, &mut events))
                }
            }
            Command::Reap { path: p, czxid } => {
                let ok = self.nodes.get(p.as_str()).is_some_and(|n| {
                    n.stat.czxid == *czxid
                        && n.children.is_empty()
                        && (n.is_container() && n.stat.cversion > 0
                            || n.ttl().is_some_and(|ttl| t - n.stat.mtime > ttl))
                });
                if ok {
                    self.remove_node(p, zxid, &mut events);
                    CmdResult::Op(OpResult::Deleted)
                } else {
                    CmdResult::Op(OpResult::Error(ErrorCode::NoNode))
                }
            }
            Command::SetConfig { data } => {
                if let Some(n) = self.nodes.get_mut(CONFIG_NODE).map(Arc::make_mut) {
                    n.data = Some(data.clone());
                    n.stat.mzxid = zxid;
                    n.stat.mtime = t;
                    // ZooKeeper's reconfig and initConfigInZKDatabase write the node with version -1.
                    n.stat.version = -1;
                    events.push(WatchEvent {
                        path: CONFIG_NODE.into(),
                        typ: event_type::NODE_DATA_CHANGED,
                    });
                }
                CmdResult::Done
            }
        };
        (res, events)
    }

    fn apply_multi(
        &mut self,
        ops: &[WriteOp],
        session: i64,
        auth: &[Id],
        zxid: i64,
        t: i64,
        events: &mut Vec<WatchEvent>,
    ) -> Vec<OpResult> {
        let mut undo = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        let mut failed: Option<usize> = None;
        for (i, o) in ops.iter().enumerate() {
            let r = self.apply_op(o, session, auth, zxid, t, &mut undo, events);
            let err = matches!(r, OpResult::Error(_));
            results.push(r);
            if err {
                failed = Some(i);
                break;
            }
        }
        if let Some(f) = failed {
            self.rollback(undo);
            events.clear();
            let mut out = Vec::with_capacity(ops.len());
            for i in 0..ops.len() {
                out.push(match i.cmp(&f) {
                    std::cmp::Ordering::Less => OpResult::Error(ErrorCode::Ok),
                    std::cmp::Ordering::Equal => results[f].clone(),
                    std::cmp::Ordering::Greater => OpResult::Error(ErrorCode::RuntimeInconsistency),
                });
            }
            return out;
        }
        results
    }

    fn intern(&mut self, acl: Vec<Acl>) -> Arc<Vec<Acl>> {
        if let Some(a) = self.acls.get(&acl) {
            return a.clone();
        }
        let a = Arc::new(acl.clone());
        self.acls.insert(acl, a.clone());
        a
    }

    /// The checks setData and check share, in ZooKeeper's order: path, existence, permission, version.
    fn checked_node(
        &self,
        p: &str,
        perm: i32,
        auth: &[Id],
        version: i32,
    ) -> Result<&Node, ErrorCode> {
        if path::validate(p).is_err() {
            return Err(ErrorCode::BadArguments);
        }
        let n = self.nodes.get(p).ok_or(ErrorCode::NoNode)?;
        if !acl::check(&n.acl, perm, auth) {
            return Err(ErrorCode::NoAuth);
        }
        if version != -1 && n.stat.version != version {
            return Err(ErrorCode::BadVersion);
        }
        Ok(n)
    }

    fn save_node(&self, undo: &mut Undo, p: &str) {
        undo.push(UndoOp::Node(p.to_string(), self.nodes.get(p).cloned()));
    }

    fn save_child(&self, undo: &mut Undo, parent: &str, name: &str, added: bool) {
        if let Some(n) = self.nodes.get(parent) {
            undo.push(UndoOp::Child {
                parent: parent.to_string(),
                name: name.to_string(),
                added,
                stat: n.stat,
            });
        }
    }

    fn save_attrs(&self, undo: &mut Undo, p: &str) {
        if let Some(n) = self.nodes.get(p) {
            undo.push(UndoOp::Attrs {
                path: p.to_string(),
                data: n.data.clone(),
                acl: n.acl.clone(),
                stat: n.stat,
            });
        }
    }

    /// Reverts recorded changes, newest first.
    fn rollback(&mut self, undo: Undo) {
        for op in undo.into_iter().rev() {
            match op {
                UndoOp::Node(p, old) => {
                    self.unindex_node(&p);
                    match old {
                        Some(n) => {
                            self.nodes.insert(p.as_str().into(), n);
                            self.index_node(&p);
                        }
                        None => {
                            self.nodes.remove(p.as_str());
                        }
                    }
                }
                UndoOp::Child {
                    parent,
                    name,
                    added,
                    stat,
                } => {
                    if let Some(n) = self.nodes.get_mut(parent.as_str()).map(Arc::make_mut) {
                        if added {
                            n.children.remove(&name);
                        } else {
                            n.children.insert(name);
                        }
                        n.stat = stat;
                    }
                }
                UndoOp::Attrs {
                    path,
                    data,
                    acl,
                    stat,
                } => {
                    if let Some(n) = self.nodes.get_mut(path.as_str()).map(Arc::make_mut) {
                        n.data = data;
                        n.acl = acl;
                        n.stat = stat;
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_op(
        &mut self,
        o: &WriteOp,
        session: i64,
        auth: &[Id],
        zxid: i64,
        t: i64,
        undo: &mut Undo,
        events: &mut Vec<WatchEvent>,
    ) -> OpResult {
        match self.try_op(o, session, auth, zxid, t, undo, events) {
            Ok(r) => r,
            Err(e) => OpResult::Error(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn try_op(
        &mut self,
        o: &WriteOp,
        session: i64,
        auth: &[Id],
        zxid: i64,
        t: i64,
        undo: &mut Undo,
        events: &mut Vec<WatchEvent>,
    ) -> Result<OpResult, ErrorCode> {
        match o {
            WriteOp::Create {
                path: p,
                data,
                acl: req_acl,
                flags,
                ttl,
                op: opc,
            } => {
                let flags = *flags;
                let is_ttl = matches!(
                    flags,
                    create_mode::PERSISTENT_WITH_TTL | create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL
                );
                let ephemeral = matches!(
                    flags,
                    create_mode::EPHEMERAL | create_mode::EPHEMERAL_SEQUENTIAL
                );
                let sequential = matches!(
                    flags,
                    create_mode::PERSISTENT_SEQUENTIAL
                        | create_mode::EPHEMERAL_SEQUENTIAL
                        | create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL
                );
                let container = flags == create_mode::CONTAINER;
                if !(0..=6).contains(&flags) {
                    return Err(ErrorCode::BadArguments);
                }
                if is_ttl {
                    if *ttl <= 0 || *ttl > TTL_MAX {
                        return Err(ErrorCode::BadArguments);
                    }
                } else if *ttl >= 0 {
                    return Err(ErrorCode::BadArguments);
                }
                if (*opc == op::CREATE_TTL) != is_ttl {
                    return Err(ErrorCode::BadArguments);
                }
                if ephemeral && session == 0 {
                    return Err(ErrorCode::BadArguments);
                }
                let slash = match p.rfind('/') {
                    Some(i) if !p.contains('\0') => i,
                    _ => return Err(ErrorCode::BadArguments),
                };
                let parent_path = if slash == 0 {
                    "/".to_string()
                } else {
                    p[..slash].to_string()
                };
                let fixed = acl::fixup(req_acl, auth).ok_or(ErrorCode::InvalidAcl)?;
                let parent = self
                    .nodes
                    .get(parent_path.as_str())
                    .ok_or(ErrorCode::NoNode)?;
                if !acl::check(&parent.acl, perms::CREATE, auth) {
                    return Err(ErrorCode::NoAuth);
                }
                let final_path = if sequential {
                    format!("{p}{:010}", parent.stat.cversion)
                } else {
                    p.clone()
                };
                if path::validate(&final_path).is_err() {
                    return Err(ErrorCode::BadArguments);
                }
                if self.nodes.contains_key(final_path.as_str()) {
                    return Err(ErrorCode::NodeExists);
                }
                if parent.ephemeral_session().is_some() {
                    return Err(ErrorCode::NoChildrenForEphemerals);
                }
                let len = data.as_ref().map_or(0, |d| d.len() as i64);
                self.check_quota(&final_path, 1, len)?;
                let owner = if ephemeral {
                    session
                } else if container {
                    CONTAINER_OWNER
                } else if is_ttl {
                    TTL_MASK | *ttl
                } else {
                    0
                };
                self.save_child(undo, &parent_path, path::name(&final_path), true);
                self.save_node(undo, &final_path);
                let parent = self
                    .nodes
                    .get_mut(parent_path.as_str())
                    .map(Arc::make_mut)
                    .expect("parent checked above");
                parent.stat.cversion = parent.stat.cversion.wrapping_add(1);
                parent.stat.pzxid = zxid;
                parent.children.insert(path::name(&final_path).to_string());
                let acl = self.intern(fixed);
                let node = Node {
                    data: data.clone(),
                    acl,
                    stat: Stat {
                        czxid: zxid,
                        mzxid: zxid,
                        ctime: t,
                        mtime: t,
                        version: 0,
                        cversion: 0,
                        aversion: 0,
                        ephemeral_owner: owner,
                        data_length: 0,
                        num_children: 0,
                        pzxid: zxid,
                    },
                    children: BTreeSet::new(),
                };
                self.nodes
                    .insert(final_path.as_str().into(), Arc::new(node));
                self.index_node(&final_path);
                self.update_quota(&final_path, 1, len, Some(undo));
                if let Some(q) =
                    quota_target(&final_path, LIMITS).or_else(|| quota_target(&final_path, STATS))
                {
                    let q = q.to_string();
                    self.save_node(undo, &quota_node(&q, STATS));
                    self.recompute_quota(&q);
                }
                let stat = self.nodes[final_path.as_str()].stat();
                events.push(WatchEvent {
                    path: final_path.clone(),
                    typ: event_type::NODE_CREATED,
                });
                events.push(WatchEvent {
                    path: parent_path,
                    typ: event_type::NODE_CHILDREN_CHANGED,
                });
                Ok(OpResult::Created {
                    path: final_path,
                    stat,
                })
            }
            WriteOp::Delete { path: p, version } => {
                if !p.contains('/') || p.contains('\0') || is_special(p) {
                    return Err(ErrorCode::BadArguments);
                }
                let parent = self.nodes.get(path::parent(p)).ok_or(ErrorCode::NoNode)?;
                if !acl::check(&parent.acl, perms::DELETE, auth) {
                    return Err(ErrorCode::NoAuth);
                }
                let n = self.nodes.get(p.as_str()).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && n.stat.version != *version {
                    return Err(ErrorCode::BadVersion);
                }
                if !n.children.is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.save_child(undo, path::parent(p), path::name(p), false);
                self.save_node(undo, p);
                if let Some(r) = self.quota_root(p) {
                    self.save_node(undo, &quota_node(&r, STATS));
                }
                self.remove_node(p, zxid, events);
                Ok(OpResult::Deleted)
            }
            WriteOp::SetData {
                path: p,
                data,
                version,
            } => {
                self.checked_node(p, perms::WRITE, auth, *version)?;
                let old_len = self.nodes[p.as_str()]
                    .data
                    .as_ref()
                    .map_or(0, |d| d.len() as i64);
                let new_len = data.as_ref().map_or(0, |d| d.len() as i64);
                self.check_quota(p, 0, new_len - old_len)?;
                self.save_attrs(undo, p);
                self.update_quota(p, 0, new_len - old_len, Some(undo));
                let n = self
                    .nodes
                    .get_mut(p.as_str())
                    .map(Arc::make_mut)
                    .expect("checked");
                n.data = data.clone();
                n.stat.version = n.stat.version.wrapping_add(1);
                n.stat.mzxid = zxid;
                n.stat.mtime = t;
                let stat = n.stat();
                events.push(WatchEvent {
                    path: p.clone(),
                    typ: event_type::NODE_DATA_CHANGED,
                });
                Ok(OpResult::SetData { stat })
            }
            WriteOp::SetAcl {
                path: p,
                acl: req_acl,
                version,
            } => {
                if path::validate(p).is_err() {
                    return Err(ErrorCode::BadArguments);
                }
                let fixed = acl::fixup(req_acl, auth).ok_or(ErrorCode::InvalidAcl)?;
                let n = self.nodes.get(p.as_str()).ok_or(ErrorCode::NoNode)?;
                if !acl::check(&n.acl, perms::ADMIN, auth) {
                    return Err(ErrorCode::NoAuth);
                }
                if *version != -1 && n.stat.aversion != *version {
                    return Err(ErrorCode::BadVersion);
                }
                self.save_attrs(undo, p);
                let acl = self.intern(fixed);
                let n = self
                    .nodes
                    .get_mut(p.as_str())
                    .map(Arc::make_mut)
                    .expect("checked");
                n.acl = acl;
                n.stat.aversion = n.stat.aversion.wrapping_add(1);
                Ok(OpResult::SetAcl { stat: n.stat() })
            }
            WriteOp::Check { path: p, version } => {
                self.checked_node(p, perms::READ, auth, *version)?;
                Ok(OpResult::Checked)
            }
        }
    }

    fn remove_node(&mut self, p: &str, zxid: i64, events: &mut Vec<WatchEvent>) {
        if let Some(n) = self.nodes.get(p) {
            let len = n.data.as_ref().map_or(0, |d| d.len() as i64);
            self.update_quota(p, -1, -len, None);
        }
        self.unindex_node(p);
        if self.nodes.remove(p).is_none() {
            return;
        }
        let parent_path = path::parent(p).to_string();
        if let Some(parent) = self.nodes.get_mut(parent_path.as_str()).map(Arc::make_mut) {
            // As ZooKeeper: a delete moves pzxid but not cversion (the sequence counter).
            parent.children.remove(path::name(p));
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        }
        events.push(WatchEvent {
            path: p.to_string(),
            typ: event_type::NODE_DELETED,
        });
        events.push(WatchEvent {
            path: parent_path,
            typ: event_type::NODE_CHILDREN_CHANGED,
        });
    }
}

const QUOTA_ROOT: &str = "/zookeeper/quota";
const LIMITS: &str = "zookeeper_limits";
const STATS: &str = "zookeeper_stats";

/// For `/zookeeper/quota/<q>/<leaf>`, the quota path `<q>`.
fn quota_target<'a>(p: &'a str, leaf: &str) -> Option<&'a str> {
    let rest = p.strip_prefix(QUOTA_ROOT)?;
    let q = rest.strip_suffix(leaf)?.strip_suffix('/')?;
    if q.is_empty() {
        Some("/")
    } else {
        Some(q)
    }
}

fn quota_node(q: &str, leaf: &str) -> String {
    if q == "/" {
        format!("{QUOTA_ROOT}/{leaf}")
    } else {
        format!("{QUOTA_ROOT}{q}/{leaf}")
    }
}

/// `count` and `bytes` from a StatsTrack string such as `count=2,bytes=5` (absent: 0).
fn parse_stats(b: &[u8]) -> (i64, i64) {
    let t = Track::parse(b);
    (t.count.max(0), t.bytes.max(0))
}

/// A StatsTrack string (ZooKeeper 3.7+): `key=value` pairs separated by `,` or `;`, such as
/// `count=-1,bytes=-1=;countHardLimit=3` (the stray `=` after bytes keeps old parsers working).
/// Absent or unreadable values are -1 (no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Track {
    count: i64,
    bytes: i64,
    count_hard: i64,
    bytes_hard: i64,
}

impl Track {
    fn parse(b: &[u8]) -> Track {
        let text = String::from_utf8_lossy(b);
        let mut t = Track {
            count: -1,
            bytes: -1,
            count_hard: -1,
            bytes_hard: -1,
        };
        for kv in text.split([',', ';']) {
            let mut it = kv.split('=');
            let (Some(k), Some(v)) = (it.next(), it.next()) else {
                continue;
            };
            let v = v.trim().parse().unwrap_or(-1);
            match k.trim() {
                "count" => t.count = v,
                "bytes" => t.bytes = v,
                "countHardLimit" => t.count_hard = v,
                "byteHardLimit" => t.bytes_hard = v,
                _ => {}
            }
        }
        t
    }
}

fn is_special(p: &str) -> bool {
    matches!(p, "/" | "/zookeeper" | "/zookeeper/quota" | CONFIG_NODE)
}
