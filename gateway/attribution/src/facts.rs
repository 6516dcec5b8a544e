//! The facts attribution produces. They travel through the request path as
//! typed request extensions and reach the policy as its `subject` and
//! `requester` input.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Where a fact came from. The policy sees it, so it can weigh sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A verified bearer JWT.
    Jwt,
    /// A header signed by the trusted identity service.
    SignedHeader,
    /// The user directory, keyed by a verified user id.
    Directory,
    /// A verified mTLS client certificate.
    Mtls,
    /// GeoIP of the client address (never verified).
    Geoip,
    /// No source said anything.
    None,
}

impl Source {
    /// The name the policy and the audit log see (`signed_header`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::SignedHeader => "signed_header",
            Self::Directory => "directory",
            Self::Mtls => "mtls",
            Self::Geoip => "geoip",
            Self::None => "none",
        }
    }
}

/// The jurisdiction written when no source gave a verified one.
pub const UNKNOWN_JURISDICTION: &str = "unknown";

/// Whose data this is: the data subject's home jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// ISO-style jurisdiction code (`US`, `EU`, `GB`, …) or `unknown`.
    pub jurisdiction: String,
    /// The source that gave it.
    pub source: Source,
    /// Whether the source was cryptographically verified (or keyed by a verified id).
    pub verified: bool,
    /// Keyed HMAC pseudonym of the subject's user id; never the id itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonym: Option<String>,
}

impl Subject {
    /// A subject nobody vouched for.
    #[must_use]
    pub fn unknown() -> Self {
        Self {
            jurisdiction: UNKNOWN_JURISDICTION.to_string(),
            source: Source::None,
            verified: false,
            pseudonym: None,
        }
    }
}

/// What kind of party is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequesterKind {
    /// An end user acting on their own data.
    User,
    /// A machine client (another service).
    Service,
    /// A person working for the operator (support, engineering).
    Employee,
    /// Not established.
    Unknown,
}

impl RequesterKind {
    /// The name the policy and the audit log see (`employee`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::Employee => "employee",
            Self::Unknown => "unknown",
        }
    }

    /// Parses a claim or config value; anything else is `Unknown`.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "user" => Self::User,
            "service" => Self::Service,
            "employee" => Self::Employee,
            _ => Self::Unknown,
        }
    }
}

/// An access approval carried by the request (verified like an identity token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Approval id, e.g. `APR-17`.
    pub id: String,
    /// What the approval covers (free text agreed with the policy authors).
    pub scope: String,
    /// Expiry, RFC 3339.
    pub expires: String,
    /// Whether the token verified. Unverified approvals are never passed on as verified.
    pub verified: bool,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// The kind of party.
    pub kind: RequesterKind,
    /// Identity: a service or employee id; for end users, their pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Organisation (e.g. the US data-security company).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Where the requester is (jurisdiction code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The source that gave the identity.
    pub source: Source,
    /// Whether the identity was verified.
    pub verified: bool,
    /// An access approval, when the request carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

impl Requester {
    /// A requester nobody vouched for.
    #[must_use]
    pub fn unknown() -> Self {
        Self {
            kind: RequesterKind::Unknown,
            id: None,
            org: None,
            location: None,
            source: Source::None,
            verified: false,
            approval: None,
        }
    }
}

/// The outcome of attribution for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// Whose data it is.
    pub subject: Subject,
    /// Who is asking.
    pub requester: Requester,
}

/// Identity read from a client certificate that the TLS layer verified
/// against the configured CA. Built only by the TLS listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCertIdentity {
    /// Subject common name.
    pub common_name: Option<String>,
    /// Subject organisation (O).
    pub organization: Option<String>,
    /// Subject organisational unit (OU).
    pub organizational_unit: Option<String>,
    /// Subject country (C).
    pub country: Option<String>,
    /// Subject locality (L).
    pub locality: Option<String>,
    /// Subject state or province (ST).
    pub state: Option<String>,
    /// SAN URIs, including SPIFFE ids.
    pub san_uris: Vec<String>,
}

/// What the connection tells us about the peer.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The TCP peer address.
    pub remote_addr: SocketAddr,
    /// The verified client certificate, when mTLS verified one.
    pub client_cert: Option<ClientCertIdentity>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serialised_names() {
        let sources = [
            Source::Jwt,
            Source::SignedHeader,
            Source::Directory,
            Source::Mtls,
            Source::Geoip,
            Source::None,
        ];
        for s in sources {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        let kinds = [
            RequesterKind::User,
            RequesterKind::Service,
            RequesterKind::Employee,
            RequesterKind::Unknown,
        ];
        for k in kinds {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(RequesterKind::parse(k.as_str()), k);
        }
    }
}
