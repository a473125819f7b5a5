//! Data directories made from another store (rzk-server's `import-zookeeper`), and the state of
//! a stopped member's data directory (`export-zookeeper`).
//!
//! An imported directory is what a member would hold after installing a snapshot: a snapshot
//! at Raft log index `index` (term 0, as `initialize()`'s first entry), an empty log purged up to
//! it, and the `initialized` marker, so the member starts as part of an existing cluster and
//! never calls `initialize()`. openraft then resumes at `index`: every later zxid
//! (`index << 20 | position`) is above the zxids the imported tree holds, as long as
//! `index > foreign_last_zxid >> 20` ([`import_index`]).

use crate::format;
use crate::types::*;
use openraft::{CommittedLeaderId, EntryPayload, Membership};
use rzk_storage::{LogOptions, MetaStore, SnapshotOptions, SnapshotStore};
use rzk_tree::DataTree;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Storage(#[from] rzk_storage::StorageError),
    #[error(transparent)]
    Format(#[from] format::FormatError),
    #[error("{0}")]
    Invalid(String),
}

/// The Raft log index an imported state is placed at: the first whose zxids are all above
/// `foreign_last_zxid`.
pub fn import_index(foreign_last_zxid: i64) -> u64 {
    index_of(foreign_last_zxid.max(0)) + 1
}

/// The zxid of the imported state itself (its tree's `last_zxid`).
pub fn import_zxid(index: u64) -> i64 {
    zxid_of(index, 0)
}

/// Writes a new Raft data directory `dir` (what `RaftNodeConfig::dir` names: `log/`, `meta/`,
/// `snapshots/`) holding `tree` as applied at log index `index`, with `members` (voters, plus
/// the `observers` among them as learners) as the committed membership. The snapshot is in
/// today's format at the newest feature level: every member of the new cluster runs this
/// release or a later one. `dir` must not hold a Raft state already.
pub fn write_imported(
    dir: &Path,
    tree: &DataTree,
    members: BTreeMap<u64, Member>,
    observers: &BTreeSet<u64>,
    index: u64,
) -> Result<(), ImportError> {
    let voters: BTreeSet<u64> = members
        .keys()
        .filter(|id| !observers.contains(id))
        .copied()
        .collect();
    if voters.is_empty() {
        return Err(ImportError::Invalid("the membership has no voter".into()));
    }
    if index == 0 {
        return Err(ImportError::Invalid("log index 0 is reserved".into()));
    }
    let meta_dir = dir.join("meta");
    let meta = MetaStore::open(&meta_dir)?;
    if meta.load(crate::bootstrap::INITIALIZED)?.is_some() {
        return Err(ImportError::Invalid(format!(
            "{} already belongs to a cluster",
            dir.display()
        )));
    }
    let log_id: LogId = openraft::LogId::new(CommittedLeaderId::new(0, 0), index);
    let membership = StoredMembership::new(Some(log_id), Membership::new(vec![voters], members));
    let level = crate::network::hello::FEATURE_LEVEL_MAX;
    let fmt = format::snapshot_format_for(level);
    let data = format::encode_snapshot_body(fmt, Some(log_id), &membership, level, tree)?;
    let snap_meta = SnapshotMeta {
        last_log_id: Some(log_id),
        last_membership: membership,
        snapshot_id: format!("{index}-0"),
    };
    let meta_bytes = format::encode_snapshot_meta(fmt, &snap_meta)?;
    let snaps = SnapshotStore::open(&dir.join("snapshots"), SnapshotOptions { keep: 3 })?;
    snaps.save(index, &meta_bytes, &data)?;
    // The log: empty, purged up to the snapshot (openraft reads `purged` as last_purged_log_id).
    let (mut log, _) = rzk_storage::LogStore::open(&dir.join("log"), LogOptions::default())?;
    log.purge_upto(index)?;
    log.sync()?;
    meta.save(crate::log_store::PURGED, &format::encode_meta(&log_id)?)?;
    meta.save(crate::bootstrap::INITIALIZED, &format::marker(b"imported"))?;
    Ok(())
}

/// The state of a (stopped) member's Raft data directory: its newest snapshot with every
/// logged entry after it applied, and the last log index. Entries past the commit point (not
/// recorded on disk) are applied too: on a member that was stopped cleanly they are committed.
pub fn read_state(dir: &Path) -> Result<(DataTree, u64), ImportError> {
    let snaps = SnapshotStore::open(&dir.join("snapshots"), SnapshotOptions { keep: usize::MAX })?;
    let (mut tree, mut last) = match snaps.load_latest()? {
        Some(s) => {
            let body = format::decode_snapshot_body(&s.data)?;
            let mut t = body.tree;
            t.rebuild_indexes();
            (t, body.last_applied.map_or(0, |l| l.index))
        }
        None => (DataTree::new(), 0),
    };
    let opts = LogOptions {
        v1_payload_prefix: format::V1_PREFIX.to_vec(),
        ..LogOptions::default()
    };
    let (log, _) = rzk_storage::LogStore::open(&dir.join("log"), opts)?;
    for (index, bytes) in log.range(last + 1..) {
        let e = format::decode_entry(&bytes)?;
        match e.payload {
            EntryPayload::Normal(batch) => {
                for (pos, entry) in batch.iter().enumerate() {
                    tree.apply(zxid_of(index, pos), entry);
                }
            }
            EntryPayload::Blank | EntryPayload::Membership(_) => {
                tree.apply(
                    zxid_of(index, 0),
                    &rzk_tree::Entry {
                        time_ms: 0,
                        cmd: rzk_tree::Command::Noop,
                    },
                );
            }
        }
        last = index;
    }
    Ok((tree, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_tree::{Acl, SessionInfo, Stat};

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rzk-import-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn imported_dir_reads_back_at_its_index_and_is_written_once() {
        let zk_last = 0x5_0000_1234i64;
        let index = import_index(zk_last);
        assert!(zxid_of(index, 0) > zk_last);
        let stat = Stat {
            czxid: 0x5_0000_0001,
            mzxid: zk_last,
            version: 7,
            cversion: 3,
            ephemeral_owner: 0x42,
            ..Stat::default()
        };
        let sessions = BTreeMap::from([(
            0x42,
            SessionInfo {
                timeout_ms: 30000,
                passwd: vec![1; 16],
            },
        )]);
        let tree = DataTree::from_parts(
            [(
                "/e".to_string(),
                Some(b"x".to_vec()),
                Acl::world_all(),
                stat,
            )],
            sessions,
            import_zxid(index),
        )
        .unwrap();
        let dir = tmpdir("roundtrip");
        let members = BTreeMap::from([(1, Member::default())]);
        write_imported(&dir, &tree, members.clone(), &BTreeSet::new(), index).unwrap();
        let (back, last) = read_state(&dir).unwrap();
        assert_eq!(last, index);
        assert_eq!(back.last_zxid(), import_zxid(index));
        assert_eq!(back.exists("/e").unwrap().version, 7);
        assert_eq!(back.ephemerals_of(0x42, "/"), vec!["/e".to_string()]);
        assert!(matches!(
            write_imported(&dir, &tree, members, &BTreeSet::new(), index),
            Err(ImportError::Invalid(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
