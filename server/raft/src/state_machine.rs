//! openraft's RaftStateMachine over rzk-tree's DataTree, with snapshots in rzk-storage.

use crate::format::{self, SnapshotBody};
use crate::types::*;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder};
use parking_lot::RwLock;
use rzk_storage::SnapshotStore;
use rzk_tree::{CmdResult, DataTree, WatchEvent};
use std::io::Cursor;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Called for every applied entry while the tree is still write-locked, so watch notifications are
/// queued before any later read can observe the change.
pub trait ApplyHook: Send + Sync + 'static {
    /// `entry` is `None` for Raft-internal entries (leader blank, membership).
    fn applied(&self, zxid: i64, entry: Option<&rzk_tree::Entry>, events: &[WatchEvent]);
}

fn sto_err(verb: ErrorVerb, e: impl std::error::Error + 'static) -> StorageError {
    openraft::StorageIOError::new(
        ErrorSubject::StateMachine,
        verb,
        openraft::AnyError::new(&e),
    )
    .into()
}

pub struct StateMachine {
    pub(crate) tree: Arc<RwLock<DataTree>>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshots: SnapshotStore,
    hook: Arc<dyn ApplyHook>,
    /// The cluster feature level as of `last_applied` (shared with the node's status).
    feature_level: Arc<AtomicU32>,
    /// Transactions applied, for the snapshot policy.
    counters: Arc<crate::snapshot_policy::Counters>,
}

impl StateMachine {
    /// Restores from the newest valid snapshot in `snapshots` (if any) into `tree`.
    pub fn open(
        tree: Arc<RwLock<DataTree>>,
        snapshots: SnapshotStore,
        hook: Arc<dyn ApplyHook>,
        feature_level: Arc<AtomicU32>,
        counters: Arc<crate::snapshot_policy::Counters>,
    ) -> Result<Self, rzk_storage::StorageError> {
        feature_level.store(format::FEATURE_LEVEL_V1, Ordering::SeqCst);
        let mut sm = StateMachine {
            tree,
            last_applied: None,
            membership: StoredMembership::default(),
            snapshots,
            hook,
            feature_level,
            counters,
        };
        if let Some(snap) = sm.snapshots.load_latest()? {
            match (
                format::decode_snapshot_meta(&snap.meta),
                format::decode_snapshot_body(&snap.data),
            ) {
                (Ok(_meta), Ok(body)) => {
                    sm.install(body);
                    tracing::info!(
                        last_applied = ?sm.last_applied,
                        feature_level = sm.feature_level.load(Ordering::SeqCst),
                        "restored snapshot"
                    );
                }
                (Err(e), _) | (_, Err(e)) => {
                    return Err(rzk_storage::StorageError::Failed(format!(
                        "snapshot {:?} passed its checksum but does not decode: {e}",
                        snap.id
                    )))
                }
            }
        }
        Ok(sm)
    }

    fn install(&mut self, mut body: SnapshotBody) {
        body.tree.rebuild_indexes();
        let mut tree = self.tree.write();
        // enforceQuota is this member's configuration, not part of the snapshot: keep it.
        let enforce = tree.enforce_quota();
        body.tree.set_enforce_quota(enforce);
        *tree = body.tree;
        drop(tree);
        self.last_applied = body.last_applied;
        self.membership = body.membership;
        self.feature_level
            .store(body.feature_level, Ordering::SeqCst);
    }

    /// What a snapshot of the state as of now needs, taken quickly: a copy of the tree's
    /// replicated part ([`rzk_tree::TreeImage`]) under the read lock. Encoding and writing the
    /// file happen later, in [`Builder::build_snapshot`], while applies go on.
    fn prepare(&self) -> Prepared {
        let level = self.feature_level.load(Ordering::SeqCst);
        let started = std::time::Instant::now();
        let image = self.tree.read().image();
        tracing::debug!(
            znodes = image.node_count(),
            copy_ms = started.elapsed().as_millis() as u64,
            "snapshot image taken"
        );
        Prepared {
            image,
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            feature_level: level,
            snapshots: self.snapshots.clone(),
        }
    }
}

struct Prepared {
    image: rzk_tree::TreeImage,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    feature_level: u32,
    snapshots: SnapshotStore,
}

