//! Request ids: 26-character, time-ordered, Crockford base32 (ULID layout:
//! 48 bits of milliseconds, 80 random bits), so ids sort by arrival and
//! collide with negligible probability across replicas.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The id of one request, carried as a typed extension and sent upstream and
/// back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh id for a request arriving now.
    #[must_use]
    pub fn generate() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            & 0xFFFF_FFFF_FFFF;
        let mut random = [0u8; 10];
        rand::thread_rng().fill_bytes(&mut random);
        let mut value: u128 = u128::from(millis) << 80;
        for (i, b) in random.iter().enumerate() {
            value |= u128::from(*b) << (8 * (9 - i));
        }
        let mut out = [0u8; 26];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (25 - i);
            *slot = ALPHABET[((value >> shift) & 0x1F) as usize];
        }
        Self(String::from_utf8_lossy(&out).into_owned())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_chars_distinct_and_time_ordered() {
        let a = RequestId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RequestId::generate();
        assert_eq!(a.as_str().len(), 26);
        assert_ne!(a, b);
        assert!(a.as_str()[..10] <= b.as_str()[..10]);
        assert!(a.as_str().bytes().all(|c| ALPHABET.contains(&c)));
    }
}
