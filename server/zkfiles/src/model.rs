//! ZooKeeper's data tree as its files describe it, and its replay rules (`DataTree.processTxn`,
//! `FileTxnSnapLog.processTransaction`): idempotent enough for fuzzy snapshots, errors of
//! single transactions ignored as ZooKeeper does during restore.

use crate::txn::{CreateKind, Txn, TxnHeader};
use rzk_tree::Acl;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// `StatPersisted`: what ZooKeeper stores of a znode's stat (`cversion` counts child creations).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatPersisted {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZkNode {
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub stat: StatPersisted,
    pub children: BTreeSet<String>,
}

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// `EphemeralType` extended-type mask; TTL nodes have the high byte 0xff and the TTL below.
pub const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000u64 as i64;
/// Largest TTL (40 bits), as `EphemeralType.TTL`.
pub const MAX_TTL: i64 = 0x0000_00ff_ffff_ffff;

/// The session owning an ephemeral node (`None` for persistent, container and TTL nodes).
pub fn ephemeral_session(owner: i64) -> Option<i64> {
    (owner != 0 && owner != CONTAINER_OWNER && owner & EXTENDED_MASK != EXTENDED_MASK)
        .then_some(owner)
}

/// A ZooKeeper database: znodes by path (root is `/`), sessions with their timeouts.
#[derive(Debug, Clone, Default)]
pub struct ZkTree {
    pub nodes: HashMap<String, ZkNode>,
    pub sessions: BTreeMap<i64, i32>,
    /// The zxid the state corresponds to (snapshot name, then each replayed transaction).
    pub last_zxid: i64,
    pub(crate) ephemerals: HashMap<i64, BTreeSet<String>>,
}

/// `(parent, child name)` of a ZooKeeper path.
pub fn split_path(p: &str) -> Option<(&str, &str)> {
    let i = p.rfind('/')?;
    let parent = if i == 0 { "/" } else { &p[..i] };
    Some((parent, &p[i + 1..]))
}

/// What replay counted (informational).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub applied: u64,
    /// Transactions whose operation failed on replay (NoNode, NodeExists...): expected for the
    /// part of the log a fuzzy snapshot already contains.
    pub failed_ops: u64,
    pub reconfigs: u64,
}

