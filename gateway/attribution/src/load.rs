//! Small start-up helpers shared by the sources: configured header names
//! and JWKS files. Errors name the value or file at fault.

use std::path::Path;

use http::HeaderName;

use crate::AttributionError;
use crate::jwks::{KeySet, parse_jwks};

/// Parses a configured header name.
pub(crate) fn parse_header_name(name: &str) -> Result<HeaderName, AttributionError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| AttributionError::HeaderName {
        name: name.to_string(),
    })
}

/// Reads and parses a JWKS file.
pub(crate) fn load_jwks(path: &Path) -> Result<KeySet, AttributionError> {
    let bytes = std::fs::read(path).map_err(|source| AttributionError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_jwks(&bytes).map_err(|e| AttributionError::Jwks {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
