//! [`LogStore`]: the segmented, checksummed, append-only log.
//!
//! * `segment` — file names, the record format, the recovery scan, positioned reads;
//! * `disk` — the write side (active segment, truncation, purge);
//! * `mem` — the in-memory bounds and the bounded cache of the newest payloads;
//! * `shared` — what readers share with the writer, and [`LogReader`].

mod disk;
mod mem;
mod segment;
mod shared;

use std::fs::{self, OpenOptions};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, StorageError};
use crate::fsutil::{self, le_u64, TMP_SUFFIX};
use crate::meta::read_meta_file;
pub(crate) use disk::DiskLog;
use mem::MemLog;
use segment::{parse_segment_name, scan_segment, Scanned, Segment};
pub use shared::LogReader;
pub(crate) use shared::Shared;

/// Magic bytes at the start of every segment file.
pub const SEGMENT_MAGIC: &[u8; 4] = b"RZKL";
/// Segment format version written by this code. Version 1 (rzk 0.1.0) is read too.
pub const SEGMENT_VERSION: u32 = 2;
/// The first segment format (rzk 0.1.0): records hold the caller's payload without the
/// format tag that version 2 payloads carry; see [`LogOptions::v1_payload_prefix`].
pub const SEGMENT_VERSION_V1: u32 = 1;
/// Size of the segment file header (magic, version, first index).
pub const SEGMENT_HEADER_LEN: usize = 16;
/// Size of the per-record header (length, crc, index).
pub const RECORD_HEADER_LEN: usize = 16;

/// Entries with their payloads, in index order.
pub type Entries = Vec<(u64, Arc<[u8]>)>;

const SEGMENT_PREFIX: &str = "log.";
const PURGED_FILE: &str = "purged";

/// Tuning knobs for [`LogStore`].
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// A new segment file is started when appending a record would make the active
    /// segment exceed this many bytes (a single larger record gets a segment of its own).
    /// Default: 64 MiB.
    pub segment_bytes: u64,
    /// Capacity of the in-process write buffer in front of the active segment; buffered
    /// bytes reach the file at the latest on [`LogStore::sync`]. Default: 256 KiB.
    pub write_buffer_bytes: usize,
    /// Bytes put in front of every payload read from a version-1 segment, so that callers
    /// see one payload shape: version-2 payloads begin with the caller's own format tag,
    /// version-1 payloads (rzk 0.1.0) had none. Default: empty.
    pub v1_payload_prefix: Vec<u8>,
    /// Payload bytes of the newest entries kept in memory once they are durable; older
    /// entries are read from the segment files. Entries not yet fsynced are always kept.
    /// Default: 16 MiB.
    pub cache_bytes: usize,
}

impl LogOptions {
    /// Default options with a different segment size.
    pub fn with_segment_bytes(segment_bytes: u64) -> Self {
        LogOptions {
            segment_bytes,
            ..LogOptions::default()
        }
    }
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: 64 * 1024 * 1024,
            write_buffer_bytes: 256 * 1024,
            v1_payload_prefix: Vec::new(),
            cache_bytes: 16 * 1024 * 1024,
        }
    }
}

/// What [`LogStore::open`] found and repaired.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// Segment files in use after recovery.
    pub segments: usize,
    /// Number of (non-purged) entries found (their payloads stay on disk).
    pub entries: u64,
    /// Torn or corrupt tails that were cut off the last segment.
    pub truncated: Vec<TailTruncation>,
    /// Files deleted during recovery (empty/torn-header last segment, segments wholly
    /// covered by an interrupted purge).
    pub removed_files: Vec<PathBuf>,
}

/// One torn tail removed during recovery.
#[derive(Debug, Clone)]
pub struct TailTruncation {
    /// Segment file that was truncated.
    pub path: PathBuf,
    /// New length of the file (offset of the first bad byte).
    pub offset: u64,
    /// How many bytes were discarded.
    pub discarded_bytes: u64,
    /// Why the data at `offset` was rejected.
    pub reason: String,
}

/// Counters exposed for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Append requests processed (one per [`LogStore::append`] call or
    /// [`LogWriter::append_async`](crate::LogWriter::append_async) request).
    pub appends: u64,
    /// Entries written.
    pub entries: u64,
    /// fsyncs issued on segment files (group commits plus segment seals/truncations).
    pub syncs: u64,
    /// Entries read back from segment files (cache misses).
    pub disk_reads: u64,
    /// Entries retained (not purged).
    pub retained: u64,
    /// Payload bytes held in the in-memory cache.
    pub cached_bytes: u64,
}

// ---------------------------------------------------------------------------------------

