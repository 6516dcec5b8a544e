//! Verifying a compact JWS token against a [`KeySet`]: algorithm allow-list,
//! key selection by `kid`, signature, `iss`, `aud`, `exp` and `nbf`.
//!
//! The token's `alg` must be in the configured list *and* fit the selected
//! key ([`VerifyKey::allows`]): `alg: none` does not parse, HMAC algorithms
//! are never configurable, and a `kid` naming a key of another type fails
//! instead of falling back to other keys. Time claims are checked against
//! the `now` the caller passes, so tests need no clock tricks. This module
//! reads no headers and maps no claims to facts; the sources do.
//!
//! Each verifier remembers the tokens it verified ([`crate::token_cache`]):
//! a token seen again skips every check that depends only on its bytes and
//! the verifier's fixed keys and settings (header, `alg`, `kid`, signature,
//! `iss`, `aud`), and gets its `exp` and `nbf` checked against `now` exactly
//! as on a first verification. The cache and the key set are one value, so
//! keys cannot change under cached tokens.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value};

use crate::AttributionError;
use crate::jwks::{KeySet, VerifyKey};
use crate::token_cache::{DEFAULT_CAPACITY, TokenCache, Verified, token_digest};

/// The verified claims of a token.
pub type Claims = Map<String, Value>;

/// Why a token did not verify. Logged at debug level, never shown to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three dot-separated segments.
    #[error("the token is not three dot-separated segments")]
    Segments,
    /// The header does not decode (includes `alg: none` and unknown algorithms).
    #[error("the token header does not decode: {0}")]
    Header(String),
    /// `alg` is not in the configured list.
    #[error("algorithm {0:?} is not accepted")]
    AlgorithmNotAccepted(Algorithm),
    /// No key has the token's `kid`.
    #[error("no key has kid `{0}`")]
    UnknownKid(String),
    /// The key named by `kid` cannot verify the token's `alg`.
    #[error("key `{kid}` does not verify {alg:?} tokens")]
    KeyAlgorithmMismatch {
        /// The token's `kid`.
        kid: String,
        /// The token's `alg`.
        alg: Algorithm,
    },
    /// The token has no `kid` and no key can verify its `alg`.
    #[error("no key verifies {0:?} tokens")]
    NoKeyForAlgorithm(Algorithm),
    /// The signature does not verify with the selected key.
    #[error("the signature does not verify")]
    Signature,
    /// `iss`, `aud` or the claim set is invalid.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// `exp` is missing or not a number.
    #[error("the token has no numeric `exp`")]
    MissingExp,
    /// `nbf` is present but not a number.
    #[error("the token's `nbf` is not a number")]
    BadNbf,
    /// `exp` plus leeway is in the past.
    #[error("the token expired at {exp}, now is {now}")]
    Expired {
        /// The `exp` claim.
        exp: u64,
        /// The time of the check.
        now: u64,
    },
    /// `nbf` minus leeway is in the future.
    #[error("the token is not valid before {nbf}, now is {now}")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: u64,
        /// The time of the check.
        now: u64,
    },
}

/// Decodes the header of a compact JWS without verifying anything.
///
/// # Errors
/// [`JwtError::Segments`] or [`JwtError::Header`].
pub fn decode_jwt_header(token: &[u8]) -> Result<Header, JwtError> {
    if token.iter().filter(|b| **b == b'.').count() != 2 {
        return Err(JwtError::Segments);
    }
    jsonwebtoken::decode_header(token).map_err(|e| JwtError::Header(e.to_string()))
}

/// Parses configured algorithm names, refusing symmetric ones: with a public
/// JWKS an HMAC "secret" would be public.
///
/// # Errors
/// [`AttributionError::Algorithm`] naming the first unacceptable name.
pub fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, AttributionError> {
    names
        .iter()
        .map(|name| {
            let refuse = || AttributionError::Algorithm { name: name.clone() };
            let alg: Algorithm = name.parse().map_err(|_| refuse())?;
            match alg {
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Err(refuse()),
                other => Ok(other),
            }
        })
        .collect()
}

/// Verifies tokens from one issuer for one audience. Clones share one
/// cache of verified tokens, as they share the keys and settings.
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    /// Swapped whole by [`Self::replace_keys`]; clones share it.
    keys: Arc<ArcSwap<LoadedKeys>>,
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: u64,
}

/// A key set and the tokens verified with it: whatever replaces the keys
/// replaces the cache with them.
#[derive(Debug)]
struct LoadedKeys {
    set: KeySet,
    verified: TokenCache,
}

