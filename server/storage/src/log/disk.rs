//! The log's write side: the segment files and the active segment's buffered writer. It
//! publishes where each record lives to the shared read index (`Shared::segs`).

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::segment::{record_crc, segment_name, SegRead, Segment};
use super::shared::Shared;
use super::SEGMENT_VERSION;
use super::{LogOptions, PURGED_FILE, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, SEGMENT_MAGIC};
use crate::error::{IoContext, StorageError};
use crate::fsutil;
use crate::meta::encode_meta;

#[derive(Debug)]
pub(crate) struct DiskLog {
    pub(crate) dir: PathBuf,
    pub(crate) opts: LogOptions,
    pub(crate) segments: Vec<Segment>,
    /// Writer for `segments.last()`, if open.
    pub(crate) active: Option<BufWriter<File>>,
    pub(crate) purged: Option<u64>,
    /// Data written to the active segment since its last fsync.
    pub(crate) dirty: bool,
    /// Directory entries changed since the last directory fsync.
    pub(crate) dir_dirty: bool,
    pub(crate) shared: Arc<Shared>,
}

impl DiskLog {
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Highest index written to the files (durable after the next `sync`).
    pub(crate) fn written_upto(&self) -> Option<u64> {
        self.next_index().and_then(|n| n.checked_sub(1))
    }

    /// Rebuilds the shared read index from `segments` (after open, truncate, purge).
    pub(crate) fn publish_all(&self) -> Result<(), StorageError> {
        // Built aside and swapped in at once: readers never see a partial index.
        let mut fresh = Vec::with_capacity(self.segments.len());
        for seg in &self.segments {
            let reuse = self
                .shared
                .segs_read()
                .iter()
                .find(|r| r.first == seg.first)
                .map(|r| r.file.clone());
            let file = match reuse {
                Some(f) => f,
                None => Arc::new(File::open(&seg.path).at(&seg.path)?),
            };
            fresh.push(SegRead {
                first: seg.first,
                version: seg.version,
                offsets: seg.offsets.clone(),
                file,
                path: seg.path.clone(),
            });
        }
        *self.shared.segs_write() = fresh;
        Ok(())
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
        if let Some(r) = self.shared.segs_write().last_mut() {
            r.offsets.push(seg.size);
        }
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
        let reader = Arc::new(File::open(&path).at(&path)?);
        self.shared.segs_write().push(SegRead {
            first,
            version: SEGMENT_VERSION,
            offsets: Vec::new(),
            file: reader,
            path: path.clone(),
        });
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

    pub(crate) fn open_active(&mut self) -> Result<(), StorageError> {
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
        self.publish_all()?;
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
        self.publish_all()
    }
}
