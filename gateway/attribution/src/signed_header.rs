//! The HMAC-signed identity header set by a trusted identity service in
//! front of the gateway.
//!
//! # Format
//!
//! ```text
//! v1;user=<id>;jurisdiction=<J>;ts=<unix seconds>;sig=<base64url-nopad HMAC-SHA256(key, "v1;user=<id>;jurisdiction=<J>;ts=<ts>")>
//! ```
//!
//! - Fields come in exactly this order; `jurisdiction=<J>;` may be left out
//!   (then the signed text is `v1;user=<id>;ts=<ts>`, and the user directory
//!   may supply the jurisdiction).
//! - `<id>`: 1–256 visible ASCII bytes, no `;` or `=`.
//! - `<J>`: an upper-case jurisdiction code (2–8 of `A–Z`, `0–9`, `-`).
//! - `<ts>`: 1–20 decimal digits, seconds since the Unix epoch.
//! - `sig`: 43 characters, base64url without padding, of the 32-byte MAC.
//!
//! A value is refused when it is malformed, repeats or reorders a field,
//! has a field we do not know, when the MAC differs (compared in constant
//! time), when it is older than `max_age` or more than 30 s in the future.
//! A header that appears twice is refused by the caller.
//!
//! # Key file
//!
//! The shared key is stored as **hex text** (e.g. 64 hex digits for a 32-byte
//! key); whitespace around it is trimmed; it must decode to at least 16 bytes.
//!
//! This module does not look up jurisdictions and does not read headers.

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AttributionError;
use crate::jurisdiction::normalize_jurisdiction;
use crate::jwt::unix_seconds;

/// Longest header value accepted.
pub const MAX_SIGNED_HEADER_BYTES: usize = 1024;
/// How far in the future a timestamp may be (clock skew between hosts).
pub const MAX_FUTURE_SKEW_SECS: u64 = 30;
/// Shortest HMAC key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;
const MAX_USER_BYTES: usize = 256;
const MAX_TS_DIGITS: usize = 20;
const MAC_BYTES: usize = 32;

/// Why a signed identity header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedHeaderError {
    /// Longer than [`MAX_SIGNED_HEADER_BYTES`].
    #[error("the value is {0} bytes, more than {MAX_SIGNED_HEADER_BYTES}")]
    TooLong(usize),
    /// A byte that is not visible ASCII, at this offset.
    #[error("byte {0} is not visible ASCII")]
    BadByte(usize),
    /// The value does not start with `v1;`.
    #[error("the value does not start with the version `v1`")]
    Version,
    /// A field without `=`, by position (1 is the field after `v1`).
    #[error("field {0} has no `=`")]
    NoEquals(usize),
    /// A field name we do not know.
    #[error("unknown field `{0}`")]
    UnknownField(String),
    /// A field given twice.
    #[error("field `{0}` appears twice")]
    DuplicateField(&'static str),
    /// Fields missing or out of order.
    #[error("fields must be user, [jurisdiction,] ts, sig in this order")]
    FieldOrder,
    /// A field's value is malformed.
    #[error("field `{0}` has a malformed value")]
    BadValue(&'static str),
    /// The MAC does not match.
    #[error("the signature does not match")]
    Signature,
    /// Older than the accepted age.
    #[error("signed at {ts}, older than {max_age} s at {now}")]
    Stale {
        /// The signed timestamp.
        ts: u64,
        /// The time of the check.
        now: u64,
        /// The accepted age.
        max_age: u64,
    },
    /// Too far in the future.
    #[error("signed at {ts}, more than {MAX_FUTURE_SKEW_SECS} s after {now}")]
    Future {
        /// The signed timestamp.
        ts: u64,
        /// The time of the check.
        now: u64,
    },
}

/// A parsed, not yet verified, signed identity header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIdentity {
    /// The user id.
    pub user: String,
    /// The home jurisdiction, when the identity service knows it.
    pub jurisdiction: Option<String>,
    /// Signing time, seconds since the Unix epoch.
    pub ts: u64,
    /// The MAC as sent.
    pub sig: [u8; MAC_BYTES],
}