/// A segmented, append-only log of opaque payloads keyed by a `u64` index.
///
/// Memory holds the bounds, each record's position, and the newest payloads up to
/// [`LogOptions::cache_bytes`]; older entries are read from the files. Writes go to the active
/// segment file through a buffer and become durable on [`sync`](LogStore::sync). See the crate
/// docs for the file format. For concurrent use with group commit, wrap it in a
/// [`LogWriter`](crate::LogWriter).
#[derive(Debug)]
pub struct LogStore {
    pub(crate) disk: DiskLog,
    pub(crate) shared: Arc<Shared>,
}

impl LogStore {
    /// Opens (creating if needed) the log in `dir`: scans the segment files in index order,
    /// verifies every record's checksum and rebuilds the in-memory index.
    ///
    /// A torn or corrupt *tail* of the last segment (partial record, bad checksum, garbage
    /// at the end) is truncated away with a `tracing::warn!` naming file, offset and reason,
    /// and listed in the returned [`RecoveryReport`]. Damage anywhere else (a bad record
    /// followed by valid ones, a bad record in a sealed segment, a gap between indices)
    /// is [`StorageError::Corrupt`].
    pub fn open(dir: &Path, opts: LogOptions) -> Result<(LogStore, RecoveryReport), StorageError> {
        fs::create_dir_all(dir).at(dir)?;
        let mut report = RecoveryReport::default();
        let mut dir_changed = false;

        let purged = match read_meta_file(&dir.join(PURGED_FILE))? {
            None => None,
            Some(v) => Some(le_u64(&v, 0).filter(|_| v.len() == 8).ok_or_else(|| {
                StorageError::corrupt(dir.join(PURGED_FILE), 0, "purge marker is not a u64")
            })?),
        };

        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        for ent in fs::read_dir(dir).at(dir)? {
            let ent = ent.at(dir)?;
            let fname = ent.file_name();
            let Some(name) = fname.to_str() else { continue };
            if name == format!("{PURGED_FILE}{TMP_SUFFIX}") {
                fsutil::remove_file_if_exists(&ent.path())?;
                dir_changed = true;
            } else if let Some(first) = parse_segment_name(name) {
                names.push((first, ent.path()));
            }
        }
        names.sort_by_key(|(first, _)| *first);

        let shared = Arc::new(Shared::new(
            opts.v1_payload_prefix.clone(),
            opts.cache_bytes,
        ));
        let mut segments: Vec<Segment> = Vec::new();
        let mut mem = MemLog::with_purged(purged);
        let count = names.len();
        for (i, (first, path)) in names.iter().enumerate() {
            let is_last = i + 1 == count;
            // A segment whose successor starts at or below purged+1 is wholly purged
            // (an interrupted purge): delete without reading.
            if let (Some(p), Some((next_first, _))) = (purged, names.get(i + 1)) {
                if *next_first <= p.saturating_add(1) {
                    fsutil::remove_file_if_exists(path)?;
                    report.removed_files.push(path.clone());
                    dir_changed = true;
                    continue;
                }
            }
            let buf = fs::read(path).at(path)?;
            let (offsets, tail, version) = match scan_segment(path, *first, &buf, is_last)? {
                Scanned::TornHeader(reason) => {
                    tracing::warn!(file = %path.display(), offset = 0, %reason, "removing torn segment at end of log");
                    fs::remove_file(path).at(path)?;
                    report.removed_files.push(path.clone());
                    dir_changed = true;
                    continue;
                }
                Scanned::Ok {
                    offsets,
                    tail,
                    version,
                } => (offsets, tail, version),
            };
            let mut size = buf.len() as u64;
            if let Some((offset, reason)) = tail {
                tracing::warn!(
                    file = %path.display(),
                    offset,
                    %reason,
                    discarded_bytes = size - offset,
                    "truncating torn/corrupt tail of log"
                );
                let f = OpenOptions::new().write(true).open(path).at(path)?;
                f.set_len(offset).at(path)?;
                f.sync_all().at(path)?;
                report.truncated.push(TailTruncation {
                    path: path.clone(),
                    offset,
                    discarded_bytes: size - offset,
                    reason,
                });
                size = offset;
            }
            if offsets.is_empty() {
                if !is_last {
                    return Err(StorageError::corrupt(
                        path,
                        SEGMENT_HEADER_LEN as u64,
                        "sealed segment has no records",
                    ));
                }
                tracing::info!(file = %path.display(), "removing empty last segment");
                fs::remove_file(path).at(path)?;
                report.removed_files.push(path.clone());
                dir_changed = true;
                continue;
            }
            if let Some(prev) = segments.last() {
                let expected = prev.last().map(|l| l + 1).unwrap_or(prev.first);
                if *first != expected {
                    return Err(StorageError::corrupt(
                        path,
                        0,
                        format!(
                            "gap between segments: expected first index {expected}, found {first}"
                        ),
                    ));
                }
            }
            drop(buf);
            for k in 0..offsets.len() {
                let index = first + k as u64;
                if purged.is_none_or(|p| index > p) {
                    mem.push_on_disk(index);
                }
            }
            segments.push(Segment {
                first: *first,
                path: path.clone(),
                offsets,
                size,
                version,
            });
        }
        // A last segment entirely <= purged (interrupted purge of the whole log).
        while let (Some(p), Some(seg)) = (purged, segments.first()) {
            if seg.last().is_some_and(|l| l <= p) {
                fs::remove_file(&seg.path).at(&seg.path)?;
                report.removed_files.push(seg.path.clone());
                segments.remove(0);
                dir_changed = true;
            } else {
                break;
            }
        }
        if dir_changed {
            fsutil::sync_dir(dir)?;
        }

        report.segments = segments.len();
        report.entries = mem.len();
        *shared.mem_write() = mem;
        let mut disk = DiskLog {
            dir: dir.to_path_buf(),
            opts,
            segments,
            active: None,
            purged,
            dirty: false,
            dir_dirty: false,
            shared: shared.clone(),
        };
        disk.publish_all()?;
        disk.open_active()?;
        Ok((LogStore { disk, shared }, report))
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.disk.dir
    }

