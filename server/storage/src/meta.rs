//! [`MetaStore`]: tiny durable named values (raft vote, last purged log id, committed index, ...).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, StorageError};
use crate::fsutil::{self, le_u32, TMP_SUFFIX};

const META_MAGIC: &[u8; 4] = b"RZKM";
/// Metadata file format written by this code; version 1 (rzk 0.1.0) is read too.
const META_VERSION: u32 = 2;
const META_VERSION_V1: u32 = 1;
const META_HEADER: usize = 16;

/// Encodes a value in the metadata file format (see crate docs).
pub(crate) fn encode_meta(value: &[u8]) -> Result<Vec<u8>, StorageError> {
    let len = u32::try_from(value.len()).map_err(|_| StorageError::EntryTooLarge {
        index: 0,
        len: value.len(),
    })?;
    let mut out = Vec::with_capacity(META_HEADER + value.len());
    out.extend_from_slice(META_MAGIC);
    out.extend_from_slice(&META_VERSION.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&out[0..12]);
    h.update(value);
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(value);
    Ok(out)
}

/// Decodes and verifies a metadata file's content: (format version, value).
pub(crate) fn decode_meta(path: &Path, buf: &[u8]) -> Result<(u32, Vec<u8>), StorageError> {
    if buf.len() < META_HEADER {
        return Err(StorageError::corrupt(
            path,
            0,
            format!("file too short ({} bytes)", buf.len()),
        ));
    }
    if &buf[0..4] != META_MAGIC {
        return Err(StorageError::corrupt(path, 0, "bad magic"));
    }
    let version = le_u32(buf, 4).unwrap_or(0);
    if version != META_VERSION && version != META_VERSION_V1 {
        return Err(StorageError::corrupt(
            path,
            4,
            format!(
                "unsupported version {version} (this build reads {META_VERSION_V1} and {META_VERSION})"
            ),
        ));
    }
    let len = le_u32(buf, 8).unwrap_or(0) as usize;
    let stored_crc = le_u32(buf, 12).unwrap_or(0);
    if buf.len() - META_HEADER != len {
        return Err(StorageError::corrupt(
            path,
            8,
            format!("length field {len} does not match file size {}", buf.len()),
        ));
    }
    let value = &buf[META_HEADER..];
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[0..12]);
    h.update(value);
    if h.finalize() != stored_crc {
        return Err(StorageError::corrupt(path, 12, "checksum mismatch"));
    }
    Ok((version, value.to_vec()))
}

/// Reads and verifies a metadata file; `Ok(None)` if it does not exist. Both versions hold
/// the value unchanged (used for the storage-internal `purged` marker).
pub(crate) fn read_meta_file(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(read_meta_versioned(path)?.map(|(_, v)| v))
}

fn read_meta_versioned(path: &Path) -> Result<Option<(u32, Vec<u8>)>, StorageError> {
    match fsutil::read_optional(path)? {
        None => Ok(None),
        Some(buf) => decode_meta(path, &buf).map(Some),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A directory of small, checksummed values, each replaced atomically.
///
/// Every value lives in its own file `<dir>/<name>`; [`save`](MetaStore::save) writes
/// `<name>.tmp`, fsyncs it, renames it over `<name>` and fsyncs the directory, so a crash
/// leaves either the old or the new value. A file whose checksum does not verify is
/// reported as [`StorageError::Corrupt`] by [`load`](MetaStore::load), never silently ignored.
///
/// Values written by this code are stored as given, in format version 2, where the caller's
/// value carries its own format tag. Values of version-1 files (rzk 0.1.0) had none: `load`
/// returns them with the prefix given to [`open_with_v1_prefix`](MetaStore::open_with_v1_prefix)
/// in front, so callers see one shape.
#[derive(Debug, Clone)]
pub struct MetaStore {
    dir: PathBuf,
    v1_prefix: Vec<u8>,
}

impl MetaStore {
    /// Opens (creating if needed) the directory and removes leftover `*.tmp` files.
    pub fn open(dir: &Path) -> Result<MetaStore, StorageError> {
        Self::open_with_v1_prefix(dir, Vec::new())
    }

    /// As [`open`](MetaStore::open); values read from version-1 files get `v1_prefix` in front.
    pub fn open_with_v1_prefix(dir: &Path, v1_prefix: Vec<u8>) -> Result<MetaStore, StorageError> {
        fs::create_dir_all(dir).at(dir)?;
        for ent in fs::read_dir(dir).at(dir)? {
            let ent = ent.at(dir)?;
            let name = ent.file_name();
            if let Some(n) = name.to_str() {
                if n.ends_with(TMP_SUFFIX) && valid_name(&n[..n.len() - TMP_SUFFIX.len()]) {
                    fsutil::remove_file_if_exists(&ent.path())?;
                }
            }
        }
        Ok(MetaStore {
            dir: dir.to_path_buf(),
            v1_prefix,
        })
    }

    /// The directory backing this store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, name: &str) -> Result<PathBuf, StorageError> {
        if valid_name(name) {
            Ok(self.dir.join(name))
        } else {
            Err(StorageError::InvalidName(name.to_string()))
        }
    }

    /// Durably and atomically stores `value` under `name` (1-64 chars of `[A-Za-z0-9_-]`).
    pub fn save(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        self.path_of(name)?;
        let encoded = encode_meta(value)?;
        fsutil::atomic_write(&self.dir, name, &[&encoded])?;
        Ok(())
    }

    /// Loads the value stored under `name`; `Ok(None)` if never saved, `Corrupt` if damaged.
    pub fn load(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.path_of(name)?;
        Ok(read_meta_versioned(&path)?.map(|(version, value)| {
            if version == META_VERSION_V1 && !self.v1_prefix.is_empty() {
                let mut v = self.v1_prefix.clone();
                v.extend_from_slice(&value);
                v
            } else {
                value
            }
        }))
    }

    /// Durably removes the value stored under `name` (no error if absent).
    pub fn remove(&self, name: &str) -> Result<(), StorageError> {
        let path = self.path_of(name)?;
        fsutil::remove_file_if_exists(&path)?;
        fsutil::sync_dir(&self.dir)
    }
}
