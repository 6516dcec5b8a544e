//! The audit crate's error type. Write-side failures are all
//! [`AuditError::Unavailable`], which the proxy turns into HTTP 503 and
//! which means "nothing was recorded, so nothing may be forwarded".

use std::path::PathBuf;

/// What went wrong in the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log cannot take records now (disk full, read-only, I/O error,
    /// queue full, closed). The record was not made durable.
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A key file could not be used.
    #[error("key {}: {what}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// Data on disk is not what this log writes.
    #[error("{} line {line}: {what}", file.display())]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Line number (from 1), or 0 when the problem is not one line.
        line: u64,
        /// What is wrong.
        what: String,
    },
    /// A record could not be encoded as JSON.
    #[error("record could not be encoded: {0}")]
    Encode(#[source] serde_json::Error),
    /// The options or the request make no sense (bad sizes, unknown seq, …).
    #[error("{0}")]
    Invalid(String),
}

impl AuditError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
