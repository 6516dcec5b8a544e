//! Keyed pseudonyms: stable for the same key and value, so joins still work,
//! but the raw value cannot be read back or guessed without the key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix naming the pseudonym scheme, so a scheme change is visible.
const SCHEME: &str = "hs256:";

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
        format!("{SCHEME}{}", hex::encode(&digest[..16]))
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
    }
}
