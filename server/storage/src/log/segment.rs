//! Segment files: names, the record format, the recovery scan, and positioned reads of
//! single records (see the crate docs for the layout).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SEGMENT_VERSION};
use super::{SEGMENT_PREFIX, SEGMENT_VERSION_V1};
use crate::error::{IoContext, StorageError};
use crate::fsutil::{le_u32, le_u64};

/// One segment file as the write side knows it.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) first: u64,
    pub(crate) path: PathBuf,
    /// Byte offset of each record; record `i` has index `first + i`.
    pub(crate) offsets: Vec<u64>,
    /// Current file length.
    pub(crate) size: u64,
    /// Segment format version (see [`SEGMENT_VERSION`]); only the current one is appended to.
    pub(crate) version: u32,
}

impl Segment {
    pub(crate) fn last(&self) -> Option<u64> {
        (!self.offsets.is_empty()).then(|| self.first + self.offsets.len() as u64 - 1)
    }
}

/// The read side's view of one segment: where each record starts, and an open handle.
#[derive(Debug)]
pub(crate) struct SegRead {
    pub(crate) first: u64,
    pub(crate) version: u32,
    pub(crate) offsets: Vec<u64>,
    pub(crate) file: Arc<File>,
    pub(crate) path: PathBuf,
}

pub(crate) fn segment_name(first: u64) -> String {
    format!("{SEGMENT_PREFIX}{first:020}")
}

pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(SEGMENT_PREFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn record_crc(index: u64, payload: &[u8]) -> u32 {
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

pub(crate) enum Scanned {
    /// Header missing or torn (only tolerated for the last segment).
    TornHeader(String),
    Ok {
        offsets: Vec<u64>,
        /// Offset of the first byte not belonging to a valid record, with the reason, if the
        /// file has a bad tail (only tolerated for the last segment).
        tail: Option<(u64, String)>,
        /// The segment's format version.
        version: u32,
    },
}

/// Verifies every record of a segment (checksums, contiguous indices) and returns where each
/// one starts. The payloads are not kept: they are read back on demand.
pub(crate) fn scan_segment(
    path: &Path,
    first: u64,
    buf: &[u8],
    is_last: bool,
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
    let mut pos = SEGMENT_HEADER_LEN;
    let mut expected = first;
    let mut tail = None;
    while pos < buf.len() {
        match parse_record(buf, pos) {
            Ok((index, _payload, end)) => {
                if index != expected {
                    return Err(StorageError::corrupt(
                        path,
                        pos as u64,
                        format!("gap in log: expected index {expected}, found {index}"),
                    ));
                }
                offsets.push(pos as u64);
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
        tail,
        version,
    })
}

/// Reads and verifies the record of `index` at `offset` of a segment. Payloads of version-1
/// segments get `v1_prefix` in front (see `LogOptions::v1_payload_prefix`).
pub(crate) fn read_record(
    seg: &SegRead,
    index: u64,
    v1_prefix: &[u8],
) -> Result<Arc<[u8]>, StorageError> {
    let slot = index
        .checked_sub(seg.first)
        .and_then(|k| seg.offsets.get(k as usize))
        .copied()
        .ok_or_else(|| StorageError::Failed(format!("entry {index} is not in its segment")))?;
    let mut hdr = [0u8; RECORD_HEADER_LEN];
    seg.file.read_exact_at(&mut hdr, slot).at(&seg.path)?;
    let len = le_u32(&hdr, 0).unwrap_or(0) as usize;
    let crc = le_u32(&hdr, 4).unwrap_or(0);
    let at = le_u64(&hdr, 8).unwrap_or(0);
    if at != index {
        return Err(StorageError::corrupt(
            &seg.path,
            slot,
            format!("record at this offset has index {at}, expected {index}"),
        ));
    }
    let pre = if seg.version == SEGMENT_VERSION_V1 {
        v1_prefix
    } else {
        &[]
    };
    let mut out = vec![0u8; pre.len() + len];
    out[..pre.len()].copy_from_slice(pre);
    seg.file
        .read_exact_at(&mut out[pre.len()..], slot + RECORD_HEADER_LEN as u64)
        .at(&seg.path)?;
    if record_crc(index, &out[pre.len()..]) != crc {
        return Err(StorageError::corrupt(
            &seg.path,
            slot,
            "checksum mismatch on read",
        ));
    }
    Ok(Arc::from(out))
}
