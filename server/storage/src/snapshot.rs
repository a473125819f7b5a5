//! [`SnapshotStore`]: atomically written, checksummed snapshot files with retention.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, StorageError};
use crate::fsutil::{self, le_u32, le_u64, TMP_SUFFIX};

const SNAP_MAGIC: &[u8; 4] = b"RZKS";
const SNAP_VERSION: u32 = 1;
const SNAP_HEADER: usize = 32;
const SNAP_TRAILER: usize = 4;
const SNAP_PREFIX: &str = "snap.";

/// Identifies a stored snapshot by the last log index it includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId(pub u64);

impl SnapshotId {
    /// The last log index covered by the snapshot.
    pub fn last_index(self) -> u64 {
        self.0
    }
}

/// A snapshot read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Which snapshot this is.
    pub id: SnapshotId,
    /// Opaque caller metadata (e.g. serialized openraft `SnapshotMeta`).
    pub meta: Vec<u8>,
    /// Opaque snapshot payload.
    pub data: Vec<u8>,
}

/// Tuning for [`SnapshotStore`].
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// How many of the newest snapshots to keep (at least 1). Default 3.
    pub keep: usize,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions { keep: 3 }
    }
}

/// A directory of snapshot files `snap.<last_index, 20 digits>`.
///
/// [`save`](SnapshotStore::save) is atomic and durable (tmp file, fsync, rename, dir fsync);
/// each file carries a CRC32 over header, meta and data. [`load_latest`](SnapshotStore::load_latest)
/// returns the newest snapshot that verifies, skipping (with a warning) damaged ones.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    keep: usize,
}

fn file_name(id: SnapshotId) -> String {
    format!("{SNAP_PREFIX}{:020}", id.0)
}

fn parse_name(name: &str) -> Option<SnapshotId> {
    let digits = name.strip_prefix(SNAP_PREFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(SnapshotId)
}

fn decode(path: &Path, id: SnapshotId, buf: Vec<u8>) -> Result<Snapshot, StorageError> {
    let total = buf.len();
    if total < SNAP_HEADER + SNAP_TRAILER {
        return Err(StorageError::corrupt(
            path,
            0,
            format!("file too short ({total} bytes)"),
        ));
    }
    if &buf[0..4] != SNAP_MAGIC {
        return Err(StorageError::corrupt(path, 0, "bad magic"));
    }
    let version = le_u32(&buf, 4).unwrap_or(0);
    if version != SNAP_VERSION {
        return Err(StorageError::corrupt(
            path,
            4,
            format!("unsupported version {version}"),
        ));
    }
    let last_index = le_u64(&buf, 8).unwrap_or(0);
    if last_index != id.0 {
        return Err(StorageError::corrupt(
            path,
            8,
            format!("header index {last_index} does not match file name"),
        ));
    }
    let meta_len = le_u64(&buf, 16).unwrap_or(u64::MAX);
    let data_len = le_u64(&buf, 24).unwrap_or(u64::MAX);
    let expected = meta_len
        .checked_add(data_len)
        .and_then(|n| n.checked_add((SNAP_HEADER + SNAP_TRAILER) as u64));
    if expected != Some(total as u64) {
        return Err(StorageError::corrupt(
            path,
            16,
            format!("lengths (meta {meta_len}, data {data_len}) do not match file size {total}"),
        ));
    }
    let body_end = total - SNAP_TRAILER;
    let stored_crc = le_u32(&buf, body_end).unwrap_or(0);
    if crc32fast::hash(&buf[..body_end]) != stored_crc {
        return Err(StorageError::corrupt(
            path,
            body_end as u64,
            "checksum mismatch",
        ));
    }
    let meta_end = SNAP_HEADER + meta_len as usize;
    let meta = buf[SNAP_HEADER..meta_end].to_vec();
    let mut data = buf;
    data.truncate(body_end);
    data.drain(..meta_end);
    Ok(Snapshot { id, meta, data })
}

impl SnapshotStore {
    /// Opens (creating if needed) the snapshot directory and removes leftover temp files.
    pub fn open(dir: &Path, opts: SnapshotOptions) -> Result<SnapshotStore, StorageError> {
        fs::create_dir_all(dir).at(dir)?;
        for ent in fs::read_dir(dir).at(dir)? {
            let ent = ent.at(dir)?;
            if let Some(n) = ent.file_name().to_str() {
                if let Some(base) = n.strip_suffix(TMP_SUFFIX) {
                    if parse_name(base).is_some() {
                        fsutil::remove_file_if_exists(&ent.path())?;
                    }
                }
            }
        }
        Ok(SnapshotStore {
            dir: dir.to_path_buf(),
            keep: opts.keep.max(1),
        })
    }

    /// The directory backing this store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the file holding snapshot `id` (whether or not it exists).
    pub fn path_of(&self, id: SnapshotId) -> PathBuf {
        self.dir.join(file_name(id))
    }

    /// Ids of all snapshot files present (valid or not), oldest first.
    pub fn list(&self) -> Result<Vec<SnapshotId>, StorageError> {
        let mut ids = Vec::new();
        for ent in fs::read_dir(&self.dir).at(&self.dir)? {
            let ent = ent.at(&self.dir)?;
            if let Some(id) = ent.file_name().to_str().and_then(parse_name) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Atomically and durably stores a snapshot covering the log up to `last_index`,
    /// then deletes all but the newest `keep` snapshots (by index). Saving an index that
    /// already exists replaces it.
    pub fn save(
        &self,
        last_index: u64,
        meta: &[u8],
        data: &[u8],
    ) -> Result<SnapshotId, StorageError> {
        let id = SnapshotId(last_index);
        let mut header = Vec::with_capacity(SNAP_HEADER);
        header.extend_from_slice(SNAP_MAGIC);
        header.extend_from_slice(&SNAP_VERSION.to_le_bytes());
        header.extend_from_slice(&last_index.to_le_bytes());
        header.extend_from_slice(&(meta.len() as u64).to_le_bytes());
        header.extend_from_slice(&(data.len() as u64).to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&header);
        h.update(meta);
        h.update(data);
        let crc = h.finalize().to_le_bytes();
        fsutil::atomic_write(&self.dir, &file_name(id), &[&header, meta, data, &crc])?;

        let ids = self.list()?;
        if ids.len() > self.keep {
            let excess = ids.len() - self.keep;
            for old in &ids[..excess] {
                tracing::debug!(snapshot = old.0, "removing old snapshot");
                fsutil::remove_file_if_exists(&self.path_of(*old))?;
            }
            fsutil::sync_dir(&self.dir)?;
        }
        Ok(id)
    }

    /// Loads and verifies snapshot `id`: `Ok(None)` if absent, `Corrupt` if damaged.
    pub fn load(&self, id: SnapshotId) -> Result<Option<Snapshot>, StorageError> {
        let path = self.path_of(id);
        match fsutil::read_optional(&path)? {
            None => Ok(None),
            Some(buf) => decode(&path, id, buf).map(Some),
        }
    }

    /// Returns the newest snapshot that verifies. Damaged or partial snapshot files are
    /// skipped with a `tracing::warn!` (they are left on disk for inspection).
    pub fn load_latest(&self) -> Result<Option<Snapshot>, StorageError> {
        for id in self.list()?.into_iter().rev() {
            match self.load(id) {
                Ok(Some(s)) => return Ok(Some(s)),
                Ok(None) => continue,
                Err(e @ StorageError::Corrupt { .. }) => {
                    tracing::warn!(snapshot = id.0, error = %e, "skipping corrupt snapshot");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}
