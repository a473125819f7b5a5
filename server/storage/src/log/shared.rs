//! State shared by the write side and every [`LogReader`]: the in-memory bounds and tail
//! cache, the read index of the segment files, the poison flag and counters.

use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::mem::{MemLog, Slot};
use super::segment::{read_record, SegRead};
use super::{Entries, LogStats};
use crate::error::StorageError;

#[derive(Debug, Default)]
pub(crate) struct Shared {
    mem: RwLock<MemLog>,
    segs: RwLock<Vec<SegRead>>,
    /// Put in front of payloads read from version-1 segments.
    pub(crate) v1_prefix: Vec<u8>,
    /// Cached bytes allowed once entries are on disk.
    pub(crate) cache_budget: usize,
    failed: Mutex<Option<String>>,
    pub(crate) appends: AtomicU64,
    pub(crate) entries: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) disk_reads: AtomicU64,
}

impl Shared {
    pub(crate) fn new(v1_prefix: Vec<u8>, cache_budget: usize) -> Self {
        Shared {
            v1_prefix,
            cache_budget,
            ..Shared::default()
        }
    }

    pub(crate) fn mem_read(&self) -> RwLockReadGuard<'_, MemLog> {
        self.mem.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn mem_write(&self) -> RwLockWriteGuard<'_, MemLog> {
        self.mem.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn segs_read(&self) -> RwLockReadGuard<'_, Vec<SegRead>> {
        self.segs.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn segs_write(&self) -> RwLockWriteGuard<'_, Vec<SegRead>> {
        self.segs.write().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(Failed)` if the store has been poisoned by an earlier error.
    pub(crate) fn check_ok(&self) -> Result<(), StorageError> {
        match &*self.failed.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(msg) => Err(StorageError::Failed(msg.clone())),
            None => Ok(()),
        }
    }

    pub(crate) fn poison(&self, err: &StorageError) {
        let mut f = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            tracing::error!(error = %err, "log store failed; further writes are refused until reopen");
            *f = Some(err.to_string());
        }
    }

    pub(crate) fn stats(&self) -> LogStats {
        let mem = self.mem_read();
        LogStats {
            appends: self.appends.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            disk_reads: self.disk_reads.load(Ordering::Relaxed),
            retained: mem.len(),
            cached_bytes: mem.cache_bytes() as u64,
        }
    }

    /// After the writer made everything up to `written` durable: shrink the cache to its
    /// budget (see `MemLog::evict`).
    pub(crate) fn evict(&self, written: Option<u64>, truncations: u64) {
        self.mem_write()
            .evict(written, truncations, self.cache_budget);
    }

    fn read_disk(&self, index: u64) -> Result<Arc<[u8]>, StorageError> {
        self.disk_reads.fetch_add(1, Ordering::Relaxed);
        let segs = self.segs_read();
        let k = segs.partition_point(|s| s.first <= index);
        let seg = k
            .checked_sub(1)
            .and_then(|k| segs.get(k))
            .ok_or_else(|| StorageError::Failed(format!("entry {index} is in no segment")))?;
        read_record(seg, index, &self.v1_prefix)
    }

    fn try_get(&self, index: u64) -> Result<Option<Arc<[u8]>>, StorageError> {
        let slot = self.mem_read().get(index);
        match slot {
            None => Ok(None),
            Some(Slot::Cached(d)) => Ok(Some(d)),
            Some(Slot::OnDisk) => self.read_disk(index).map(Some),
        }
    }

    fn try_range(&self, r: &impl RangeBounds<u64>) -> Result<Entries, StorageError> {
        let (disk, cached) = self.mem_read().range(r);
        let mut out = Vec::new();
        if let Some((a, b)) = disk {
            out.reserve((b - a + 1) as usize + cached.len());
            for i in a..=b {
                out.push((i, self.read_disk(i)?));
            }
        }
        out.extend(cached);
        Ok(out)
    }
}

/// A cheap, cloneable, thread-safe read handle onto a log's entries: the newest from memory,
/// older ones from the segment files.
///
/// Obtained from [`LogStore::reader`](super::LogStore::reader) or
/// [`LogWriter::reader`](crate::LogWriter::reader).
#[derive(Debug, Clone)]
pub struct LogReader {
    shared: Arc<Shared>,
}

impl LogReader {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        LogReader { shared }
    }

    /// Smallest retained index, `None` if the log is empty.
    pub fn first_index(&self) -> Option<u64> {
        self.shared.mem_read().first_index()
    }

    /// Largest retained index, `None` if the log is empty.
    pub fn last_index(&self) -> Option<u64> {
        self.shared.mem_read().last_index()
    }

    /// Highest index passed to a purge, if any.
    pub fn last_purged(&self) -> Option<u64> {
        self.shared.mem_read().purged
    }

    /// Payload of entry `index`, if retained; a failed disk read is an error.
    pub fn try_get(&self, index: u64) -> Result<Option<Arc<[u8]>>, StorageError> {
        self.shared.try_get(index)
    }

    /// All retained entries whose index lies in `r`, in order; a failed disk read is an error.
    pub fn try_range(&self, r: impl RangeBounds<u64>) -> Result<Entries, StorageError> {
        self.shared.try_range(&r)
    }

    /// Payload of entry `index`, if retained (`None` also if reading it failed; see `try_get`).
    pub fn get(&self, index: u64) -> Option<Arc<[u8]>> {
        log_failure(self.try_get(index)).flatten()
    }

    /// All retained entries in `r` (empty if a read failed; see `try_range`).
    pub fn range(&self, r: impl RangeBounds<u64>) -> Entries {
        log_failure(self.try_range(r)).unwrap_or_default()
    }

    /// Current counters.
    pub fn stats(&self) -> LogStats {
        self.shared.stats()
    }
}

pub(crate) fn log_failure<T>(r: Result<T, StorageError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!(error = %e, "reading the log failed");
            None
        }
    }
}
