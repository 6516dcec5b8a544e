//! Refusals: every answer the gateway gives itself, in one place. Each maps
//! a named reason to a status and a JSON body the client (and the SRE
//! reading logs) can act on.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::body::{BoxBody, full};

/// Why the gateway answered a request itself instead of forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request is malformed or ambiguous (normalisation, headers, size).
    BadRequest(String),
    /// No route matches.
    NoRoute,
    /// The policy denied it (its reason, or `policy_error`).
    Denied(String),
    /// The decision allowed regions, but none of the route's pools there is healthy.
    NoApprovedRegion,
    /// The audit record could not be made durable.
    AuditUnavailable,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// The upstream could not be reached or failed.
    BadGateway(String),
    /// The upstream did not answer in time.
    GatewayTimeout,
    /// The response could not be made to satisfy the decision's obligations.
    ObligationFailed(String),
}

impl Refusal {
    /// The HTTP status for this refusal.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Denied(_) => StatusCode::FORBIDDEN,
            Self::NoApprovedRegion | Self::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadGateway(_) | Self::ObligationFailed(_) => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The short error name in the body.
    #[must_use]
    pub fn error(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::NoRoute => "no_route",
            Self::Denied(_) => "denied",
            Self::NoApprovedRegion => "unavailable",
            Self::AuditUnavailable => "unavailable",
            Self::PayloadTooLarge => "payload_too_large",
            Self::BadGateway(_) => "bad_gateway",
            Self::GatewayTimeout => "gateway_timeout",
            Self::ObligationFailed(_) => "bad_gateway",
        }
    }

    /// The reason in the body and the audit record.
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            Self::BadRequest(r) | Self::Denied(r) => r.clone(),
            Self::NoRoute => "no_route".into(),
            Self::NoApprovedRegion => "no_approved_region_available".into(),
            Self::AuditUnavailable => "audit_unavailable".into(),
            Self::PayloadTooLarge => "request_body_too_large".into(),
            Self::BadGateway(r) => format!("upstream_error: {r}"),
            Self::GatewayTimeout => "upstream_timeout".into(),
            Self::ObligationFailed(r) => format!("obligation_failed: {r}"),
        }
    }

    /// The response: status, JSON body `{error, reason, request_id}`, and the request id header.
    #[must_use]
    pub fn into_response(self, request_id: &str) -> Response<BoxBody> {
        let body = serde_json::json!({
            "error": self.error(),
            "reason": self.reason(),
            "request_id": request_id,
        });
        let mut resp = Response::new(full(Bytes::from(body.to_string())));
        *resp.status_mut() = self.status();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert(crate::headers::REQUEST_ID, v);
        }
        resp
    }
}

/// A plain-text response for the admin listener.
#[must_use]
pub fn text(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: &'static str,
) -> Response<BoxBody> {
    let mut resp = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
