//! Differential test against an independent implementation, the `ct-merkle`
//! crate: same leaves in, same roots, inclusion proofs and consistency proofs out.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use jurisgate_audit_tlog::proof::{consistency_proof, inclusion_proof, root_of};
use jurisgate_audit_tlog::{CompactTree, Hash, leaf_hash};
use sha2_ct_merkle::Sha256;

fn flatten(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flatten().copied().collect()
}

#[test]
fn roots_and_proofs_agree_with_ct_merkle_for_sizes_1_to_200() {
    let values: Vec<Vec<u8>> = (0..200u32)
        .map(|i| format!("{{\"seq\":{i},\"kind\":\"decision\"}}").into_bytes())
        .collect();
    let ours: Vec<Hash> = values.iter().map(|v| leaf_hash(v)).collect();
    let mut theirs: MemoryBackedTree<Sha256, Vec<u8>> = MemoryBackedTree::new();
    let mut compact = CompactTree::new();
    for (n, v) in values.iter().enumerate() {
        theirs.push(v.clone());
        compact.push(ours[n]);
        let size = n + 1;
        let their_root: Vec<u8> = theirs.root().as_bytes().to_vec();
        assert_eq!(
            root_of(&ours[..size]).to_vec(),
            their_root,
            "root, size {size}"
        );
        assert_eq!(
            compact.root().to_vec(),
            their_root,
            "compact root, size {size}"
        );
        for idx in 0..size {
            assert_eq!(
                flatten(&inclusion_proof(&ours[..size], idx as u64).unwrap()),
                theirs.prove_inclusion(idx).as_bytes(),
                "inclusion, size {size}, index {idx}"
            );
        }
        for additions in 1..size {
            let first = (size - additions) as u64;
            assert_eq!(
                flatten(&consistency_proof(&ours, first, size as u64).unwrap()),
                theirs.prove_consistency(additions).as_bytes(),
                "consistency {first} -> {size}"
            );
        }
    }
}
