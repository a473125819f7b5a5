//! Small filesystem helpers: directory fsync and atomic file replacement.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, StorageError};

/// Suffix of temporary files written by [`atomic_write`]; such files are garbage after a crash.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// fsyncs a directory so that creations, renames and deletions inside it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    let f = File::open(dir).at(dir)?;
    f.sync_all().at(dir)
}

/// Writes `parts` (concatenated) to `dir/name` atomically and durably:
/// write `name.tmp`, fsync it, rename over `name`, fsync `dir`.
pub(crate) fn atomic_write(
    dir: &Path,
    name: &str,
    parts: &[&[u8]],
) -> Result<PathBuf, StorageError> {
    let final_path = dir.join(name);
    let tmp_path = dir.join(format!("{name}{TMP_SUFFIX}"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp_path)
            .at(&tmp_path)?;
        for p in parts {
            f.write_all(p).at(&tmp_path)?;
        }
        f.sync_all().at(&tmp_path)?;
    }
    fs::rename(&tmp_path, &final_path).at(&final_path)?;
    sync_dir(dir)?;
    Ok(final_path)
}

/// Reads a whole file; `Ok(None)` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

/// Removes a file, ignoring "not found".
pub(crate) fn remove_file_if_exists(path: &Path) -> Result<(), StorageError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

/// Little-endian readers over a byte slice that never panic.
pub(crate) fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// See [`le_u32`].
pub(crate) fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}