impl JwtVerifier {
    /// A verifier accepting `algorithms` (already free of HMAC, see
    /// [`parse_algorithms`]) with `leeway` on `exp` and `nbf`, remembering
    /// up to 10,000 verified tokens (see [`JwtVerifier::with_token_cache`]).
    #[must_use]
    pub fn new(
        keys: KeySet,
        issuer: &str,
        audience: &str,
        algorithms: Vec<Algorithm>,
        leeway: Duration,
    ) -> Self {
        Self {
            keys: Arc::new(ArcSwap::from_pointee(LoadedKeys {
                set: keys,
                verified: TokenCache::new(DEFAULT_CAPACITY),
            })),
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            algorithms,
            leeway: leeway.as_secs(),
        }
    }

    /// The same verifier remembering up to `capacity` verified tokens,
    /// starting empty; 0 remembers none, so every token is verified anew.
    #[must_use]
    pub fn with_token_cache(self, capacity: usize) -> Self {
        let set = self.keys.load().set.clone();
        Self {
            keys: Arc::new(ArcSwap::from_pointee(LoadedKeys {
                set,
                verified: TokenCache::new(capacity),
            })),
            ..self
        }
    }

    /// Replaces the key set (an identity provider rotated its keys), for
    /// this verifier and its clones. The verified-token cache goes with the
    /// old keys: a token verified under them is checked again under the
    /// new. Requests already verifying finish with the keys they started
    /// with.
    pub fn replace_keys(&self, set: KeySet) {
        let capacity = self.keys.load().verified.capacity();
        self.keys.store(Arc::new(LoadedKeys {
            set,
            verified: TokenCache::new(capacity),
        }));
    }

    /// Whether `set` was read from the same document as the keys in use.
    #[must_use]
    pub fn holds(&self, set: &KeySet) -> bool {
        self.keys.load().set.same_document(set)
    }

    /// How many verified tokens the cache holds now.
    #[must_use]
    pub fn cached_tokens(&self) -> usize {
        self.keys.load().verified.len()
    }

    /// The issuer this verifier accepts.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The fingerprint of the key set in use (see [`KeySet::fingerprint`]).
    #[must_use]
    pub fn key_set_fingerprint(&self) -> String {
        self.keys.load().set.fingerprint()
    }

    /// The claims of `token` when it verifies at time `now`. A token this
    /// verifier verified before is found by the SHA-256 of its bytes and
    /// only has its `exp` and `nbf` checked again; failures are not kept.
    ///
    /// # Errors
    /// A [`JwtError`] saying which check failed.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Arc<Claims>, JwtError> {
        let now = unix_seconds(now);
        let keys = self.keys.load();
        let cache = &keys.verified;
        let digest = (cache.capacity() > 0).then(|| token_digest(token.as_bytes()));
        if let Some(hit) = digest.as_ref().and_then(|d| cache.get(d)) {
            hit.validity.check(now, self.leeway)?;
            return Ok(hit.claims);
        }
        let claims = self.verify_uncached(token, &keys.set)?;
        let validity = check_times(&claims, now, self.leeway)?;
        let claims = Arc::new(claims);
        if let Some(digest) = digest {
            let verified = Verified {
                claims: Arc::clone(&claims),
                validity,
            };
            cache.insert(digest, verified, now, self.leeway);
        }
        Ok(claims)
    }

    /// Every check but the time claims, which depend on `now`.
    fn verify_uncached(&self, token: &str, keys: &KeySet) -> Result<Claims, JwtError> {
        let header = decode_jwt_header(token.as_bytes())?;
        let alg = header.alg;
        if !self.algorithms.contains(&alg) {
            return Err(JwtError::AlgorithmNotAccepted(alg));
        }
        match &header.kid {
            Some(kid) => {
                let key = keys
                    .by_kid(kid)
                    .ok_or_else(|| JwtError::UnknownKid(kid.clone()))?;
                if !key.allows(alg) {
                    return Err(JwtError::KeyAlgorithmMismatch {
                        kid: kid.clone(),
                        alg,
                    });
                }
                self.decode(token, alg, key)
            }
            None => self.decode_any(token, alg, keys),
        }
    }

    /// Without a `kid`, only keys that fit `alg` are tried; a signature
    /// failure moves on to the next, any other failure is final.
    fn decode_any(&self, token: &str, alg: Algorithm, keys: &KeySet) -> Result<Claims, JwtError> {
        let mut last = JwtError::NoKeyForAlgorithm(alg);
        for key in keys.keys().iter().filter(|k| k.allows(alg)) {
            match self.decode(token, alg, key) {
                Ok(claims) => return Ok(claims),
                Err(JwtError::Signature) => last = JwtError::Signature,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn decode(&self, token: &str, alg: Algorithm, key: &VerifyKey) -> Result<Claims, JwtError> {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["iss", "aud"]);
        // Time claims are checked against the caller's `now` in `check_times`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        match jsonwebtoken::decode::<Claims>(token, key.decoding_key(), &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => Err(JwtError::Signature),
            Err(e) => Err(JwtError::Invalid(e.to_string())),
        }
    }
}

