//! [`LogStore`]: the segmented, checksummed, append-only log.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{IoContext, StorageError};
use crate::fsutil::{self, le_u32, le_u64, TMP_SUFFIX};
use crate::meta::{encode_meta, read_meta_file};

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
        }
    }
}

/// What [`LogStore::open`] found and repaired.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// Segment files in use after recovery.
    pub segments: usize,
    /// Number of (non-purged) entries loaded into memory.
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
}

// ---------------------------------------------------------------------------------------
// In-memory state shared with readers.

#[derive(Debug, Default)]
pub(crate) struct MemLog {
    first: u64,
    entries: VecDeque<Arc<[u8]>>,
    purged: Option<u64>,
}

impl MemLog {
    pub(crate) fn first_index(&self) -> Option<u64> {
        (!self.entries.is_empty()).then_some(self.first)
    }

    pub(crate) fn last_index(&self) -> Option<u64> {
        (!self.entries.is_empty()).then(|| self.first + self.entries.len() as u64 - 1)
    }

    /// Validates that `items` (index, payload length) may be appended.
    pub(crate) fn check_append(
        &self,
        items: impl Iterator<Item = (u64, usize)>,
    ) -> Result<(), StorageError> {
        let mut next = self.last_index().map(|l| l + 1);
        for (index, len) in items {
            match next {
                Some(n) if n != index => {
                    return Err(StorageError::NonContiguous {
                        expected: n,
                        got: index,
                    })
                }
                None => {
                    if let Some(p) = self.purged.filter(|p| index <= *p) {
                        return Err(StorageError::NonContiguous {
                            expected: p.saturating_add(1),
                            got: index,
                        });
                    }
                }
                _ => {}
            }
            if len > u32::MAX as usize {
                return Err(StorageError::EntryTooLarge { index, len });
            }
            next = Some(index.checked_add(1).ok_or(StorageError::NonContiguous {
                expected: index,
                got: u64::MAX,
            })?);
        }
        Ok(())
    }

    pub(crate) fn push(&mut self, index: u64, data: Arc<[u8]>) {
        if self.entries.is_empty() {
            self.first = index;
        }
        self.entries.push_back(data);
    }

    pub(crate) fn truncate_from(&mut self, from: u64) {
        if self.entries.is_empty() {
            return;
        }
        let keep = from
            .saturating_sub(self.first)
            .min(self.entries.len() as u64) as usize;
        self.entries.truncate(keep);
    }

    pub(crate) fn purge_upto(&mut self, upto: u64) {
        if self.purged.is_some_and(|p| p >= upto) {
            return;
        }
        self.purged = Some(upto);
        if self.entries.is_empty() {
            return;
        }
        let drop_n =
            (upto.saturating_add(1).saturating_sub(self.first)).min(self.entries.len() as u64);
        self.entries.drain(..drop_n as usize);
        self.first += drop_n;
    }

    fn get(&self, index: u64) -> Option<Arc<[u8]>> {
        let off = index.checked_sub(self.first)?;
        self.entries.get(usize::try_from(off).ok()?).cloned()
    }

    fn range(&self, r: &impl RangeBounds<u64>) -> Vec<(u64, Arc<[u8]>)> {
        let (Some(first), Some(last)) = (self.first_index(), self.last_index()) else {
            return Vec::new();
        };
        let start = match r.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => match s.checked_add(1) {
                Some(s) => s,
                None => return Vec::new(),
            },
            Bound::Unbounded => first,
        }
        .max(first);
        let end = match r.end_bound() {
            Bound::Included(&e) => e,
            Bound::Excluded(&e) => match e.checked_sub(1) {
                Some(e) => e,
                None => return Vec::new(),
            },
            Bound::Unbounded => last,
        }
        .min(last);
        if start > end {
            return Vec::new();
        }
        let a = (start - first) as usize;
        let b = (end - first) as usize;
        self.entries
            .range(a..=b)
            .enumerate()
            .map(|(i, d)| (start + i as u64, d.clone()))
            .collect()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    mem: RwLock<MemLog>,
    failed: Mutex<Option<String>>,
    appends: AtomicU64,
    entries: AtomicU64,
    syncs: AtomicU64,
}

impl Shared {
    pub(crate) fn mem_read(&self) -> RwLockReadGuard<'_, MemLog> {
        self.mem.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn mem_write(&self) -> RwLockWriteGuard<'_, MemLog> {
        self.mem.write().unwrap_or_else(|e| e.into_inner())
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
        LogStats {
            appends: self.appends.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
        }
    }
}