impl Prepared {
    /// Encodes (in the newest format every member can read: followers may be sent it) and
    /// writes the snapshot file (fsynced, atomically renamed).
    fn write(self) -> Result<(SnapshotMeta, Vec<u8>), StorageError> {
        let fmt = format::snapshot_format_for(self.feature_level);
        let data = format::encode_snapshot_body(
            fmt,
            self.last_applied,
            &self.membership,
            self.feature_level,
            &self.image,
        )
        .map_err(|e| sto_err(ErrorVerb::Write, e))?;
        drop(self.image);
        let idx = self.last_applied.map_or(0, |l| l.index);
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership,
            snapshot_id: format!(
                "{}-{}",
                idx,
                self.last_applied.map_or(0, |l| l.leader_id.term)
            ),
        };
        let meta_bytes =
            format::encode_snapshot_meta(fmt, &meta).map_err(|e| sto_err(ErrorVerb::Write, e))?;
        self.snapshots
            .save(idx, &meta_bytes, &data)
            .map_err(|e| sto_err(ErrorVerb::Write, e))?;
        Ok((meta, data))
    }
}

/// Builds a snapshot of the state machine as of the moment it was created (openraft runs
/// `build_snapshot` in a task of its own; the work runs on a blocking thread).
pub struct Builder {
    prepared: Option<Prepared>,
}

impl RaftSnapshotBuilder<TypeConfig> for Builder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let prepared = self.prepared.take().ok_or_else(|| {
            sto_err(
                ErrorVerb::Write,
                std::io::Error::other("snapshot builder used twice"),
            )
        })?;
        let started = std::time::Instant::now();
        let (meta, data) = tokio::task::spawn_blocking(move || prepared.write())
            .await
            .map_err(|e| sto_err(ErrorVerb::Write, std::io::Error::other(e.to_string())))??;
        tracing::info!(
            last_log_id = ?meta.last_log_id,
            bytes = data.len(),
            ms = started.elapsed().as_millis() as u64,
            "snapshot written"
        );
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Builder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<CmdResult>>, StorageError>
    where
        I: IntoIterator<Item = RaftEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        let mut tree = self.tree.write();
        for e in entries {
            let index = e.log_id.index;
            self.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => {
                    let zxid = zxid_of(index, 0);
                    tree.apply(
                        zxid,
                        &rzk_tree::Entry {
                            time_ms: 0,
                            cmd: rzk_tree::Command::Noop,
                        },
                    );
                    self.hook.applied(zxid, None, &[]);
                    out.push(Vec::new());
                }
                EntryPayload::Normal(batch) => {
                    self.counters
                        .txns
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    let mut results = Vec::with_capacity(batch.len());
                    for (pos, entry) in batch.iter().enumerate() {
                        let zxid = zxid_of(index, pos);
                        let (r, events) = tree.apply(zxid, entry);
                        if let rzk_tree::Command::SetFeatureLevel { level } = entry.cmd {
                            // Levels only go up (a stale proposal is a no-op).
                            let old = self.feature_level.fetch_max(level, Ordering::SeqCst);
                            if level > old {
                                tracing::info!(
                                    from = old,
                                    to = level,
                                    zxid,
                                    "cluster feature level raised"
                                );
                            }
                        }
                        self.hook.applied(zxid, Some(entry), &events);
                        results.push(r);
                    }
                    out.push(results);
                }
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(e.log_id), m);
                    let zxid = zxid_of(index, 0);
                    tree.apply(
                        zxid,
                        &rzk_tree::Entry {
                            time_ms: 0,
                            cmd: rzk_tree::Command::Noop,
                        },
                    );
                    self.hook.applied(zxid, None, &[]);
                    out.push(Vec::new());
                }
            }
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Called from the state machine task: no apply runs while the image is copied.
        Builder {
            prepared: Some(self.prepare()),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let body: SnapshotBody =
            format::decode_snapshot_body(&data).map_err(|e| sto_err(ErrorVerb::Read, e))?;
        let fmt = format::snapshot_format_for(body.feature_level);
        let meta_bytes =
            format::encode_snapshot_meta(fmt, meta).map_err(|e| sto_err(ErrorVerb::Write, e))?;
        self.snapshots
            .save(meta.last_log_id.map_or(0, |l| l.index), &meta_bytes, &data)
            .map_err(|e| sto_err(ErrorVerb::Write, e))?;
        self.install(body);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        // Read back from its file: no copy of the snapshot stays in memory between uses.
        let Some(snap) = self
            .snapshots
            .load_latest()
            .map_err(|e| sto_err(ErrorVerb::Read, e))?
        else {
            return Ok(None);
        };
        let meta =
            format::decode_snapshot_meta(&snap.meta).map_err(|e| sto_err(ErrorVerb::Read, e))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(snap.data)),
        }))
    }
}
