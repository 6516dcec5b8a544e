//! The JWT identity source: reads `Authorization: Bearer <token>` (or the
//! configured header), verifies it with [`JwtVerifier`], and maps the
//! configured claims to identity facts.
//!
//! A token that fails any check yields nothing (logged at debug level with
//! the reason); it is never an error response. The jurisdiction claim must be
//! a plausible code, else the token gives no jurisdiction but still gives its
//! verified `sub`. This module does not pseudonymise; the attributor does.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use http::{HeaderMap, HeaderName};
use jurisgate_config::JwtSource;

use crate::bearer::{extract_bearer, single_value};
use crate::jurisdiction::normalize_jurisdiction;
use crate::jwt::{Claims, JwtVerifier, parse_algorithms};
use crate::load::{load_jwks, parse_header_name};
use crate::{AttributionError, RequesterKind};

/// What a verified identity token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    /// The `sub` claim (raw; pseudonymise before output).
    pub user: Option<String>,
    /// The subject's home jurisdiction, when the claim is a plausible code.
    pub jurisdiction: Option<String>,
    /// The requester kind: the kind claim; `user` when the token has none
    /// (end-user tokens usually carry no kind); `unknown` for other values.
    pub kind: RequesterKind,
    /// Where the requester is, when the claim is a plausible code.
    pub location: Option<String>,
    /// The requester's organisation.
    pub org: Option<String>,
}

/// One configured JWT source.
#[derive(Debug, Clone)]
pub struct JwtIdentitySource {
    header: HeaderName,
    /// The JWKS file, read again on a reload.
    jwks: PathBuf,
    verifier: JwtVerifier,
    jurisdiction_claim: String,
    kind_claim: String,
    location_claim: String,
    org_claim: String,
}

impl JwtIdentitySource {
    /// From a `kind = "jwt"` source config.
    ///
    /// # Errors
    /// When the header name or an algorithm is invalid or the JWKS unusable.
    pub fn from_config(config: &JwtSource) -> Result<Self, AttributionError> {
        let algorithms = parse_algorithms(&config.algorithms)?;
        let keys = load_jwks(&config.jwks)?;
        Ok(Self {
            header: parse_header_name(&config.header)?,
            jwks: config.jwks.clone(),
            verifier: JwtVerifier::new(
                keys,
                &config.issuer,
                &config.audience,
                algorithms,
                config.leeway.0,
            )
            .with_token_cache(config.token_cache),
            jurisdiction_claim: config.jurisdiction_claim.clone(),
            kind_claim: config.requester_kind_claim.clone(),
            location_claim: config.location_claim.clone(),
            org_claim: config.org_claim.clone(),
        })
    }

    /// The JWKS file and the verifier whose keys it holds, for
    /// [`crate::Attributor::read_keys`].
    pub(crate) fn keys(&self) -> (&Path, &JwtVerifier) {
        (&self.jwks, &self.verifier)
    }

    /// The identity of the request's token, when it carries one that verifies.
    #[must_use]
    pub fn identity(&self, headers: &HeaderMap, now: SystemTime) -> Option<TokenIdentity> {
        let verified = single_value(headers, &self.header)
            .map_err(|e| e.to_string())
            .and_then(|value| {
                let Some(value) = value else { return Ok(None) };
                let token = extract_bearer(value.as_bytes()).map_err(|e| e.to_string())?;
                self.verifier
                    .verify(token, now)
                    .map(Some)
                    .map_err(|e| e.to_string())
            });
        match verified {
            Ok(claims) => claims.map(|c| self.identity_from(&c)),
            Err(reason) => {
                tracing::debug!(header = %self.header, %reason, "jwt source: token not used");
                None
            }
        }
    }

    fn identity_from(&self, claims: &Claims) -> TokenIdentity {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let jurisdiction = text(&self.jurisdiction_claim).and_then(normalize_jurisdiction);
        if jurisdiction.is_none() && claims.contains_key(&self.jurisdiction_claim) {
            tracing::debug!(claim = %self.jurisdiction_claim, "jwt source: jurisdiction claim is not a plausible code");
        }
        TokenIdentity {
            user: text("sub").map(str::to_string),
            jurisdiction,
            kind: match claims.get(&self.kind_claim) {
                None => RequesterKind::User,
                Some(v) => v
                    .as_str()
                    .map_or(RequesterKind::Unknown, RequesterKind::parse),
            },
            location: text(&self.location_claim).and_then(normalize_jurisdiction),
            org: text(&self.org_claim).map(str::to_string),
        }
    }
}
