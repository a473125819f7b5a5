//! Error type shared by every store in this crate.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors returned by [`LogStore`](crate::LogStore), [`LogWriter`](crate::LogWriter),
/// [`MetaStore`](crate::MetaStore) and [`SnapshotStore`](crate::SnapshotStore).
///
/// The type is `Clone` (I/O errors are kept behind an `Arc`) so that one failure can be
/// reported to every caller waiting on a group commit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// An operating-system I/O error while touching `path`.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// File or directory the operation was acting on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },

    /// Stored data is damaged in a way that cannot be repaired without losing
    /// acknowledged data (e.g. a bad record followed by valid ones, a gap in indices,
    /// a bad checksum in a metadata file).
    #[error("corrupt data in {} at offset {offset}: {reason}", path.display())]
    Corrupt {
        /// File containing the damage.
        path: PathBuf,
        /// Byte offset of the damaged structure inside `path`.
        offset: u64,
        /// Human readable description.
        reason: String,
    },

    /// An append did not continue the log contiguously.
    #[error("non-contiguous append: expected index {expected}, got {got}")]
    NonContiguous {
        /// The only index (or, for an empty log, the smallest index) that is acceptable.
        expected: u64,
        /// The index that was supplied.
        got: u64,
    },

    /// A payload is larger than the record format can describe (`u32::MAX` bytes).
    #[error("entry {index} is too large ({len} bytes)")]
    EntryTooLarge {
        /// Index of the offending entry.
        index: u64,
        /// Its payload length.
        len: usize,
    },

    /// A name passed to [`MetaStore`](crate::MetaStore) is not a plain file name.
    #[error("invalid store name {0:?} (allowed: 1-64 of [A-Za-z0-9_-], not starting with '-')")]
    InvalidName(String),

    /// The log writer hit an earlier error and refuses further work; reopen the store.
    #[error("log store failed earlier and must be reopened: {0}")]
    Failed(String),

    /// The background [`LogWriter`](crate::LogWriter) thread is gone.
    #[error("log writer thread has stopped")]
    WriterStopped,
}

impl StorageError {
    /// Builds an [`StorageError::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        StorageError::Io {
            path: path.as_ref().to_path_buf(),
            source: Arc::new(source),
        }
    }

    /// Builds a [`StorageError::Corrupt`].
    pub fn corrupt(path: impl AsRef<Path>, offset: u64, reason: impl Into<String>) -> Self {
        StorageError::Corrupt {
            path: path.as_ref().to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }
}

/// Extension to attach a path to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T, StorageError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, StorageError> {
        self.map_err(|e| StorageError::io(path, e))
    }
}
