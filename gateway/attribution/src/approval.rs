//! Access approvals (Project Texas style): a token from the approvals
//! service in its own header, verified like an identity token (JWKS, `iss`,
//! `aud`, `exp`, `nbf`), carrying `approval_id` (or `jti`), `scope`, `exp`
//! and `sub`: who it was granted to.
//!
//! An approval is bound to its holder: it counts only on a request whose
//! requester was verified (by an identity token or a client certificate)
//! with exactly the id in its `sub` (the raw id, before any pseudonym). A
//! leaked or shared approval token is worth nothing to anyone else, and an
//! approval on a request with no verified requester is dropped.
//!
//! An approval that fails any check is dropped: the request is attributed as
//! if it carried none, so an unverified approval never reaches the policy,
//! not even marked `verified: false` (a policy cannot then mistake one for
//! the other). This module does not decide what an approval permits.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName};
use jsonwebtoken::Algorithm;
use jurisgate_config::Approvals;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::bearer::single_value;
use crate::jwt::{Claims, JwtVerifier};
use crate::load::{load_jwks, parse_header_name};
use crate::{Approval, AttributionError};

/// The algorithms approval tokens may use (the config has no list for them).
const APPROVAL_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
/// Clock skew allowed on approval `exp` and `nbf`.
const APPROVAL_LEEWAY: Duration = Duration::from_secs(30);

/// Verifies approval tokens.
#[derive(Debug, Clone)]
pub struct ApprovalVerifier {
    header: HeaderName,
    /// The approvals service's JWKS file, read again on a reload.
    jwks: PathBuf,
    jwt: JwtVerifier,
}

impl ApprovalVerifier {
    /// From the `[approvals]` config.
    ///
    /// # Errors
    /// When the header name is invalid or the JWKS cannot be used.
    pub fn from_config(config: &Approvals) -> Result<Self, AttributionError> {
        let header = parse_header_name(&config.header)?;
        let keys = load_jwks(&config.jwks)?;
        let jwt = JwtVerifier::new(
            keys,
            &config.issuer,
            &config.audience,
            APPROVAL_ALGORITHMS.to_vec(),
            APPROVAL_LEEWAY,
        );
        Ok(Self {
            header,
            jwks: config.jwks.clone(),
            jwt,
        })
    }

    /// The JWKS file and the verifier whose keys it holds, for
    /// [`crate::Attributor::read_keys`].
    pub(crate) fn keys(&self) -> (&Path, &JwtVerifier) {
        (&self.jwks, &self.jwt)
    }

    /// The verified approval the request carries, if any, and only if it
    /// was granted to `requester` (the verified requester's raw id).
    #[must_use]
    pub fn approval(
        &self,
        headers: &HeaderMap,
        now: SystemTime,
        requester: Option<&str>,
    ) -> Option<Approval> {
        let value = match single_value(headers, &self.header) {
            Ok(v) => v?,
            Err(e) => {
                tracing::debug!(reason = %e, "approval dropped");
                return None;
            }
        };
        let token = value.to_str().unwrap_or_default();
        // A bare token; a `Bearer ` prefix is tolerated for clients that add one.
        let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
        match self
            .jwt
            .verify(token, now)
            .map_err(|e| e.to_string())
            .and_then(|c| approval_from(&c, requester))
        {
            Ok(approval) => Some(approval),
            Err(reason) => {
                tracing::debug!(%reason, "approval dropped");
                None
            }
        }
    }
}

fn approval_from(claims: &Claims, requester: Option<&str>) -> Result<Approval, String> {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let granted_to =
        text("sub").ok_or("no `sub` claim: an approval names who it was granted to")?;
    match requester {
        None => return Err("no verified requester to hold the approval".into()),
        Some(r) if r != granted_to => {
            return Err("granted to another requester".into());
        }
        Some(_) => {}
    }
    let id = text("approval_id")
        .or_else(|| text("jti"))
        .ok_or("no `approval_id` or `jti` claim")?;
    let scope = text("scope").ok_or("no `scope` claim")?;
    // `exp` was checked to be numeric by the verifier.
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_default();
    let expires = i64::try_from(exp as u64)
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or("`exp` is out of range")?;
    Ok(Approval {
        id: id.to_string(),
        scope: scope.to_string(),
        expires,
        verified: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_claims_table() {
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        let holder = Some("eng-7");
        let approval_from = |c: &Claims| approval_from(c, holder);
        let ok = approval_from(&claims(
            serde_json::json!({"approval_id": "APR-17", "scope": "read:messages", "exp": 1_800_000_000, "sub": "eng-7"}),
        ));
        assert_eq!(
            ok,
            Ok(Approval {
                id: "APR-17".into(),
                scope: "read:messages".into(),
                expires: "2027-01-15T08:00:00Z".into(),
                verified: true
            })
        );
        let by_jti = approval_from(&claims(
            serde_json::json!({"jti": "APR-9", "scope": "s", "exp": 0, "sub": "eng-7"}),
        ))
        .unwrap();
        assert_eq!(
            (by_jti.id.as_str(), by_jti.expires.as_str()),
            ("APR-9", "1970-01-01T00:00:00Z")
        );
        assert!(
            approval_from(&claims(
                serde_json::json!({"scope": "s", "exp": 0, "sub": "eng-7"})
            ))
            .is_err()
        );
        assert!(
            approval_from(&claims(
                serde_json::json!({"approval_id": "A", "exp": 0, "sub": "eng-7"})
            ))
            .is_err()
        );
        assert!(
            approval_from(&claims(
                serde_json::json!({"approval_id": 17, "scope": "s", "exp": 0, "sub": "eng-7"})
            ))
            .is_err()
        );
    }

    #[test]
    fn an_approval_counts_only_for_the_requester_it_names() {
        let claims = |sub: serde_json::Value| {
            serde_json::json!({"approval_id": "A", "scope": "s", "exp": 0, "sub": sub})
                .as_object()
                .unwrap()
                .clone()
        };
        let granted = claims(serde_json::json!("eng-7"));
        assert!(super::approval_from(&granted, Some("eng-7")).is_ok());
        for (name, requester) in [
            ("someone else", Some("eng-8")),
            ("a prefix", Some("eng-")),
            ("a longer id", Some("eng-77")),
            ("different case", Some("ENG-7")),
            ("no verified requester", None),
        ] {
            assert!(super::approval_from(&granted, requester).is_err(), "{name}");
        }
        for (name, sub) in [
            ("no sub", serde_json::Value::Null),
            ("empty sub", serde_json::json!("")),
            ("numeric sub", serde_json::json!(7)),
        ] {
            assert!(
                super::approval_from(&claims(sub), Some("eng-7")).is_err(),
                "{name}"
            );
        }
    }
}
