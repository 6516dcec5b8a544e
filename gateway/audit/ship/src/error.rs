//! What can go wrong while shipping or fetching, each naming the file,
//! object key or URL at fault.

use std::path::PathBuf;

/// A shipping or fetching failure.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    /// The target URL or its client options are unusable.
    #[error("{url}: {what}")]
    Target {
        /// The URL as given.
        url: String,
        /// What is wrong.
        what: String,
    },
    /// The `shipped.json` manifest cannot be read or written.
    #[error("{}: {what}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A local file or folder cannot be read or written.
    #[error("{}: {source}", path.display())]
    Local {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A sealed segment holds something the log writer never writes.
    #[error("{} line {line}: {what}", path.display())]
    Segment {
        /// The segment file.
        path: PathBuf,
        /// Line number, from 1.
        line: u64,
        /// What is wrong.
        what: String,
    },
    /// The object store refused or failed, after retries.
    #[error("{key}: {what}")]
    Remote {
        /// The object key (or prefix, for listings).
        key: String,
        /// The store's error.
        what: String,
    },
    /// The bucket already holds a different object under this key: another
    /// log with the same origin, or a local file changed after shipping.
    /// Nothing is overwritten.
    #[error(
        "{key}: the bucket holds a different object ({remote_size} bytes, sha256 {remote_sha256}) than the local file ({local_size} bytes, sha256 {local_sha256}); refusing to overwrite. Two replicas with the same audit.origin, or a local file changed after it was shipped"
    )]
    RemoteDiffers {
        /// The object key.
        key: String,
        /// Local size.
        local_size: u64,
        /// Local SHA-256 (hex).
        local_sha256: String,
        /// Remote size.
        remote_size: u64,
        /// Remote SHA-256 (hex).
        remote_sha256: String,
    },
    /// After an upload, reading the object back did not give the same bytes.
    #[error("{key}: uploaded, but reading it back does not give the same size and SHA-256")]
    NotConfirmed {
        /// The object key.
        key: String,
    },
}

impl ShipError {
    pub(crate) fn local(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Local {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn remote(key: impl std::fmt::Display, e: impl std::fmt::Display) -> Self {
        Self::Remote {
            key: key.to_string(),
            what: e.to_string(),
        }
    }
}
