//! A development identity provider for demos and tests: a freshly generated
//! Ed25519 key, its JWKS, and real EdDSA-signed JWTs; plus signing of the
//! HMAC identity header. Nothing here is a mock: the gateway verifies these
//! tokens exactly as it verifies a production IdP's.
//!
//! It keeps keys in memory only and is not meant to run in production.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

pub use crate::signed_header::sign_identity_header;

/// The `kid` of the dev IdP's Ed25519 key.
pub const DEV_KID: &str = "dev-ed25519";

/// A throw-away identity provider.
pub struct DevIdp {
    issuer: String,
    audience: String,
    key: SigningKey,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl DevIdp {
    /// A provider with a new random Ed25519 key.
    #[must_use]
    pub fn generate(issuer: &str, audience: &str) -> Self {
        Self {
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The `iss` it signs as.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` its tokens are for.
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The public key as a JWKS document, for the gateway's `jwks` file.
    #[must_use]
    pub fn jwks_json(&self) -> String {
        let x = URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes());
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": DEV_KID, "x": x}]})
            .to_string()
    }

    /// Standard claims for `sub` valid for an hour from `now`: `iss`, `aud`,
    /// `sub`, `iat`, `exp`, and `jurisdiction` when given. Add or change
    /// claims on the returned object before signing.
    #[must_use]
    pub fn claims(&self, sub: &str, jurisdiction: Option<&str>, now: SystemTime) -> Value {
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut claims = json!({"iss": self.issuer, "aud": self.audience, "sub": sub, "iat": iat, "exp": iat + 3600});
        if let (Some(j), Some(map)) = (jurisdiction, claims.as_object_mut()) {
            map.insert("jurisdiction".into(), Value::from(j));
        }
        claims
    }

    /// A compact JWS of exactly `claims`, signed EdDSA with `kid` [`DEV_KID`].
    #[must_use]
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": DEV_KID});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}
