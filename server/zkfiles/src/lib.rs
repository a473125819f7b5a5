//! Apache ZooKeeper's on-disk data (`dataDir/version-2`, `dataLogDir/version-2`), for
//! `rzk-server import-zookeeper` and `export-zookeeper`.
//!
//! * [`load`]: the newest snapshot (plain, `.gz` or `.snappy`) plus every logged transaction
//!   after it, replayed as ZooKeeper's restore does (snapshots are fuzzy), into a [`ZkTree`];
//! * [`to_data_tree`] / [`from_data_tree`]: conversion to and from rzk's [`DataTree`];
//! * [`write_snapshot`]: a `snapshot.<zxid>` file ZooKeeper 3.5+ loads.
//!
//! The formats were written from ZooKeeper's documentation and the record definitions in its
//! `zookeeper.jute`; no ZooKeeper code is used. Nothing here panics on input: damaged files are
//! a [`ZkError`] naming the file and the byte offset.
#![forbid(unsafe_code)]

pub mod jute;
pub mod model;
pub mod snapshot;
pub mod txn;
pub mod txnlog;

pub use model::{ReplayStats, StatPersisted, ZkNode, ZkTree};

use rzk_tree::{DataTree, SessionInfo, Stat};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    // The cause is part of the message (not a `#[source]`), so that callers printing the
    // error chain do not repeat it.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: {error}{}", path.display(), if *compressed { " (offset in the decompressed stream)" } else { "" })]
    Snapshot {
        path: PathBuf,
        compressed: bool,
        error: snapshot::SnapError,
    },
    #[error("{}: {error}", path.display())]
    Log {
        path: PathBuf,
        error: txnlog::LogError,
    },
    #[error("{}: no snapshot.* file (ZooKeeper writes one at startup; is this a ZooKeeper dataDir?)", dir.display())]
    NoSnapshot { dir: PathBuf },
    #[error(
        "{error}\n(ZooKeeper skips a snapshot it cannot read, e.g. one it was writing when it \
         stopped, and uses the previous one with the logs after it; to do the same, move {} away \
         and import again: {} is the next newest)",
        error.path().map(|p| p.display().to_string()).unwrap_or_default(),
        older.display()
    )]
    NewestSnapshot { error: Box<ZkError>, older: PathBuf },
    #[error("the tree does not convert: {0}")]
    Tree(String),
}

impl ZkError {
    /// The file the error is about, if it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ZkError::Io { path, .. }
            | ZkError::Snapshot { path, .. }
            | ZkError::Log { path, .. } => Some(path),
            ZkError::NewestSnapshot { error, .. } => error.path(),
            ZkError::NoSnapshot { .. } | ZkError::Tree(_) => None,
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ZkError + '_ {
    move |error| ZkError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// `version-2` under `dir`, or `dir` itself if it already is one (or holds the files).
pub fn version2(dir: &Path) -> PathBuf {
    let v = dir.join("version-2");
    if v.is_dir() {
        v
    } else {
        dir.to_path_buf()
    }
}

/// The zxid in a file name such as `snapshot.1a2b` or `log.100000001`, with its prefix.
fn zxid_of_name(name: &str, prefix: &str) -> Option<i64> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('.')?;
    let hex = rest.split('.').next()?;
    u64::from_str_radix(hex, 16).ok().map(|z| z as i64)
}