/// A cheap, cloneable, thread-safe read handle onto a log's in-memory entries.
///
/// Obtained from [`LogStore::reader`] or [`LogWriter::reader`](crate::LogWriter::reader).
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

    /// Payload of entry `index`, if retained.
    pub fn get(&self, index: u64) -> Option<Arc<[u8]>> {
        self.shared.mem_read().get(index)
    }

    /// All retained entries whose index lies in `r`, in order.
    pub fn range(&self, r: impl RangeBounds<u64>) -> Vec<(u64, Arc<[u8]>)> {
        self.shared.mem_read().range(&r)
    }

    /// Current counters.
    pub fn stats(&self) -> LogStats {
        self.shared.stats()
    }
}

// ---------------------------------------------------------------------------------------
// On-disk state (write side).

#[derive(Debug)]
struct Segment {
    first: u64,
    path: PathBuf,
    /// Byte offset of each record; record `i` has index `first + i`.
    offsets: Vec<u64>,
    /// Current file length.
    size: u64,
    /// Segment format version (see [`SEGMENT_VERSION`]); only the current one is appended to.
    version: u32,
}

impl Segment {
    fn last(&self) -> Option<u64> {
        (!self.offsets.is_empty()).then(|| self.first + self.offsets.len() as u64 - 1)
    }
}

