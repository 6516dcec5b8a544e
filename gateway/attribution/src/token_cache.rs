//! A bounded cache of verified tokens, so a token presented again skips its
//! signature check (the largest per-request cost of attribution).
//!
//! - Key: the SHA-256 of the whole compact token, so one changed byte
//!   anywhere (header, payload or signature) is another key.
//! - Value: the verified claims and the token's validity window; the owner
//!   re-checks the window against the current time on every hit.
//! - Only successes are stored: a token that fails any check is verified
//!   anew every time it is presented.
//! - Scope: one cache per [`JwtVerifier`](crate::JwtVerifier), held in the
//!   same value as its key set, so a new key set comes with an empty cache.
//! - Bounds: at most the configured number of entries, split over shards,
//!   each behind its own `RwLock` held only for a map lookup or insert (never
//!   across a verification). A full shard first drops its expired entries,
//!   then everything if it is still full: a miss only costs a verification.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use sha2::{Digest as _, Sha256};

use crate::jwt::{Claims, Validity};

/// Entries one cache holds by default.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;
/// Most shards a cache is split into (fewer for tiny capacities).
const MAX_SHARDS: usize = 16;

/// The SHA-256 of a token's bytes.
pub(crate) type TokenDigest = [u8; 32];

/// The digest a token is cached under.
pub(crate) fn token_digest(token: &[u8]) -> TokenDigest {
    Sha256::digest(token).into()
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    /// The token's claims.
    pub(crate) claims: std::sync::Arc<Claims>,
    /// Its `exp` and `nbf`, checked again on every hit.
    pub(crate) validity: Validity,
}

type Shard = RwLock<HashMap<TokenDigest, Verified>>;

/// Verified tokens by digest, bounded.
pub(crate) struct TokenCache {
    shards: Box<[Shard]>,
    per_shard: usize,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; 0 stores nothing.
    pub(crate) fn new(capacity: usize) -> Self {
        let shards = capacity.min(MAX_SHARDS);
        Self {
            shards: (0..shards).map(|_| RwLock::default()).collect(),
            per_shard: capacity.checked_div(shards).unwrap_or(0),
        }
    }

    /// The most entries it holds.
    pub(crate) fn capacity(&self) -> usize {
        self.shards.len() * self.per_shard
    }

    /// The entries it holds now.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    fn shard(&self, digest: &TokenDigest) -> Option<&Shard> {
        // The digest is uniform, so its first byte spreads tokens evenly.
        self.shards
            .get(usize::from(digest[0]) % self.shards.len().max(1))
    }

    /// The verification stored for `digest`, whatever the time now.
    pub(crate) fn get(&self, digest: &TokenDigest) -> Option<Verified> {
        let shard = self.shard(digest)?;
        let map = shard.read().unwrap_or_else(PoisonError::into_inner);
        map.get(digest).cloned()
    }

    /// Stores a successful verification. When the shard is full, entries no
    /// longer valid at `now` (with `leeway`) go first, then all of them.
    pub(crate) fn insert(&self, digest: TokenDigest, verified: Verified, now: u64, leeway: u64) {
        let Some(shard) = self.shard(&digest) else {
            return;
        };
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.per_shard && !map.contains_key(&digest) {
            map.retain(|_, v| v.validity.check(now, leeway).is_ok());
            if map.len() >= self.per_shard {
                map.clear();
            }
        }
        map.insert(digest, verified);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn entry(exp: u64) -> Verified {
        Verified {
            claims: Arc::new(Claims::new()),
            validity: Validity { exp, nbf: None },
        }
    }

    #[test]
    fn the_digest_covers_every_byte() {
        let token = b"aaaa.bbbb.cccc";
        let base = token_digest(token);
        for i in 0..token.len() {
            let mut changed = *token;
            changed[i] ^= 1;
            assert_ne!(token_digest(&changed), base, "byte {i} changed");
        }
    }

    #[test]
    fn capacity_is_a_hard_bound_and_expired_entries_go_first() {
        for capacity in [0, 1, 5, 16, 100] {
            let cache = TokenCache::new(capacity);
            assert!(cache.capacity() <= capacity, "capacity {capacity}");
            for i in 0..1000_u32 {
                cache.insert(token_digest(&i.to_be_bytes()), entry(2000), 1000, 0);
                assert!(cache.len() <= capacity, "capacity {capacity}, insert {i}");
                let stored = cache.get(&token_digest(&i.to_be_bytes())).is_some();
                assert_eq!(stored, capacity > 0, "capacity {capacity}, insert {i}");
            }
        }

        // One shard of two: an expired entry is dropped before a live one.
        let cache = TokenCache {
            shards: Box::new([RwLock::default()]),
            per_shard: 2,
        };
        let (live, stale, new) = (
            token_digest(b"live"),
            token_digest(b"stale"),
            token_digest(b"new"),
        );
        cache.insert(live, entry(5000), 1000, 30);
        cache.insert(stale, entry(900), 1000, 30);
        cache.insert(new, entry(5000), 1000, 30);
        assert!(cache.get(&live).is_some() && cache.get(&new).is_some());
        assert!(cache.get(&stale).is_none());
        assert_eq!(cache.len(), 2);
    }
}
