//! The two hash functions of an RFC 9162 Merkle tree (§2.1.1): leaves and
//! interior nodes are hashed with different one-byte prefixes so that a leaf
//! can never be passed off as a node (second-preimage resistance).
//!
//! Only hashing lives here; tree shapes and proofs are in [`crate::proof`].

use sha2::{Digest, Sha256};

/// A SHA-256 output: leaf hashes, node hashes and roots.
pub type Hash = [u8; 32];

/// The root of the empty tree: `MTH({}) = SHA-256()` (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The leaf hash `SHA-256(0x00 || data)` (RFC 9162 §2.1.1).
///
/// For the audit log, `data` is one record line without its newline.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The interior node hash `SHA-256(0x01 || left || right)` (RFC 9162 §2.1.1).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn leaf_and_node_hashes_differ_for_the_same_bytes() {
        let a = [7u8; 32];
        let mut joined = Vec::from(a);
        joined.extend_from_slice(&a);
        assert_ne!(leaf_hash(&joined), node_hash(&a, &a));
    }
}
