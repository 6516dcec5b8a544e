//! Public keys from a JWKS document, each bound to the algorithms it may
//! verify.
//!
//! Binding a key to its algorithms is what stops algorithm confusion: an
//! RSA key only ever verifies RS*/PS*, a P-256 key only ES256, an Ed25519
//! key only EdDSA, and no public key ever verifies an HMAC token. Symmetric
//! (`oct`) keys, encryption keys and key types we cannot use are skipped
//! with a warning; malformed keys are errors, so a broken file fails at
//! start-up rather than per request. This module does not fetch JWKS over
//! the network.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest, Sha256};

/// Smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// Why a JWKS document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The document is not a JWKS (`{"keys": [...]}`) or a key is malformed JSON.
    #[error("not a JWKS document: {0}")]
    Json(String),
    /// A key is malformed; the index is its position in `keys`.
    #[error("key #{index}{}: {reason}", kid_suffix(.kid))]
    Key {
        /// Position in `keys`.
        index: usize,
        /// The key's `kid`, when it has one.
        kid: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// Two keys share a `kid`, so selection by `kid` would be ambiguous.
    #[error("two keys have kid `{0}`")]
    DuplicateKid(String),
    /// No key in the document can verify a signature.
    #[error("no usable signature key (RSA, EC P-256/P-384 or Ed25519)")]
    NoUsableKey,
}

fn kid_suffix(kid: &Option<String>) -> String {
    kid.as_ref()
        .map(|k| format!(" (kid `{k}`)"))
        .unwrap_or_default()
}

/// One verification key and the algorithms it may verify.
#[derive(Clone)]
pub struct VerifyKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    /// The key id, when the JWK has one.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this key may verify a token signed with `alg`.
    #[must_use]
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }

    /// The key material for `jsonwebtoken`.
    #[must_use]
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// The usable keys of one JWKS document.
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<VerifyKey>,
    /// SHA-256 of the JWKS document.
    digest: [u8; 32],
}

impl KeySet {
    /// All keys.
    #[must_use]
    pub fn keys(&self) -> &[VerifyKey] {
        &self.keys
    }

    /// The first 8 bytes of the JWKS document's SHA-256, in hex: names the
    /// key set in the audit log (a rotation changes it) without the keys.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.digest[..8])
    }

    /// Whether both sets were read from byte-identical documents (the whole
    /// SHA-256 compared).
    #[must_use]
    pub fn same_document(&self, other: &KeySet) -> bool {
        self.digest == other.digest
    }

    /// The key with this `kid`.
    #[must_use]
    pub fn by_kid(&self, kid: &str) -> Option<&VerifyKey> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

/// Parses a JWKS document into keys bound to their algorithms.
///
/// # Errors
/// A [`JwksError`] naming the key at fault, or when no key is usable.
pub fn parse_jwks(bytes: &[u8]) -> Result<KeySet, JwksError> {
    let set: JwkSet = serde_json::from_slice(bytes).map_err(|e| JwksError::Json(e.to_string()))?;
    let mut keys: Vec<VerifyKey> = Vec::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        let kid = jwk.common.key_id.clone();
        let fail = |reason: String| JwksError::Key {
            index,
            kid: kid.clone(),
            reason,
        };
        let Some(key) = verify_key(jwk).map_err(fail)? else {
            continue;
        };
        if let Some(k) = &key.kid
            && keys.iter().any(|other| other.kid.as_ref() == Some(k))
        {
            return Err(JwksError::DuplicateKid(k.clone()));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(KeySet {
        keys,
        digest: Sha256::digest(bytes).into(),
    })
}

/// The key, `Ok(None)` for a key that is not for verifying signatures.
fn verify_key(jwk: &Jwk) -> Result<Option<VerifyKey>, String> {
    let kid = jwk.common.key_id.clone();
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        tracing::warn!(kid = ?kid, "JWKS: skipping an encryption key (use = enc)");
        return Ok(None);
    }
    let (family, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = decode_component("n", &p.n)?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(format!(
                    "RSA modulus is {} bits; at least 2048 are required",
                    significant * 8
                ));
            }
            decode_component("e", &p.e)?;
            let key = DecodingKey::from_rsa_components(&p.n, &p.e).map_err(|e| e.to_string())?;
            let algs = vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ];
            (algs, key)
        }
        AlgorithmParameters::EllipticCurve(p) => {
            let (alg, len) = match p.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                ref other => {
                    tracing::warn!(kid = ?kid, curve = ?other, "JWKS: skipping an EC key on an unsupported curve");
                    return Ok(None);
                }
            };
            for (name, value) in [("x", &p.x), ("y", &p.y)] {
                let bytes = decode_component(name, value)?;
                if bytes.len() != len {
                    return Err(format!(
                        "EC `{name}` is {} bytes, expected {len}",
                        bytes.len()
                    ));
                }
            }
            let key = DecodingKey::from_ec_components(&p.x, &p.y).map_err(|e| e.to_string())?;
            (vec![alg], key)
        }
        AlgorithmParameters::OctetKeyPair(p) => {
            if p.curve != EllipticCurve::Ed25519 {
                tracing::warn!(kid = ?kid, curve = ?p.curve, "JWKS: skipping an OKP key that is not Ed25519");
                return Ok(None);
            }
            // The verifier slices 32 bytes off this value; check before it does.
            let x = decode_component("x", &p.x)?;
            if x.len() != 32 {
                return Err(format!("Ed25519 `x` is {} bytes, expected 32", x.len()));
            }
            let key = DecodingKey::from_ed_components(&p.x).map_err(|e| e.to_string())?;
            (vec![Algorithm::EdDSA], key)
        }
        AlgorithmParameters::OctetKey(_) => {
            tracing::warn!(kid = ?kid, "JWKS: skipping a symmetric (oct) key; only public keys verify tokens");
            return Ok(None);
        }
        _ => {
            tracing::warn!(kid = ?kid, "JWKS: skipping a key of an unsupported type");
            return Ok(None);
        }
    };
    let algorithms = match jwk.common.key_algorithm {
        None => family,
        Some(declared) => match signing_algorithm(declared) {
            Some(alg) if family.contains(&alg) => vec![alg],
            Some(alg) => {
                return Err(format!(
                    "declares alg {alg:?}, which does not fit its key type"
                ));
            }
            None => {
                tracing::warn!(kid = ?kid, alg = ?declared, "JWKS: skipping a key declared for a non-signature algorithm");
                return Ok(None);
            }
        },
    };
    Ok(Some(VerifyKey {
        kid,
        algorithms,
        key,
    }))
}

