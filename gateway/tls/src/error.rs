//! The crate's error: every variant names the config key and, when there is
//! one, the file at fault.

use std::path::PathBuf;

/// Why a TLS config could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file cannot be read or does not hold what it should.
    #[error("{key}: {}: {why}", path.display())]
    File {
        /// The config key naming the file, e.g. `server.tls.cert`.
        key: String,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The files are readable but rustls refuses the combination.
    #[error("{key}: {source}")]
    Rustls {
        /// The config key at fault.
        key: String,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// A setting cannot work, e.g. a server name that is not a name.
    #[error("{key}: {why}")]
    Setting {
        /// The config key at fault.
        key: String,
        /// What is wrong with it.
        why: String,
    },
}

impl TlsError {
    pub(crate) fn file(key: &str, path: &std::path::Path, why: impl Into<String>) -> Self {
        Self::File {
            key: key.to_string(),
            path: path.to_path_buf(),
            why: why.into(),
        }
    }

    pub(crate) fn rustls(key: &str, source: rustls::Error) -> Self {
        Self::Rustls {
            key: key.to_string(),
            source,
        }
    }
}
