//! Merkle Tree Hash, inclusion proofs and consistency proofs exactly as
//! RFC 9162 §2.1 defines them, generated from the full list of leaf hashes
//! and verified from hashes alone.
//!
//! Generation follows the recursive definitions (§2.1.3.1 `PATH`, §2.1.4.1
//! `SUBPROOF`) so a reader can hold them side by side with the RFC; it costs
//! O(n) hashing per proof, which is fine for an auditor's offline tool.
//! Verification follows the iterative algorithms of §2.1.3.2 and §2.1.4.2.

use crate::hash::{EMPTY_ROOT, Hash, node_hash};

/// Why a proof could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The two sizes of a consistency proof are not `0 < first <= second`.
    #[error("consistency needs 0 < first <= second, got first {first}, second {second}")]
    BadSizes {
        /// Old tree size.
        first: u64,
        /// New tree size.
        second: u64,
    },
    /// More leaves were asked for than were given.
    #[error("tree size {size} is larger than the {have} leaf hashes available")]
    NotEnoughLeaves {
        /// The tree size asked for.
        size: u64,
        /// Leaf hashes available.
        have: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has the wrong length for these tree sizes")]
    WrongLength,
    /// The hashes do not lead to the expected root(s).
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
}

/// The largest power of two strictly smaller than `n` (`n >= 2`), the split
/// point `k` of RFC 9162 §2.1.1.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let p = n.next_power_of_two();
    if p == n { n / 2 } else { p / 2 }
}

/// The Merkle Tree Hash `MTH(D[n])` of the given leaf hashes (RFC 9162 §2.1.1).
#[must_use]
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The inclusion proof `PATH(index, D[n])` for the leaf at `index` in the tree
/// made of all of `leaves` (RFC 9162 §2.1.3.1), ordered from the leaf upwards.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] when `index >= leaves.len()`.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(index as usize, leaves, &mut out);
    Ok(out)
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &d[..k], out);
        out.push(root_of(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root_of(&d[..k]));
    }
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that `leaf` is leaf number
/// `index` of the tree of `size` leaves whose root is `root`.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`], [`ProofError::WrongLength`] or
/// [`ProofError::RootMismatch`].
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                // Skip the levels where this node has no right sibling.
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The consistency proof `PROOF(first, D[second])` between the tree of the
/// first `first` leaves and the tree of the first `second` leaves
/// (RFC 9162 §2.1.4.1). Empty when `first == second`.
///
/// # Errors
/// [`ProofError::BadSizes`] unless `0 < first <= second`;
/// [`ProofError::NotEnoughLeaves`] when `second > leaves.len()`.
pub fn consistency_proof(
    leaves: &[Hash],
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::BadSizes { first, second });
    }
    let have = leaves.len() as u64;
    if second > have {
        return Err(ProofError::NotEnoughLeaves { size: second, have });
    }
    let mut out = Vec::new();
    if first < second {
        subproof(first as usize, &leaves[..second as usize], true, &mut out);
    }
    Ok(out)
}

