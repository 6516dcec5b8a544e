//! The right edge of a growing Merkle tree: one hash per perfect subtree,
//! which is all a writer needs to append leaves and compute the current root
//! (RFC 9162 §2.1.1 tree shape). Memory is O(log n).
//!
//! It cannot produce proofs: those need interior hashes it has forgotten, so
//! [`crate::proof`] works from the full list of leaf hashes instead.

use crate::hash::{EMPTY_ROOT, Hash, node_hash};

/// The roots of the perfect subtrees that make up a tree of `size` leaves,
/// largest (leftmost) first: one per set bit of `size`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactTree {
    size: u64,
    peaks: Vec<Hash>,
}

impl CompactTree {
    /// The empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash (see [`crate::leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut size = self.size;
        // Each trailing one bit of the old size is a perfect subtree of the
        // same height as `carry`: merge them, like binary addition.
        while size & 1 == 1 {
            // A set bit always has its peak: `peaks.len() == size.count_ones()`.
            let Some(left) = self.peaks.pop() else { break };
            carry = node_hash(&left, &carry);
            size >>= 1;
        }
        self.peaks.push(carry);
        self.size += 1;
    }

    /// The Merkle Tree Hash of all leaves pushed so far (RFC 9162 §2.1.1).
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(last) = iter.next() else {
            return EMPTY_ROOT;
        };
        // MTH splits at the largest power of two below n, so the smaller
        // right-hand peaks fold together first.
        iter.fold(*last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{leaf_hash, proof::root_of};

    #[test]
    fn compact_root_equals_recursive_root_for_sizes_0_to_300() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = CompactTree::new();
        assert_eq!(tree.root(), EMPTY_ROOT);
        for (n, leaf) in leaves.iter().enumerate() {
            tree.push(*leaf);
            assert_eq!(tree.size(), n as u64 + 1);
            assert_eq!(tree.root(), root_of(&leaves[..=n]), "size {}", n + 1);
        }
    }
}
