//! The headers the gateway sets. Inbound headers with these names are
//! removed before anything reads the request, so only the gateway speaks
//! with its own voice.

use http::HeaderName;

/// The subject's verified jurisdiction (or `unknown`), sent upstream.
pub const JURISDICTION: HeaderName = HeaderName::from_static("x-jurisgate-jurisdiction");
/// The route's data class, sent upstream.
pub const DATA_CLASS: HeaderName = HeaderName::from_static("x-jurisgate-data-class");
/// The region the request was routed to, sent upstream.
pub const REGION: HeaderName = HeaderName::from_static("x-jurisgate-region");
/// The request id, sent upstream and back to the client.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-jurisgate-request-id");
