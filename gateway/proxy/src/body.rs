//! The one body type that flows through the gateway in both directions.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// Errors carried by bodies (client, upstream or size limit).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed, streaming body of bytes.
pub type BoxBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// A body holding `bytes` at once.
#[must_use]
pub fn full(bytes: impl Into<Bytes>) -> BoxBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}