fn segment_name(first: u64) -> String {
    format!("{SEGMENT_PREFIX}{first:020}")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(SEGMENT_PREFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn record_crc(index: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&index.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Parses one record at `pos`. Returns (index, payload, end offset) or why it is invalid.
fn parse_record(buf: &[u8], pos: usize) -> Result<(u64, &[u8], usize), String> {
    let remaining = buf.len().saturating_sub(pos);
    if remaining < RECORD_HEADER_LEN {
        return Err(format!("partial record header ({remaining} bytes)"));
    }
    let len = le_u32(buf, pos).unwrap_or(u32::MAX) as usize;
    let crc = le_u32(buf, pos + 4).unwrap_or(0);
    let index = le_u64(buf, pos + 8).unwrap_or(0);
    let start = pos + RECORD_HEADER_LEN;
    let end = match start.checked_add(len) {
        Some(e) if e <= buf.len() => e,
        _ => {
            return Err(format!(
                "record length {len} extends past end of file ({} bytes available)",
                remaining - RECORD_HEADER_LEN
            ))
        }
    };
    let payload = &buf[start..end];
    if record_crc(index, payload) != crc {
        return Err("checksum mismatch".to_string());
    }
    Ok((index, payload, end))
}

/// After a bad record at `bad`, looks for any later valid record that continues the log
/// (index >= `expected`). Finding one means the damage is not a torn tail.
fn find_valid_record_after(buf: &[u8], bad: usize, expected: u64) -> Option<usize> {
    let max_records = ((buf.len() - bad) / RECORD_HEADER_LEN) as u64 + 1;
    let mut p = bad + 1;
    while p + RECORD_HEADER_LEN <= buf.len() {
        if let Some(index) = le_u64(buf, p + 8) {
            if index >= expected && index - expected <= max_records && parse_record(buf, p).is_ok()
            {
                return Some(p);
            }
        }
        p += 1;
    }
    None
}

enum Scanned {
    /// Header missing or torn (only tolerated for the last segment).
    TornHeader(String),
    Ok {
        offsets: Vec<u64>,
        payloads: Vec<Arc<[u8]>>,
        /// Offset of the first byte not belonging to a valid record, with the reason, if the
        /// file has a bad tail (only tolerated for the last segment).
        tail: Option<(u64, String)>,
        /// The segment's format version.
        version: u32,
    },
}

fn scan_segment(
    path: &Path,
    first: u64,
    buf: &[u8],
    is_last: bool,
    v1_prefix: &[u8],
) -> Result<Scanned, StorageError> {
    if buf.len() < SEGMENT_HEADER_LEN {
        let reason = format!("segment header truncated ({} bytes)", buf.len());
        return if is_last {
            Ok(Scanned::TornHeader(reason))
        } else {
            Err(StorageError::corrupt(path, 0, reason))
        };
    }
    let version = le_u32(buf, 4).unwrap_or(0);
    if &buf[0..4] != SEGMENT_MAGIC || !(version == SEGMENT_VERSION || version == SEGMENT_VERSION_V1)
    {
        if is_last && buf.iter().all(|&b| b == 0) {
            return Ok(Scanned::TornHeader("segment file is all zeros".to_string()));
        }
        return Err(StorageError::corrupt(
            path,
            0,
            format!(
                "bad segment magic or unsupported version {version} (this build reads {SEGMENT_VERSION_V1} and {SEGMENT_VERSION})"
            ),
        ));
    }
    let header_first = le_u64(buf, 8).unwrap_or(0);
    if header_first != first {
        return Err(StorageError::corrupt(
            path,
            8,
            format!("header first index {header_first} does not match file name ({first})"),
        ));
    }

    let mut offsets = Vec::new();
    let mut payloads = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN;
    let mut expected = first;
    let mut tail = None;
    while pos < buf.len() {
        match parse_record(buf, pos) {
            Ok((index, payload, end)) => {
                if index != expected {
                    return Err(StorageError::corrupt(
                        path,
                        pos as u64,
                        format!("gap in log: expected index {expected}, found {index}"),
                    ));
                }
                offsets.push(pos as u64);
                if version == SEGMENT_VERSION_V1 && !v1_prefix.is_empty() {
                    let mut p = Vec::with_capacity(v1_prefix.len() + payload.len());
                    p.extend_from_slice(v1_prefix);
                    p.extend_from_slice(payload);
                    payloads.push(Arc::from(p));
                } else {
                    payloads.push(Arc::from(payload));
                }
                pos = end;
                expected = match expected.checked_add(1) {
                    Some(e) => e,
                    None => return Err(StorageError::corrupt(path, pos as u64, "index overflow")),
                };
            }
            Err(reason) => {
                if !is_last {
                    return Err(StorageError::corrupt(
                        path,
                        pos as u64,
                        format!("{reason} (record index {expected}) in a sealed segment"),
                    ));
                }
                if let Some(valid) = find_valid_record_after(buf, pos, expected) {
                    return Err(StorageError::corrupt(
                        path,
                        pos as u64,
                        format!(
                            "{reason} (record index {expected}), but a valid record follows at offset {valid}"
                        ),
                    ));
                }
                tail = Some((pos as u64, reason));
                break;
            }
        }
    }
    Ok(Scanned::Ok {
        offsets,
        payloads,
        tail,
        version,
    })
}

/// The write side of a log: segment files and the active segment's buffered writer.
#[derive(Debug)]
pub(crate) struct DiskLog {
    dir: PathBuf,
    opts: LogOptions,
    segments: Vec<Segment>,
    /// Writer for `segments.last()`, if open.
    active: Option<BufWriter<File>>,
    purged: Option<u64>,
    /// Data written to the active segment since its last fsync.
    dirty: bool,
    /// Directory entries changed since the last directory fsync.
    dir_dirty: bool,
    shared: Arc<Shared>,
}

impl DiskLog {
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn next_index(&self) -> Option<u64> {
        self.segments
            .last()
            .map(|s| s.first + s.offsets.len() as u64)
    }

    /// Runs a mutation, poisoning the store if it fails.
    fn guarded<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.shared.check_ok()?;
        let r = f(self);
        if let Err(e) = &r {
            self.shared.poison(e);
        }
        r
    }

    pub(crate) fn count_append(&self, entries: usize) {
        self.shared.appends.fetch_add(1, Ordering::Relaxed);
        self.shared
            .entries
            .fetch_add(entries as u64, Ordering::Relaxed);
    }

    /// Appends one record (buffered).
    pub(crate) fn write_entry(&mut self, index: u64, payload: &[u8]) -> Result<(), StorageError> {
        self.guarded(|d| d.write_entry_inner(index, payload))
    }

    fn write_entry_inner(&mut self, index: u64, payload: &[u8]) -> Result<(), StorageError> {
        match self.next_index() {
            Some(n) if n != index => {
                return Err(StorageError::NonContiguous {
                    expected: n,
                    got: index,
                })
            }
            None if self.purged.is_some_and(|p| index <= p) => {
                return Err(StorageError::NonContiguous {
                    expected: self.purged.unwrap_or(0).saturating_add(1),
                    got: index,
                })
            }
            _ => {}
        }
        let len = u32::try_from(payload.len()).map_err(|_| StorageError::EntryTooLarge {
            index,
            len: payload.len(),
        })?;
        let rec_size = (RECORD_HEADER_LEN + payload.len()) as u64;
        if let Some(seg) = self.segments.last() {
            if self.active.is_some()
                && !seg.offsets.is_empty()
                && seg.size + rec_size > self.opts.segment_bytes
            {
                self.seal_active()?;
            }
        }
        if self.active.is_none() {
            self.create_segment(index)?;
        }
        let (Some(w), Some(seg)) = (self.active.as_mut(), self.segments.last_mut()) else {
            return Err(StorageError::Failed("no active segment".into()));
        };
        let mut hdr = [0u8; RECORD_HEADER_LEN];
        hdr[0..4].copy_from_slice(&len.to_le_bytes());
        hdr[4..8].copy_from_slice(&record_crc(index, payload).to_le_bytes());
        hdr[8..16].copy_from_slice(&index.to_le_bytes());
        w.write_all(&hdr).at(&seg.path)?;
        w.write_all(payload).at(&seg.path)?;
        seg.offsets.push(seg.size);
        seg.size += rec_size;
        self.dirty = true;
        Ok(())
    }

    /// Flushes and fsyncs the active segment, then closes it; next write starts a new one.
    fn seal_active(&mut self) -> Result<(), StorageError> {
        if let (Some(mut w), Some(seg)) = (self.active.take(), self.segments.last()) {
            w.flush().at(&seg.path)?;
            w.get_ref().sync_data().at(&seg.path)?;
            self.shared.syncs.fetch_add(1, Ordering::Relaxed);
            self.dirty = false;
        }
        if self.dir_dirty {
            fsutil::sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    fn create_segment(&mut self, first: u64) -> Result<(), StorageError> {
        let path = self.dir.join(segment_name(first));
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .at(&path)?;
        let mut w = BufWriter::with_capacity(self.opts.write_buffer_bytes.max(1), f);
        let mut hdr = [0u8; SEGMENT_HEADER_LEN];
        hdr[0..4].copy_from_slice(SEGMENT_MAGIC);
        hdr[4..8].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
        hdr[8..16].copy_from_slice(&first.to_le_bytes());
        w.write_all(&hdr).at(&path)?;
        self.segments.push(Segment {
            first,
            path,
            offsets: Vec::new(),
            size: SEGMENT_HEADER_LEN as u64,
            version: SEGMENT_VERSION,
        });
        self.active = Some(w);
        self.dir_dirty = true;
        self.dirty = true;
        Ok(())
    }

    fn open_active(&mut self) -> Result<(), StorageError> {
        self.active = None;
        // A segment of an earlier format is never appended to: the next write starts a
        // new segment in the current format (the old one is already durable).
        if let Some(old) = self
            .segments
            .last()
            .filter(|s| s.version != SEGMENT_VERSION)
        {
            // Durable before a newer segment follows it (see the crate docs).
            File::open(&old.path)
                .and_then(|f| f.sync_data())
                .at(&old.path)?;
        }
        if let Some(seg) = self
            .segments
            .last()
            .filter(|s| s.version == SEGMENT_VERSION)
        {
            let f = OpenOptions::new()
                .append(true)
                .open(&seg.path)
                .at(&seg.path)?;
            self.active = Some(BufWriter::with_capacity(
                self.opts.write_buffer_bytes.max(1),
                f,
            ));
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub(crate) fn sync(&mut self) -> Result<(), StorageError> {
        self.guarded(|d| {
            if d.dirty {
                if let (Some(w), Some(seg)) = (d.active.as_mut(), d.segments.last()) {
                    w.flush().at(&seg.path)?;
                    w.get_ref().sync_data().at(&seg.path)?;
                    d.shared.syncs.fetch_add(1, Ordering::Relaxed);
                }
                d.dirty = false;
            }
            if d.dir_dirty {
                fsutil::sync_dir(&d.dir)?;
                d.dir_dirty = false;
            }
            Ok(())
        })
    }

    /// Removes all records with index >= `from`, durably.
    pub(crate) fn truncate_from(&mut self, from: u64) -> Result<(), StorageError> {
        self.guarded(|d| d.truncate_from_inner(from))
    }

    fn truncate_from_inner(&mut self, from: u64) -> Result<(), StorageError> {
        match self.next_index() {
            Some(next) if from < next => {}
            _ => return Ok(()),
        }
        if let (Some(w), Some(seg)) = (self.active.as_mut(), self.segments.last()) {
            w.flush().at(&seg.path)?;
        }
        self.active = None;
        // Delete whole segments from the newest down so a crash leaves a contiguous prefix.
        let mut removed = false;
        while self.segments.last().is_some_and(|s| s.first >= from) {
            if let Some(seg) = self.segments.pop() {
                fs::remove_file(&seg.path).at(&seg.path)?;
                removed = true;
            }
        }
        if removed || self.dir_dirty {
            fsutil::sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        if let Some(seg) = self.segments.last_mut() {
            if seg.last().is_some_and(|l| l >= from) {
                let keep = (from - seg.first) as usize;
                let new_len = seg.offsets[keep];
                let f = OpenOptions::new()
                    .write(true)
                    .open(&seg.path)
                    .at(&seg.path)?;
                f.set_len(new_len).at(&seg.path)?;
                f.sync_all().at(&seg.path)?;
                self.shared.syncs.fetch_add(1, Ordering::Relaxed);
                seg.offsets.truncate(keep);
                seg.size = new_len;
            }
            // Otherwise the remaining newest segment is a sealed (already fsynced) one.
        }
        self.dirty = false;
        // If truncation reached into the purged prefix, what remains is purged entirely.
        if let Some(p) = self.purged {
            if self
                .segments
                .last()
                .is_some_and(|s| s.last().is_none_or(|l| l <= p))
            {
                for seg in self.segments.drain(..) {
                    fs::remove_file(&seg.path).at(&seg.path)?;
                }
                fsutil::sync_dir(&self.dir)?;
            }
        }
        self.open_active()
    }

    /// Forgets records with index <= `upto`, durably.
    pub(crate) fn purge_upto(&mut self, upto: u64) -> Result<(), StorageError> {
        self.guarded(|d| d.purge_upto_inner(upto))
    }

    fn purge_upto_inner(&mut self, upto: u64) -> Result<(), StorageError> {
        if self.purged.is_some_and(|p| p >= upto) {
            return Ok(());
        }
        let encoded = encode_meta(&upto.to_le_bytes())?;
        fsutil::atomic_write(&self.dir, PURGED_FILE, &[&encoded])?;
        self.purged = Some(upto);
        let mut removed = false;
        while self
            .segments
            .first()
            .is_some_and(|s| s.last().is_none_or(|l| l <= upto))
        {
            if self.segments.len() == 1 {
                // The active segment goes away; its buffered bytes are purged anyway.
                self.active = None;
                self.dirty = false;
            }
            let seg = self.segments.remove(0);
            fs::remove_file(&seg.path).at(&seg.path)?;
            removed = true;
        }
        if removed || self.dir_dirty {
            fsutil::sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------

/// A segmented, append-only log of opaque payloads keyed by a `u64` index.
///
/// All non-purged entries are kept in memory for reads; writes go to the active segment
/// file through a buffer and become durable on [`sync`](LogStore::sync). See the crate
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

        let shared = Arc::new(Shared::default());
        let mut segments: Vec<Segment> = Vec::new();
        let mut mem = MemLog {
            purged,
            ..MemLog::default()
        };
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
            let (offsets, payloads, tail, version) = match scan_segment(
                path,
                *first,
                &buf,
                is_last,
                &opts.v1_payload_prefix,
            )? {
                Scanned::TornHeader(reason) => {
                    tracing::warn!(file = %path.display(), offset = 0, %reason, "removing torn segment at end of log");
                    fs::remove_file(path).at(path)?;
                    report.removed_files.push(path.clone());
                    dir_changed = true;
                    continue;
                }
                Scanned::Ok {
                    offsets,
                    payloads,
                    tail,
                    version,
                } => (offsets, payloads, tail, version),
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
            for (k, payload) in payloads.into_iter().enumerate() {
                let index = first + k as u64;
                if purged.is_none_or(|p| index > p) {
                    mem.push(index, payload);
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
        report.entries = mem.entries.len() as u64;
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
        disk.open_active()?;
        Ok((LogStore { disk, shared }, report))
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.disk.dir
    }

    /// Smallest retained index, `None` if the log is empty.
    pub fn first_index(&self) -> Option<u64> {
        self.shared.mem_read().first_index()
    }

    /// Largest retained index, `None` if the log is empty.
    pub fn last_index(&self) -> Option<u64> {
        self.shared.mem_read().last_index()
    }

    /// Highest index ever passed to [`purge_upto`](LogStore::purge_upto) (persisted).
    pub fn last_purged(&self) -> Option<u64> {
        self.shared.mem_read().purged
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

    /// Flushes and fsyncs the active segment (and the directory if a segment was created).
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.disk.sync()
    }

    /// Payload of entry `index`, if retained.
    pub fn get(&self, index: u64) -> Option<Arc<[u8]>> {
        self.shared.mem_read().get(index)
    }

    /// All retained entries whose index lies in `r`, in order.
    pub fn range(&self, r: impl RangeBounds<u64>) -> Vec<(u64, Arc<[u8]>)> {
        self.shared.mem_read().range(&r)
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
        LogReader {
            shared: self.shared.clone(),
        }
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
