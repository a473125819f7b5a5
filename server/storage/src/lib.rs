//! rzk-storage: durable storage for rzk's raft log, raft metadata and snapshots.
//!
//! The crate does not depend on openraft: every payload is opaque bytes, and the caller
//! (the server's openraft adaptor) serializes log entries, votes and snapshot metadata.
//!
//! * [`LogStore`] — segmented, checksummed, append-only log keyed by `u64` index, with all
//!   retained entries cached in memory; [`LogWriter`] runs it on a dedicated thread with
//!   group commit (one fsync for every batch of queued appends).
//! * [`MetaStore`] — tiny named values (vote, last purged id, committed index) replaced
//!   atomically.
//! * [`SnapshotStore`] — checksummed snapshot files, newest N kept.
//!
//! No file content can make this crate panic; damaged data is either repaired (a torn log
//! tail) or reported as [`StorageError::Corrupt`].
//!
//! # On-disk formats
//!
//! All integers are **little endian**. CRCs are CRC-32 (IEEE, as computed by `crc32fast`).
//!
//! ## Log directory
//!
//! Segment files are named `log.<first index as 20 decimal digits>`, e.g.
//! `log.00000000000000000001`, so ordering, purging and truncation are file operations.
//! Each segment file is:
//!
//! ```text
//! header (16 bytes): magic "RZKL" | u32 version (= 2) | u64 first_index
//! record*          : u32 payload_len | u32 crc32(index_le ‖ payload) | u64 index | payload
//! ```
//!
//! Versions: 2 (current) stores the caller's payload, which begins with the caller's own
//! format tag. 1 (rzk 0.1.0) has the same layout, but its payloads carry no tag; they are
//! read with [`LogOptions::v1_payload_prefix`] put in front. A version-1 segment is never
//! appended to: after an upgrade the next write opens a version-2 segment.
//!
//! Records within a segment and across consecutive segments have consecutive indices.
//! A segment is fsynced before the next one is created, so only the last segment can
//! legitimately end in a torn record. The optional file `purged` (metadata format below)
//! holds the highest purged index as a `u64`; entries at or below it are ignored on open.
//!
//! Recovery rules ([`LogStore::open`]): in the last segment, a bad record (short header,
//! length past EOF, checksum mismatch) that is *not* followed by any valid record is a torn
//! tail and is truncated away (logged with `tracing::warn!` and reported in
//! [`RecoveryReport`]); a last segment with a missing/zeroed header or no records is
//! removed. A bad record followed by a valid one, any bad record in an earlier segment, or a
//! gap in indices is [`StorageError::Corrupt`].
//!
//! ## Metadata files ([`MetaStore`], log `purged` marker)
//!
//! ```text
//! magic "RZKM" | u32 version (= 2) | u32 value_len | u32 crc32(first 12 bytes ‖ value) | value
//! ```
//!
//! Version 1 (rzk 0.1.0) has the same layout; as for log segments, its values carry no caller
//! format tag and are returned with [`MetaStore::open_with_v1_prefix`]'s prefix in front.
//!
//! ## Snapshot files
//!
//! Named `snap.<last_index as 20 decimal digits>`:
//!
//! ```text
//! magic "RZKS" | u32 version (= 1) | u64 last_index | u64 meta_len | u64 data_len
//! | meta | data | u32 crc32(everything before it)
//! ```
//!
//! The snapshot container has only version 1; `meta` and `data` are the caller's, which
//! versions them itself (rzk-raft: see its `format` module).
//!
//! All whole-file writes (metadata, snapshots) go to `<name>.tmp`, are fsynced, renamed
//! into place, and the directory is fsynced.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod fsutil;
mod log;
mod meta;
mod snapshot;
mod writer;

pub use crate::error::StorageError;
pub use crate::log::{
    Entries, LogOptions, LogReader, LogStats, LogStore, RecoveryReport, TailTruncation,
    RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SEGMENT_VERSION, SEGMENT_VERSION_V1,
};
pub use crate::meta::MetaStore;
pub use crate::snapshot::{Snapshot, SnapshotId, SnapshotOptions, SnapshotStore};
pub use crate::writer::{Done, LogWriter};