impl SignedIdentity {
    /// The exact text the MAC covers.
    #[must_use]
    pub fn signed_text(&self) -> String {
        signed_text(&self.user, self.jurisdiction.as_deref(), self.ts)
    }
}

fn signed_text(user: &str, jurisdiction: Option<&str>, ts: u64) -> String {
    match jurisdiction {
        Some(j) => format!("v1;user={user};jurisdiction={j};ts={ts}"),
        None => format!("v1;user={user};ts={ts}"),
    }
}

/// Parses a header value without verifying it.
///
/// # Errors
/// A [`SignedHeaderError`] naming the field or byte at fault.
pub fn parse_signed_header(value: &[u8]) -> Result<SignedIdentity, SignedHeaderError> {
    if value.len() > MAX_SIGNED_HEADER_BYTES {
        return Err(SignedHeaderError::TooLong(value.len()));
    }
    if let Some(i) = value.iter().position(|b| !b.is_ascii_graphic()) {
        return Err(SignedHeaderError::BadByte(i));
    }
    // Visible ASCII only, checked above.
    let text = std::str::from_utf8(value).map_err(|_| SignedHeaderError::BadByte(0))?;
    let mut parts = text.split(';');
    if parts.next() != Some("v1") {
        return Err(SignedHeaderError::Version);
    }
    let mut fields: Vec<(&'static str, &str)> = Vec::with_capacity(4);
    for (position, part) in parts.enumerate() {
        let (name, field_value) = part
            .split_once('=')
            .ok_or(SignedHeaderError::NoEquals(position + 1))?;
        let name = match name {
            "user" => "user",
            "jurisdiction" => "jurisdiction",
            "ts" => "ts",
            "sig" => "sig",
            other => return Err(SignedHeaderError::UnknownField(other.to_string())),
        };
        if fields.iter().any(|(seen, _)| *seen == name) {
            return Err(SignedHeaderError::DuplicateField(name));
        }
        fields.push((name, field_value));
    }
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    let (user, jurisdiction, ts, sig) = match (names.as_slice(), fields.as_slice()) {
        (["user", "ts", "sig"], [(_, u), (_, t), (_, s)]) => (*u, None, *t, *s),
        (["user", "jurisdiction", "ts", "sig"], [(_, u), (_, j), (_, t), (_, s)]) => {
            (*u, Some(*j), *t, *s)
        }
        _ => return Err(SignedHeaderError::FieldOrder),
    };
    if user.is_empty() || user.len() > MAX_USER_BYTES || user.contains('=') {
        return Err(SignedHeaderError::BadValue("user"));
    }
    if let Some(j) = jurisdiction
        && normalize_jurisdiction(j).as_deref() != Some(j)
    {
        return Err(SignedHeaderError::BadValue("jurisdiction"));
    }
    // One spelling per timestamp: a leading zero would give one MAC two texts.
    if ts.is_empty()
        || ts.len() > MAX_TS_DIGITS
        || !ts.bytes().all(|b| b.is_ascii_digit())
        || (ts.len() > 1 && ts.starts_with('0'))
    {
        return Err(SignedHeaderError::BadValue("ts"));
    }
    let ts: u64 = ts.parse().map_err(|_| SignedHeaderError::BadValue("ts"))?;
    // The engine refuses padding and non-zero trailing bits, so each MAC has
    // exactly one accepted spelling.
    let sig: [u8; MAC_BYTES] = URL_SAFE_NO_PAD
        .decode(sig)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(SignedHeaderError::BadValue("sig"))?;
    Ok(SignedIdentity {
        user: user.to_string(),
        jurisdiction: jurisdiction.map(str::to_string),
        ts,
        sig,
    })
}

/// Signs an identity header value (what the trusted identity service does).
/// `user` and `jurisdiction` must follow the format in the module docs, or
/// the gateway will refuse the value.
#[must_use]
pub fn sign_identity_header(key: &[u8], user: &str, jurisdiction: Option<&str>, ts: u64) -> String {
    let text = signed_text(user, jurisdiction, ts);
    let mut mac = hmac_for(key);
    mac.update(text.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{text};sig={sig}")
}

fn hmac_for(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; the error case cannot occur.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// Reads a hex key file (see the module docs).
///
/// # Errors
/// [`AttributionError::Read`] or [`AttributionError::HmacKey`] naming the file.
pub fn load_hmac_key(path: &Path) -> Result<Vec<u8>, AttributionError> {
    let text = std::fs::read_to_string(path).map_err(|source| AttributionError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let key = hex::decode(text.trim()).map_err(|e| AttributionError::HmacKey {
        path: path.to_path_buf(),
        reason: format!("the key must be hex text: {e}"),
    })?;
    if key.len() < MIN_KEY_BYTES {
        return Err(AttributionError::HmacKey {
            path: path.to_path_buf(),
            reason: format!(
                "the key is {} bytes, at least {MIN_KEY_BYTES} are required",
                key.len()
            ),
        });
    }
    Ok(key)
}

/// A verified identity from the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The user id (never written to output as is; pseudonymise it).
    pub user: String,
    /// The home jurisdiction, when the header carried one.
    pub jurisdiction: Option<String>,
}

/// Verifies header values with one shared key.
#[derive(Clone)]
pub struct SignedHeaderVerifier {
    mac: Hmac<Sha256>,
    max_age: u64,
}

impl std::fmt::Debug for SignedHeaderVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedHeaderVerifier")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl SignedHeaderVerifier {
    /// A verifier with `key` (at least [`MIN_KEY_BYTES`], checked by
    /// [`load_hmac_key`]) accepting signatures up to `max_age` old.
    #[must_use]
    pub fn new(key: &[u8], max_age: Duration) -> Self {
        Self {
            mac: hmac_for(key),
            max_age: max_age.as_secs(),
        }
    }

    /// The identity in `value` when it verifies at `now`.
    ///
    /// # Errors
    /// A [`SignedHeaderError`] saying what failed.
    pub fn verify(
        &self,
        value: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedIdentity, SignedHeaderError> {
        let parsed = parse_signed_header(value)?;
        let mut mac = self.mac.clone();
        mac.update(parsed.signed_text().as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&parsed.sig)
            .map_err(|_| SignedHeaderError::Signature)?;
        let now = unix_seconds(now);
        if parsed.ts > now.saturating_add(MAX_FUTURE_SKEW_SECS) {
            return Err(SignedHeaderError::Future { ts: parsed.ts, now });
        }
        if now.saturating_sub(parsed.ts) > self.max_age {
            return Err(SignedHeaderError::Stale {
                ts: parsed.ts,
                now,
                max_age: self.max_age,
            });
        }
        Ok(VerifiedIdentity {
            user: parsed.user,
            jurisdiction: parsed.jurisdiction,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn verifier() -> SignedHeaderVerifier {
        SignedHeaderVerifier::new(KEY, Duration::from_secs(60))
    }

    #[test]
    fn a_fresh_signed_value_verifies_with_and_without_jurisdiction() {
        let with = sign_identity_header(KEY, "alice", Some("US"), NOW);
        assert_eq!(
            verifier().verify(with.as_bytes(), at(NOW + 5)),
            Ok(VerifiedIdentity {
                user: "alice".into(),
                jurisdiction: Some("US".into())
            })
        );
        let without = sign_identity_header(KEY, "bob", None, NOW);
        assert!(without.starts_with("v1;user=bob;ts="));
        assert_eq!(
            verifier().verify(without.as_bytes(), at(NOW)),
            Ok(VerifiedIdentity {
                user: "bob".into(),
                jurisdiction: None
            })
        );
    }

    #[test]
    fn tampered_replayed_and_malformed_values_are_refused() {
        let good = sign_identity_header(KEY, "alice", Some("US"), NOW);
        let sig = good.rsplit_once(";sig=").unwrap().1.to_string();
        let other_key = sign_identity_header(
            b"fedcba9876543210fedcba9876543210",
            "alice",
            Some("US"),
            NOW,
        );
        let cases: Vec<(String, u64, SignedHeaderError)> = vec![
            (good.replace("US", "EU"), NOW, SignedHeaderError::Signature),
            (
                good.replace("alice", "alicf"),
                NOW,
                SignedHeaderError::Signature,
            ),
            (
                good.replace(&format!("ts={NOW}"), &format!("ts={}", NOW + 1)),
                NOW,
                SignedHeaderError::Signature,
            ),
            (
                good.replace(";jurisdiction=US", ""),
                NOW,
                SignedHeaderError::Signature,
            ),
            (other_key, NOW, SignedHeaderError::Signature),
            (
                good.clone(),
                NOW + 61,
                SignedHeaderError::Stale {
                    ts: NOW,
                    now: NOW + 61,
                    max_age: 60,
                },
            ),
            (
                good.clone(),
                NOW - 31,
                SignedHeaderError::Future {
                    ts: NOW,
                    now: NOW - 31,
                },
            ),
            (
                format!("v1;user=alice;user=mallory;jurisdiction=US;ts={NOW};sig={sig}"),
                NOW,
                SignedHeaderError::DuplicateField("user"),
            ),
            (
                format!("{good};sig={sig}"),
                NOW,
                SignedHeaderError::DuplicateField("sig"),
            ),
            (
                format!("v1;jurisdiction=US;user=alice;ts={NOW};sig={sig}"),
                NOW,
                SignedHeaderError::FieldOrder,
            ),
            (
                format!("v1;user=alice;jurisdiction=US;ts={NOW}"),
                NOW,
                SignedHeaderError::FieldOrder,
            ),
            (
                format!("v1;user=alice;role=admin;ts={NOW};sig={sig}"),
                NOW,
                SignedHeaderError::UnknownField("role".into()),
            ),
            (
                good.replacen("v1", "v2", 1),
                NOW,
                SignedHeaderError::Version,
            ),
            (
                good.replace("US", "us"),
                NOW,
                SignedHeaderError::BadValue("jurisdiction"),
            ),
            (
                good.replace(&sig, &format!("{sig}=")),
                NOW,
                SignedHeaderError::BadValue("sig"),
            ),
            (
                good.replace(&sig, &sig[..42]),
                NOW,
                SignedHeaderError::BadValue("sig"),
            ),
            (
                good.replace("alice", "al ice"),
                NOW,
                SignedHeaderError::BadByte(10),
            ),
            (
                good.replace(";ts", "ts"),
                NOW,
                SignedHeaderError::FieldOrder,
            ),
            (
                format!("v1;user=;ts={NOW};sig={sig}"),
                NOW,
                SignedHeaderError::BadValue("user"),
            ),
            (
                format!("v1;user=a;ts=99999999999999999999999;sig={sig}"),
                NOW,
                SignedHeaderError::BadValue("ts"),
            ),
            (
                format!("v1;user=a;ts;sig={sig}"),
                NOW,
                SignedHeaderError::NoEquals(2),
            ),
        ];
        for (value, now, want) in cases {
            assert_eq!(
                verifier().verify(value.as_bytes(), at(now)),
                Err(want),
                "value {value:?}"
            );
        }
    }

    #[test]
    fn a_changed_last_signature_character_is_refused() {
        // Flipping low bits of the final character is caught either as a
        // different MAC or as non-canonical base64; never accepted.
        let good = sign_identity_header(KEY, "alice", Some("US"), NOW);
        for replacement in ['A', 'B', 'C', 'D', 'Q', 'g', 'w'] {
            let mut changed = good.clone();
            let last = changed.pop().unwrap();
            if last == replacement {
                continue;
            }
            changed.push(replacement);
            assert!(
                verifier().verify(changed.as_bytes(), at(NOW)).is_err(),
                "{changed}"
            );
        }
    }

    #[test]
    fn key_files_are_hex_and_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("  00112233445566778899aabbccddeeff\n", Ok(16)),
            ("00112233445566778899aabbccddee", Err("at least 16")),
            ("not hex at all, definitely not!!", Err("must be hex")),
        ];
        for (i, (text, want)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("key{i}"));
            std::fs::write(&path, text).unwrap();
            match (load_hmac_key(&path), want) {
                (Ok(key), Ok(len)) => assert_eq!(key.len(), len),
                (Err(e), Err(msg)) => {
                    let e = e.to_string();
                    assert!(
                        e.contains(msg) && e.contains(&path.display().to_string()),
                        "{e}"
                    );
                }
                (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
