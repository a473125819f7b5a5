//! Error and warning types.

use std::fmt;

/// A configuration error. Every variant names the file (or origin string)
/// it came from; the common case also names the line and the key.
///
/// Display formats:
/// * [`ConfigError::Invalid`]: `"<file>:<line>: <key>: <reason>"`,
///   e.g. `zoo.cfg:3: tickTime: expected a positive integer, got "abc"`
/// * [`ConfigError::Missing`]: `"<file>: <key>: <reason>"` (a required key is
///   absent, so there is no line to point at)
/// * [`ConfigError::Io`]: `"<file>: <reason>: <io error>"`
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value (or a whole line) is malformed or out of range.
    #[error("{file}:{line}: {key}: {reason}")]
    Invalid {
        file: String,
        line: usize,
        key: String,
        reason: String,
    },
    /// A key that is required in this configuration is not set.
    #[error("{file}: {key}: {reason}")]
    Missing {
        file: String,
        key: String,
        reason: String,
    },
    /// A file could not be read.
    #[error("{file}: {reason}: {source}")]
    Io {
        file: String,
        reason: String,
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    pub(crate) fn invalid(
        file: &str,
        line: usize,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            file: file.to_string(),
            line,
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing(file: &str, key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Missing {
            file: file.to_string(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The file (or origin string) the error refers to.
    pub fn file(&self) -> &str {
        match self {
            ConfigError::Invalid { file, .. }
            | ConfigError::Missing { file, .. }
            | ConfigError::Io { file, .. } => file,
        }
    }

    /// The 1-based line number, when the error points at a line.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The configuration key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } | ConfigError::Missing { key, .. } => Some(key),
            ConfigError::Io { .. } => None,
        }
    }
}

/// What kind of non-fatal finding a [`ConfigWarning`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// Neither ZooKeeper nor rzk knows the key (ZooKeeper would silently turn
    /// it into the system property `zookeeper.<key>`).
    UnknownKey,
    /// ZooKeeper accepts the key, rzk parses/validates it but ignores it.
    Ignored,
    /// ZooKeeper accepts the key but rzk does not implement the feature
    /// (e.g. TLS, hierarchical quorums).
    Unsupported,
    /// The same key appears more than once; the last one wins.
    Duplicate,
    /// The value was adjusted the way ZooKeeper adjusts it
    /// (e.g. `autopurge.snapRetainCount` below 3 becomes 3).
    Adjusted,
    /// The configuration is valid but questionable (even-sized ensemble,
    /// relative data directory, ...).
    Advice,
}

/// A non-fatal finding. Display: `"<file>:<line>: <key>: <message>"`
/// (or `"<file>: <key>: <message>"` when `line` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: String,
    /// 1-based line number; 0 when the warning is not about a single line.
    pub line: usize,
    pub key: String,
    pub kind: WarningKind,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.key, self.message
            )
        }
    }
}

/// Quote a user value for an error message (Rust string-literal style,
/// truncated so that huge garbage values do not produce huge messages).
pub(crate) fn quote(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}...")
    } else {
        format!("{value:?}")
    }
}