fn subproof(m: usize, d: &[Hash], whole_old_tree: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        // The old tree's root is known to the verifier only at the top level.
        if !whole_old_tree {
            out.push(root_of(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], whole_old_tree, out);
        out.push(root_of(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root_of(&d[..k]));
    }
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `second`
/// leaves with root `second_root` extends the tree of `first` leaves with
/// root `first_root`, i.e. the log only grew.
///
/// # Errors
/// [`ProofError::BadSizes`], [`ProofError::WrongLength`] or
/// [`ProofError::RootMismatch`].
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::BadSizes { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // Step 1: an empty proof cannot show anything for first < second.
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    // Step 2: when the old tree is a perfect subtree its root is the start.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    // Steps 3-4.
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let mut fr = path[0];
    let mut sr = path[0];
    // Step 6.
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *first_root || sr != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("record {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_inclusion_proof_verifies_for_sizes_1_to_200() {
        let all = leaves(200);
        for size in 1..=200usize {
            let d = &all[..size];
            let root = root_of(d);
            for index in 0..size as u64 {
                let proof = inclusion_proof(d, index).unwrap();
                verify_inclusion(&d[index as usize], index, size as u64, &proof, &root)
                    .unwrap_or_else(|e| panic!("size {size} index {index}: {e}"));
                // The same proof must not vouch for a neighbour or another size.
                if size > 1 {
                    let other = (index + 1) % size as u64;
                    assert!(
                        verify_inclusion(&d[other as usize], index, size as u64, &proof, &root)
                            .is_err()
                    );
                }
                // Nor the tree before this leaf was added.
                if index > 0 {
                    let older = root_of(&d[..size - 1]);
                    assert!(
                        verify_inclusion(&d[index as usize], index, size as u64, &proof, &older)
                            .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_for_sizes_1_to_200() {
        let all = leaves(200);
        let roots: Vec<Hash> = (0..=200).map(|n| root_of(&all[..n])).collect();
        for second in 1..=200u64 {
            for first in 1..=second {
                let proof = consistency_proof(&all, first, second).unwrap();
                verify_consistency(
                    first,
                    second,
                    &roots[first as usize],
                    &roots[second as usize],
                    &proof,
                )
                .unwrap_or_else(|e| panic!("{first} -> {second}: {e}"));
                if first < second {
                    // A different old root (a rewritten history) must fail.
                    assert!(
                        verify_consistency(
                            first,
                            second,
                            &roots[first as usize - 1],
                            &roots[second as usize],
                            &proof
                        )
                        .is_err(),
                        "{first} -> {second} accepted a wrong old root"
                    );
                }
            }
        }
    }

    #[test]
    fn out_of_range_requests_are_errors_not_panics() {
        let d = leaves(5);
        assert_eq!(
            inclusion_proof(&d, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(consistency_proof(&d, 0, 3).is_err());
        assert!(consistency_proof(&d, 4, 3).is_err());
        assert!(consistency_proof(&d, 3, 6).is_err());
        assert!(verify_inclusion(&d[0], 0, 0, &[], &EMPTY_ROOT).is_err());
        assert!(verify_consistency(3, 5, &d[0], &d[1], &[]).is_err());
    }

    proptest! {
        #[test]
        fn a_changed_proof_hash_never_verifies(
            size in 2usize..300, index_seed: u64, which: usize, bit in 0usize..256
        ) {
            let d = leaves(size);
            let index = index_seed % size as u64;
            let root = root_of(&d);
            let mut proof = inclusion_proof(&d, index).unwrap();
            let i = which % proof.len();
            proof[i][bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(&d[index as usize], index, size as u64, &proof, &root).is_err());
        }

        #[test]
        fn a_changed_consistency_hash_never_verifies(
            second in 2u64..300, first_seed: u64, which: usize, bit in 0usize..256
        ) {
            let d = leaves(second as usize);
            let first = 1 + first_seed % (second - 1);
            let mut proof = consistency_proof(&d, first, second).unwrap();
            let i = which % proof.len();
            proof[i][bit / 8] ^= 1 << (bit % 8);
            let r1 = root_of(&d[..first as usize]);
            let r2 = root_of(&d);
            prop_assert!(verify_consistency(first, second, &r1, &r2, &proof).is_err());
        }

        #[test]
        fn truncated_or_extended_proofs_never_verify(size in 2usize..200, index_seed: u64) {
            let d = leaves(size);
            let index = index_seed % size as u64;
            let root = root_of(&d);
            let mut proof = inclusion_proof(&d, index).unwrap();
            proof.push(root);
            prop_assert!(verify_inclusion(&d[index as usize], index, size as u64, &proof, &root).is_err());
            proof.truncate(proof.len() - 2);
            prop_assert!(verify_inclusion(&d[index as usize], index, size as u64, &proof, &root).is_err());
        }
    }
}