fn decode_component(name: &str, value: &str) -> Result<Vec<u8>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|e| format!("`{name}` is not base64url without padding: {e}"))?;
    if bytes.is_empty() {
        return Err(format!("`{name}` is empty"));
    }
    Ok(bytes)
}

/// The signature algorithm a JWK `alg` names; `None` for encryption ones.
fn signing_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        KeyAlgorithm::RSA1_5
        | KeyAlgorithm::RSA_OAEP
        | KeyAlgorithm::RSA_OAEP_256
        | KeyAlgorithm::UNKNOWN_ALGORITHM => return None,
        // Algorithms added to the library later are not trusted until reviewed.
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn keys_are_bound_to_their_algorithms() {
        let doc = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(&[7; 32])},
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
            {"kty": "RSA", "kid": "rsa", "alg": "RS256", "n": b64(&[0xc5; 256]), "e": "AQAB"},
            {"kty": "oct", "kid": "sym", "k": b64(b"secret")},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(&[0xc5; 256]), "e": "AQAB"},
        ]});
        let set = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = set.keys().iter().map(|k| k.kid().unwrap()).collect();
        assert_eq!(kids, ["ed", "ec", "rsa"]);
        let ed = set.by_kid("ed").unwrap();
        assert!(
            ed.allows(Algorithm::EdDSA)
                && !ed.allows(Algorithm::RS256)
                && !ed.allows(Algorithm::HS256)
        );
        let ec = set.by_kid("ec").unwrap();
        assert!(
            ec.allows(Algorithm::ES256)
                && !ec.allows(Algorithm::ES384)
                && !ec.allows(Algorithm::HS256)
        );
        let rsa = set.by_kid("rsa").unwrap();
        assert!(
            rsa.allows(Algorithm::RS256)
                && !rsa.allows(Algorithm::PS256)
                && !rsa.allows(Algorithm::HS256)
        );
        assert!(set.by_kid("sym").is_none());
    }

    #[test]
    fn malformed_documents_are_refused_with_the_key_named() {
        let cases = [
            ("not json", "not a JWKS"),
            (r#"{"keys": []}"#, "no usable signature key"),
            (
                r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#,
                "no usable signature key",
            ),
            (
                r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "short", "x": "AAAA"}]}"#,
                "key #0 (kid `short`): Ed25519 `x` is 3 bytes",
            ),
            (
                r#"{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}"#,
                "key #0: RSA modulus is 24 bits",
            ),
            (
                r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "!!"}]}"#,
                "`x` is not base64url",
            ),
        ];
        for (doc, want) in cases {
            let err = parse_jwks(doc.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{doc}: got {err:?}, want {want:?}");
        }
        let dup = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": b64(&[7; 32])},
            {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": b64(&[8; 32])},
        ]});
        assert!(
            matches!(parse_jwks(dup.to_string().as_bytes()), Err(JwksError::DuplicateKid(k)) if k == "a")
        );
        let mismatch = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "alg": "RS256", "x": b64(&[7; 32])},
        ]});
        let err = parse_jwks(mismatch.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not fit its key type"), "{err}");
    }
}