/// Seconds since the Unix epoch; a clock before 1970 counts as 0.
#[must_use]
pub(crate) fn unix_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A numeric-date claim (RFC 7519 §2): a non-negative number of seconds.
/// Fractions are truncated.
fn numeric_date(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    })
}

/// When a token is valid: its `exp` and optional `nbf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    /// The `exp` claim.
    pub(crate) exp: u64,
    /// The `nbf` claim, when present.
    pub(crate) nbf: Option<u64>,
}

impl Validity {
    /// `Ok` when the token is valid at `now`, with `leeway` on both ends.
    pub(crate) fn check(&self, now: u64, leeway: u64) -> Result<(), JwtError> {
        if now > self.exp.saturating_add(leeway) {
            return Err(JwtError::Expired { exp: self.exp, now });
        }
        match self.nbf {
            Some(nbf) if nbf > now.saturating_add(leeway) => {
                Err(JwtError::NotYetValid { nbf, now })
            }
            _ => Ok(()),
        }
    }
}

/// The validity window of `claims`, when it includes `now`.
fn check_times(claims: &Claims, now: u64, leeway: u64) -> Result<Validity, JwtError> {
    let exp = claims
        .get("exp")
        .and_then(numeric_date)
        .ok_or(JwtError::MissingExp)?;
    let nbf = claims
        .get("nbf")
        .map(|nbf| numeric_date(nbf).ok_or(JwtError::BadNbf))
        .transpose();
    let validity = Validity { exp, nbf: None };
    // An expired token is refused as expired even when its `nbf` is malformed.
    validity.check(now, leeway)?;
    let validity = Validity { exp, nbf: nbf? };
    validity.check(now, leeway)?;
    Ok(validity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_algorithms_are_configurable() {
        let ok = parse_algorithms(&["RS256".into(), "ES256".into(), "EdDSA".into()]).unwrap();
        assert_eq!(ok, [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]);
        for bad in ["HS256", "HS512", "none", "rs256", ""] {
            let err = parse_algorithms(&[bad.into()]).unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn time_claims_table() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let now = 1_000_000;
        let cases = [
            (serde_json::json!({"exp": now + 10}), Ok(())),
            (serde_json::json!({"exp": now - 20}), Ok(())),
            (
                serde_json::json!({"exp": now - 31}),
                Err(JwtError::Expired { exp: now - 31, now }),
            ),
            (serde_json::json!({"exp": (now + 10) as f64 + 0.5}), Ok(())),
            (serde_json::json!({}), Err(JwtError::MissingExp)),
            (
                serde_json::json!({"exp": "soon"}),
                Err(JwtError::MissingExp),
            ),
            (serde_json::json!({"exp": -1}), Err(JwtError::MissingExp)),
            (
                serde_json::json!({"exp": now + 10, "nbf": now + 20}),
                Ok(()),
            ),
            (
                serde_json::json!({"exp": now + 100, "nbf": now + 31}),
                Err(JwtError::NotYetValid { nbf: now + 31, now }),
            ),
            (
                serde_json::json!({"exp": now + 10, "nbf": "x"}),
                Err(JwtError::BadNbf),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                check_times(&claims(input.clone()), now, 30).map(|_| ()),
                want,
                "claims {input}"
            );
        }
    }

    #[test]
    fn header_decoding_refuses_none_and_bad_shapes() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}"));
        assert!(matches!(
            decode_jwt_header(none.as_bytes()),
            Err(JwtError::Header(_))
        ));
        assert_eq!(decode_jwt_header(b"a.b"), Err(JwtError::Segments));
        assert_eq!(decode_jwt_header(b"a.b.c.d"), Err(JwtError::Segments));
        let ok = format!("{}.{}.sig", b64(r#"{"alg":"EdDSA","kid":"k"}"#), b64("{}"));
        let header = decode_jwt_header(ok.as_bytes()).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::EdDSA, Some("k"))
        );
    }

    /// The verifier's cache: real EdDSA tokens from the dev IdP, a cached
    /// verifier against one that remembers nothing.
    mod cache {
        use super::*;
        use crate::dev_idp::DevIdp;
        use crate::parse_jwks;

        const ISSUER: &str = "https://id.example.com";
        const AUDIENCE: &str = "app";
        const T: u64 = 1_800_000_000;

        fn at(secs: u64) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(secs)
        }

        fn verifier(idp: &DevIdp) -> JwtVerifier {
            let keys = parse_jwks(idp.jwks_json().as_bytes()).unwrap();
            JwtVerifier::new(
                keys,
                ISSUER,
                AUDIENCE,
                vec![Algorithm::EdDSA],
                Duration::from_secs(30),
            )
        }

        /// A cached verifier, and one that verifies every token anew.
        fn pair(idp: &DevIdp) -> (JwtVerifier, JwtVerifier) {
            (verifier(idp), verifier(idp).with_token_cache(0))
        }

        #[test]
        fn a_hit_gives_the_claims_of_a_fresh_verification() {
            let idp = DevIdp::generate(ISSUER, AUDIENCE);
            let (cached, fresh) = pair(&idp);
            let token = idp.sign(&idp.claims("alice", Some("US"), at(T)));
            let first = cached.verify(&token, at(T)).unwrap();
            assert_eq!(cached.keys.load().verified.len(), 1);
            let again = cached.verify(&token, at(T + 60)).unwrap();
            // The same allocation: the second answer came from the cache.
            assert!(Arc::ptr_eq(&first, &again));
            let anew = fresh.verify(&token, at(T + 60)).unwrap();
            assert!(!Arc::ptr_eq(
                &anew,
                &fresh.verify(&token, at(T + 60)).unwrap()
            ));
            assert_eq!(*again, *anew);
            assert_eq!(again["sub"], "alice");
            assert_eq!(fresh.keys.load().verified.len(), 0);
            // Clones share the cache, as they share the keys.
            assert!(Arc::ptr_eq(
                &first,
                &cached.clone().verify(&token, at(T)).unwrap()
            ));
        }

        #[test]
        fn a_cached_token_is_refused_once_outside_its_validity() {
            let idp = DevIdp::generate(ISSUER, AUDIENCE);
            let (cached, fresh) = pair(&idp);
            let mut claims = idp.claims("alice", Some("US"), at(T));
            claims["nbf"] = (T + 100).into();
            let token = idp.sign(&claims);
            cached.verify(&token, at(T + 100)).unwrap();
            assert_eq!(cached.keys.load().verified.len(), 1);
            let exp = T + 3600;
            let cases = [
                (
                    T + 69,
                    Err(JwtError::NotYetValid {
                        nbf: T + 100,
                        now: T + 69,
                    }),
                ),
                (T + 70, Ok(())),
                (exp + 30, Ok(())),
                (exp + 31, Err(JwtError::Expired { exp, now: exp + 31 })),
                (
                    exp + 100_000,
                    Err(JwtError::Expired {
                        exp,
                        now: exp + 100_000,
                    }),
                ),
            ];
            for (now, want) in cases {
                let got = cached.verify(&token, at(now)).map(|_| ());
                assert_eq!(got, want, "cached, at {now}");
                assert_eq!(
                    fresh.verify(&token, at(now)).map(|_| ()),
                    want,
                    "fresh, at {now}"
                );
            }
            // Refusals leave the entry alone: valid again in its window.
            assert!(cached.verify(&token, at(T + 200)).is_ok());
        }

        #[test]
        fn a_token_with_one_byte_changed_is_not_a_hit() {
            let idp = DevIdp::generate(ISSUER, AUDIENCE);
            let (cached, fresh) = pair(&idp);
            let token = idp.sign(&idp.claims("alice", Some("US"), at(T)));
            cached.verify(&token, at(T)).unwrap();
            for i in 0..token.len() {
                let mut bytes = token.clone().into_bytes();
                bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
                let changed = String::from_utf8(bytes).unwrap();
                let got = cached.verify(&changed, at(T));
                assert!(got.is_err(), "byte {i} changed, still verified");
                assert_eq!(got, fresh.verify(&changed, at(T)), "byte {i} changed");
            }
            // Failures are not remembered.
            assert_eq!(cached.keys.load().verified.len(), 1);
        }
    }
}