fn list(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>, ZkError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(z) = zxid_of_name(&name, prefix) {
            if prefix == "snapshot"
                && snapshot::Compression::of_name(&name) == snapshot::Compression::None
                && name.matches('.').count() > 1
            {
                continue; // e.g. snapshot.<zxid>.tmp
            }
            v.push((z, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

/// What [`load`] read.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub snapshot: PathBuf,
    pub snapshot_zxid: i64,
    pub logs: Vec<PathBuf>,
    pub replay: ReplayStats,
    /// Ephemeral owners without a session, whose nodes were removed as ZooKeeper does at load.
    pub dead_sessions: usize,
    /// Where the log ended early (file, offset), if it did: a crash while appending.
    pub torn_tails: Vec<(PathBuf, u64)>,
    /// The last replayed transaction's digest (ZooKeeper 3.6+) against the replayed tree's.
    pub digest: Option<DigestCheck>,
}

/// ZooKeeper's tree digest after the last replayed transaction, and the replayed tree's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestCheck {
    pub zxid: i64,
    pub logged: i64,
    pub computed: i64,
}

impl DigestCheck {
    pub fn matches(&self) -> bool {
        self.logged == self.computed
    }
}

/// Reads one snapshot file.
pub fn read_snapshot_file(path: &Path, zxid: i64) -> Result<ZkTree, ZkError> {
    let raw = std::fs::read(path).map_err(io(path))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let c = snapshot::Compression::of_name(&name);
    let err = |error| ZkError::Snapshot {
        path: path.to_path_buf(),
        compressed: c != snapshot::Compression::None,
        error,
    };
    let bytes = snapshot::decompress(c, &raw).map_err(|error| ZkError::Snapshot {
        path: path.to_path_buf(),
        compressed: false,
        error,
    })?;
    let (tree, _) = snapshot::parse(&bytes, zxid).map_err(err)?;
    Ok(tree)
}

/// Loads ZooKeeper's state: the newest snapshot in `snap_dir` and the transaction logs of
/// `log_dir` (dataLogDir; often the same) from the one that covers the snapshot's zxid on.
pub fn load(snap_dir: &Path, log_dir: &Path) -> Result<(ZkTree, LoadReport), ZkError> {
    let snap_dir = version2(snap_dir);
    let log_dir = version2(log_dir);
    let snaps = list(&snap_dir, "snapshot")?;
    let Some((snap_zxid, snap_path)) = snaps.last().cloned() else {
        return Err(ZkError::NoSnapshot { dir: snap_dir });
    };
    let mut tree = match read_snapshot_file(&snap_path, snap_zxid) {
        Ok(t) => t,
        Err(e @ ZkError::Snapshot { .. }) if snaps.len() > 1 => {
            return Err(ZkError::NewestSnapshot {
                error: Box::new(e),
                older: snaps[snaps.len() - 2].1.clone(),
            })
        }
        Err(e) => return Err(e),
    };
    let logs = list(&log_dir, "log")?;
    // As FileTxnLog.getLogFiles: the last log starting at or before the snapshot, and all later.
    let start = logs
        .iter()
        .filter(|(z, _)| *z <= snap_zxid)
        .map(|(z, _)| *z)
        .max()
        .unwrap_or(i64::MIN);
    let mut report = LoadReport {
        snapshot: snap_path,
        snapshot_zxid: snap_zxid,
        logs: Vec::new(),
        replay: ReplayStats::default(),
        dead_sessions: 0,
        torn_tails: Vec::new(),
        digest: None,
    };
    let mut last_digest = None;
    for (_, path) in logs.into_iter().filter(|(z, _)| *z >= start) {
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let (records, end) = txnlog::parse(&bytes).map_err(|error| ZkError::Log {
            path: path.clone(),
            error,
        })?;
        if let txnlog::End::Torn(off) = end {
            report.torn_tails.push((path.clone(), off));
        }
        for rec in records {
            if rec.hdr.zxid <= tree.last_zxid {
                continue;
            }
            tree.replay(&rec.hdr, &rec.txn, &mut report.replay);
            last_digest = rec.digest.map(|d| (rec.hdr.zxid, d));
        }
        report.logs.push(path);
    }
    // Digest version 2 is the only one ZooKeeper 3.6-3.9 write.
    if let Some((zxid, d)) = last_digest.filter(|(_, d)| d.version == 2) {
        report.digest = Some(DigestCheck {
            zxid,
            logged: d.tree_digest,
            computed: tree.digest(),
        });
    }
    report.dead_sessions = tree.kill_dead_sessions();
    Ok((tree, report))
}

/// ZooKeeper's session password: `new java.util.Random(id ^ 0xB3415C00).nextBytes(16)`
/// (`SessionTrackerImpl`'s secret); clients reconnect with it.
pub fn session_password(id: i64) -> Vec<u8> {
    const MULT: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;
    let mut seed = ((id ^ 0xB341_5C00) as u64 ^ MULT) & MASK;
    let mut out = Vec::with_capacity(16);
    while out.len() < 16 {
        seed = (seed.wrapping_mul(MULT).wrapping_add(0xB)) & MASK;
        let mut rnd = (seed >> 16) as u32;
        for _ in 0..4.min(16 - out.len()) {
            out.push(rnd as u8);
            rnd >>= 8;
        }
    }
    out
}

/// rzk's tree for a ZooKeeper state. `last_zxid` becomes the tree's last zxid (rzk passes the
/// zxid of the Raft index it places the state at, above every ZooKeeper zxid).
pub fn to_data_tree(zk: &ZkTree, last_zxid: i64) -> Result<DataTree, ZkError> {
    let nodes = zk.nodes.iter().map(|(p, n)| {
        let s = n.stat;
        (
            p.clone(),
            n.data.clone(),
            n.acl.clone(),
            Stat {
                czxid: s.czxid,
                mzxid: s.mzxid,
                ctime: s.ctime,
                mtime: s.mtime,
                version: s.version,
                cversion: s.cversion,
                aversion: s.aversion,
                ephemeral_owner: s.ephemeral_owner,
                data_length: 0,
                num_children: 0,
                pzxid: s.pzxid,
            },
        )
    });
    let sessions = zk
        .sessions
        .iter()
        .map(|(id, to)| {
            (
                *id,
                SessionInfo {
                    timeout_ms: *to,
                    passwd: session_password(*id),
                },
            )
        })
        .collect();
    DataTree::from_parts(nodes, sessions, last_zxid)
        .map_err(|p| ZkError::Tree(format!("znode {p:?} has no parent or an invalid path")))
}

/// The ZooKeeper view of rzk's tree (persisted stat: cversion counts child creations).
pub fn from_data_tree(t: &DataTree) -> ZkTree {
    let mut zk = ZkTree {
        last_zxid: t.last_zxid(),
        ..Default::default()
    };
    for (id, s) in t.sessions() {
        zk.sessions.insert(*id, s.timeout_ms);
    }
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let Some(n) = t.node(&p) else { continue };
        for c in &n.children {
            stack.push(if p == "/" {
                format!("/{c}")
            } else {
                format!("{p}/{c}")
            });
        }
        let s = n.stat;
        zk.nodes.insert(
            p,
            ZkNode {
                data: n.data.clone(),
                acl: n.acl.as_ref().clone(),
                stat: StatPersisted {
                    czxid: s.czxid,
                    mzxid: s.mzxid,
                    ctime: s.ctime,
                    mtime: s.mtime,
                    version: s.version,
                    cversion: s.cversion,
                    aversion: s.aversion,
                    ephemeral_owner: s.ephemeral_owner,
                    pzxid: s.pzxid,
                },
                children: n.children.clone(),
            },
        );
    }
    zk
}

/// Writes `<out>/version-2/snapshot.<zxid in hex>` (fsynced) for ZooKeeper to load; returns its
/// path.
pub fn write_snapshot(zk: &ZkTree, out: &Path) -> Result<PathBuf, ZkError> {
    use std::io::Write;
    let dir = out.join("version-2");
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let path = dir.join(format!("snapshot.{:x}", zk.last_zxid as u64));
    let tmp = dir.join(format!(".snapshot.{:x}.tmp", zk.last_zxid as u64));
    let bytes = snapshot::write(zk);
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests;
