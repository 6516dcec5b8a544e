//! Keyed pseudonyms: stable for the same key and value, so joins still work,
//! but the raw value cannot be read back or guessed without the key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix naming the pseudonym scheme, so a scheme change is visible.
const SCHEME: &str = "hs256:";
/// Lower-case hex digits, as earlier pseudonyms were written.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Computes keyed HMAC-SHA256 pseudonyms.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
    key_id: String,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Pseudonymizer {
    /// A pseudonymiser over `key` (at least 16 bytes).
    ///
    /// # Errors
    /// When the key is shorter than 16 bytes.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < 16 {
            return Err(format!(
                "a pseudonym key needs at least 16 bytes, this one has {}",
                key.len()
            ));
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
        let mut id = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
        id.update(b"jurisgate key id");
        let key_id = hex::encode(&id.finalize().into_bytes()[..4]);
        Ok(Self { mac, key_id })
    }

    /// A short public identifier of the key (so rotations can be recorded
    /// without recording the key).
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The pseudonym of `value`: `hs256:` and 32 hex digits (128 bits).
    #[must_use]
    pub fn pseudonym(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(SCHEME.len() + 32);
        out.push_str(SCHEME);
        for byte in &digest[..16] {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_key_and_different_across_keys() {
        let a = Pseudonymizer::new(b"0123456789abcdef").unwrap();
        let b = Pseudonymizer::new(b"fedcba9876543210").unwrap();
        assert_eq!(a.pseudonym("alice"), a.pseudonym("alice"));
        assert_ne!(a.pseudonym("alice"), a.pseudonym("bob"));
        assert_ne!(a.pseudonym("alice"), b.pseudonym("alice"));
        assert!(a.pseudonym("alice").starts_with("hs256:"));
        assert!(!a.pseudonym("alice").contains("alice"));
        assert!(Pseudonymizer::new(b"short").is_err());
        // The same bytes as ever: the first 128 bits of HMAC-SHA256, lower-case hex.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"0123456789abcdef").unwrap();
        mac.update(b"alice");
        let expected = format!("hs256:{}", hex::encode(&mac.finalize().into_bytes()[..16]));
        assert_eq!(a.pseudonym("alice"), expected);
    }
}
