//! Start-up errors: a source that cannot be built from its config. Each
//! message names the file or config value at fault.
//!
//! Per-request failures (a bad token, a stale signed header) are not errors:
//! they make a source say nothing, and the policy decides on `unknown`.

use std::path::PathBuf;

/// Why an [`Attributor`](crate::Attributor) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    /// A file named in the config could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JWKS file is not usable.
    #[error("JWKS file {}: {reason}", path.display())]
    Jwks {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key at fault.
        reason: String,
    },
    /// An algorithm in `algorithms` is unknown or symmetric.
    #[error(
        "attribution algorithm `{name}` is not accepted: use RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA"
    )]
    Algorithm {
        /// The configured name.
        name: String,
    },
    /// A configured header name is not a valid HTTP header name.
    #[error("`{name}` is not a valid HTTP header name")]
    HeaderName {
        /// The configured name.
        name: String,
    },
    /// The signed-header HMAC key file is not usable.
    #[error("signed-header key file {}: {reason}", path.display())]
    HmacKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The user directory file is not usable.
    #[error("directory file {}: {reason}", path.display())]
    Directory {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the entry at fault.
        reason: String,
    },
    /// The GeoIP database could not be opened.
    #[error("GeoIP database {}: {source}", path.display())]
    Geoip {
        /// The file.
        path: PathBuf,
        /// The reader's error.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// `location_from` names a certificate field we do not read.
    #[error(
        "mtls location_from `{value}` is not supported: use subject.C, subject.O, subject.OU, subject.L or subject.ST"
    )]
    LocationField {
        /// The configured value.
        value: String,
    },
    /// `requester_kind` is not a known kind.
    #[error("mtls requester_kind `{value}` is not supported: use user, service or employee")]
    RequesterKind {
        /// The configured value.
        value: String,
    },
}