impl ZkTree {
    /// Inserts a node read from a snapshot (its parent must be there already, as in the file).
    pub fn insert_loaded(&mut self, path: String, node: ZkNode) -> Result<(), String> {
        if path != "/" {
            let (parent, name) = split_path(&path).ok_or_else(|| path.clone())?;
            let name = name.to_string();
            match self.nodes.get_mut(parent) {
                Some(p) => {
                    p.children.insert(name);
                }
                None => return Err(format!("parent {parent} of {path} is not in the snapshot")),
            }
        }
        if let Some(s) = ephemeral_session(node.stat.ephemeral_owner) {
            self.ephemerals.entry(s).or_default().insert(path.clone());
        }
        self.nodes.insert(path, node);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) -> Result<(), &'static str> {
        let (parent_path, name) = split_path(path).ok_or("bad path")?;
        if name.is_empty() {
            return Err("bad path");
        }
        let parent = self.nodes.get_mut(parent_path).ok_or("no parent")?;
        if parent.children.contains(name) {
            return Err("node exists");
        }
        let cv = if parent_cversion == -1 {
            parent.stat.cversion.wrapping_add(1)
        } else {
            parent_cversion
        };
        // A node created and deleted inside the fuzzy range must not move cversion back.
        if cv > parent.stat.cversion {
            parent.stat.cversion = cv;
            parent.stat.pzxid = zxid;
        }
        parent.children.insert(name.to_string());
        if let Some(s) = ephemeral_session(owner) {
            self.ephemerals
                .entry(s)
                .or_default()
                .insert(path.to_string());
        }
        self.nodes.insert(
            path.to_string(),
            ZkNode {
                data,
                acl,
                stat: StatPersisted {
                    czxid: zxid,
                    mzxid: zxid,
                    ctime: time,
                    mtime: time,
                    version: 0,
                    cversion: 0,
                    aversion: 0,
                    ephemeral_owner: owner,
                    pzxid: zxid,
                },
                children: BTreeSet::new(),
            },
        );
        Ok(())
    }

    fn delete_node(&mut self, path: &str, zxid: i64) -> Result<(), &'static str> {
        let (parent_path, name) = split_path(path).ok_or("bad path")?;
        let node = self.nodes.remove(path).ok_or("no node")?;
        if let Some(s) = ephemeral_session(node.stat.ephemeral_owner) {
            if let Some(set) = self.ephemerals.get_mut(&s) {
                set.remove(path);
                if set.is_empty() {
                    self.ephemerals.remove(&s);
                }
            }
        }
        let parent = self.nodes.get_mut(parent_path).ok_or("no parent")?;
        parent.children.remove(name);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        Ok(())
    }

    fn kill_session(&mut self, session: i64, zxid: i64, in_txn: Option<&[String]>) {
        let local = self.ephemerals.remove(&session).unwrap_or_default();
        let mut done = BTreeSet::new();
        if let Some(paths) = in_txn {
            for p in paths {
                let _ = self.delete_node(p, zxid);
                done.insert(p.clone());
            }
        }
        for p in local.iter().filter(|p| !done.contains(*p)) {
            let _ = self.delete_node(p, zxid);
        }
    }

    /// ZooKeeper's tree digest (3.6+, `DigestCalculator` version 2): the wrapping sum over the
    /// nodes outside `/zookeeper/` of CRC-32(path ‖ data ‖ czxid, mzxid, pzxid, ctime, mtime,
    /// version, cversion, aversion, ephemeralOwner), the root's path being empty.
    pub fn digest(&self) -> i64 {
        let mut sum = 0i64;
        for (p, n) in &self.nodes {
            if p.starts_with("/zookeeper/") {
                continue;
            }
            let mut h = crc32fast::Hasher::new();
            h.update(if p == "/" { b"" } else { p.as_bytes() });
            if let Some(d) = &n.data {
                h.update(d);
            }
            let s = &n.stat;
            for v in [s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime] {
                h.update(&v.to_be_bytes());
            }
            for v in [s.version, s.cversion, s.aversion] {
                h.update(&v.to_be_bytes());
            }
            h.update(&s.ephemeral_owner.to_be_bytes());
            sum = sum.wrapping_add(h.finalize() as i64);
        }
        sum
    }

    /// Owners of ephemeral nodes that have no session (ZooKeeper kills them when it loads).
    pub fn kill_dead_sessions(&mut self) -> usize {
        let dead: Vec<i64> = self
            .ephemerals
            .keys()
            .filter(|s| !self.sessions.contains_key(s))
            .copied()
            .collect();
        let zxid = self.last_zxid;
        for s in &dead {
            self.kill_session(*s, zxid, None);
        }
        dead.len()
    }

    /// Applies one logged transaction as ZooKeeper's restore does.
    pub fn replay(&mut self, hdr: &TxnHeader, txn: &Txn, stats: &mut ReplayStats) {
        stats.applied += 1;
        match txn {
            Txn::CreateSession { timeout } => {
                self.sessions.insert(hdr.client_id, *timeout);
            }
            Txn::CloseSession { paths } => {
                self.sessions.remove(&hdr.client_id);
                self.kill_session(hdr.client_id, hdr.zxid, paths.as_deref());
            }
            Txn::Reconfig { .. } => stats.reconfigs += 1,
            _ => {}
        }
        if !self.apply_op(hdr, txn) {
            stats.failed_ops += 1;
        }
        if hdr.zxid > self.last_zxid {
            self.last_zxid = hdr.zxid;
        }
    }

    /// Returns false if the operation failed (ignored, as in ZooKeeper's restore).
    fn apply_op(&mut self, hdr: &TxnHeader, txn: &Txn) -> bool {
        let (zxid, time) = (hdr.zxid, hdr.time);
        match txn {
            Txn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
                kind,
                v1_create,
            } => {
                let owner = match kind {
                    CreateKind::Normal if *ephemeral => hdr.client_id,
                    CreateKind::Normal => 0,
                    CreateKind::Container => CONTAINER_OWNER,
                    CreateKind::Ttl(ttl) => EXTENDED_MASK | (ttl & MAX_TTL),
                };
                match self.create_node(
                    path,
                    data.clone(),
                    acl.clone(),
                    owner,
                    *parent_cversion,
                    zxid,
                    time,
                ) {
                    Ok(()) => true,
                    Err(e) => {
                        // ZooKeeper fixes the parent's cversion/pzxid when a plain create meets
                        // a node that the fuzzy snapshot already has.
                        if *v1_create && e == "node exists" {
                            if let Some((parent, _)) = split_path(path) {
                                if let Some(p) = self.nodes.get_mut(parent) {
                                    let cv = if *parent_cversion == -1 {
                                        p.stat.cversion.wrapping_add(1)
                                    } else {
                                        *parent_cversion
                                    };
                                    if cv > p.stat.cversion {
                                        p.stat.cversion = cv;
                                        p.stat.pzxid = zxid;
                                    }
                                }
                            }
                        }
                        false
                    }
                }
            }
            Txn::Delete { path } => self.delete_node(path, zxid).is_ok(),
            Txn::SetData {
                path,
                data,
                version,
            }
            | Txn::Reconfig {
                path,
                data,
                version,
            } => match self.nodes.get_mut(path.as_str()) {
                Some(n) => {
                    n.data = data.clone();
                    n.stat.mtime = time;
                    n.stat.mzxid = zxid;
                    n.stat.version = *version;
                    true
                }
                None => false,
            },
            Txn::SetAcl { path, acl, version } => match self.nodes.get_mut(path.as_str()) {
                Some(n) => {
                    n.acl = acl.clone();
                    n.stat.aversion = *version;
                    true
                }
                None => false,
            },
            Txn::Check { .. } | Txn::CreateSession { .. } | Txn::CloseSession { .. } => true,
            Txn::Error { .. } => false,
            Txn::Multi(ops) => {
                // A multi that failed when it ran was logged with error sub-transactions: it
                // changes nothing. Otherwise each sub-transaction applies on its own.
                if ops.iter().any(|o| matches!(o, Txn::Error { .. })) {
                    return false;
                }
                let mut ok = true;
                for o in ops {
                    ok &= self.apply_op(hdr, o);
                }
                ok
            }
        }
    }
}