    /// Smallest retained index, `None` if the log is empty.
    pub fn first_index(&self) -> Option<u64> {
        self.reader().first_index()
    }

    /// Largest retained index, `None` if the log is empty.
    pub fn last_index(&self) -> Option<u64> {
        self.reader().last_index()
    }

    /// Highest index ever passed to [`purge_upto`](LogStore::purge_upto) (persisted).
    pub fn last_purged(&self) -> Option<u64> {
        self.reader().last_purged()
    }

    /// Buffered append. Indices must continue the log contiguously (`last_index + 1`);
    /// if the log is empty any index above the last purged one is accepted. Indices must
    /// be below `u64::MAX`. Does **not** fsync; call [`sync`](LogStore::sync).
    pub fn append(&mut self, entries: &[(u64, &[u8])]) -> Result<(), StorageError> {
        self.shared.check_ok()?;
        self.shared
            .mem_read()
            .check_append(entries.iter().map(|(i, d)| (*i, d.len())))?;
        for (index, payload) in entries {
            self.disk.write_entry(*index, payload)?;
        }
        self.disk.count_append(entries.len());
        let mut mem = self.shared.mem_write();
        for (index, payload) in entries {
            mem.push(*index, Arc::from(*payload));
        }
        Ok(())
    }

    /// Flushes and fsyncs the active segment (and the directory if a segment was created),
    /// then trims the in-memory cache to its budget.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.disk.sync()?;
        let truncations = self.shared.mem_read().truncations;
        self.shared.evict(self.disk.written_upto(), truncations);
        Ok(())
    }

    /// Payload of entry `index`, if retained (see [`LogReader::get`]).
    pub fn get(&self, index: u64) -> Option<Arc<[u8]>> {
        self.reader().get(index)
    }

    /// All retained entries whose index lies in `r`, in order (see [`LogReader::range`]).
    pub fn range(&self, r: impl RangeBounds<u64>) -> Entries {
        self.reader().range(r)
    }

    /// Deletes every entry with index >= `from` (raft conflict truncation). Durable on return.
    pub fn truncate_from(&mut self, from: u64) -> Result<(), StorageError> {
        self.disk.truncate_from(from)?;
        self.shared.mem_write().truncate_from(from);
        Ok(())
    }

    /// Forgets entries with index <= `upto` (after a snapshot). The purge point is persisted,
    /// segment files lying entirely at or below it are deleted. Durable on return.
    pub fn purge_upto(&mut self, upto: u64) -> Result<(), StorageError> {
        self.disk.purge_upto(upto)?;
        self.shared.mem_write().purge_upto(upto);
        Ok(())
    }

    /// A thread-safe read handle sharing this log's in-memory entries.
    pub fn reader(&self) -> LogReader {
        LogReader::new(self.shared.clone())
    }

    /// Current counters.
    pub fn stats(&self) -> LogStats {
        self.shared.stats()
    }

    /// Number of segment files currently in use.
    pub fn segment_count(&self) -> usize {
        self.disk.segments.len()
    }
}
