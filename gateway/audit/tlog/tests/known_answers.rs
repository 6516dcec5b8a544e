//! Known-answer tests against published vectors: the RFC 6962 / RFC 9162
//! test tree of Certificate Transparency (shared by Go's `tlog` and many
//! ports) and the Ed25519 example note of Go's `golang.org/x/mod/sumdb/note`,
//! the reference implementation of the C2SP signed-note format.

use jurisgate_audit_tlog::note::key_id;
use jurisgate_audit_tlog::proof::{
    consistency_proof, inclusion_proof, root_of, verify_consistency, verify_inclusion,
};
use jurisgate_audit_tlog::{Checkpoint, Hash, NoteError, NoteSigner, NoteVerifier, leaf_hash};

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn leaves() -> Vec<Hash> {
    LEAVES
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).unwrap()))
        .collect()
}

#[test]
fn roots_of_the_ct_test_tree_match_for_every_size() {
    let d = leaves();
    for n in 1..=8 {
        assert_eq!(root_of(&d[..n]), h(ROOTS[n - 1]), "size {n}");
    }
}

#[test]
fn inclusion_proof_for_leaf_5_of_8_matches_the_published_path() {
    let d = leaves();
    let want = [
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ];
    assert_eq!(inclusion_proof(&d, 5).unwrap(), want);
    verify_inclusion(&d[5], 5, 8, &want, &h(ROOTS[7])).unwrap();
    assert!(verify_inclusion(&d[5], 4, 8, &want, &h(ROOTS[7])).is_err());
    assert_eq!(inclusion_proof(&d[..3], 2).unwrap(), [h(ROOTS[1])]);
}

#[test]
fn consistency_proofs_match_the_published_paths() {
    let d = leaves();
    let six_to_eight = [
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ];
    assert_eq!(consistency_proof(&d, 6, 8).unwrap(), six_to_eight);
    verify_consistency(6, 8, &h(ROOTS[5]), &h(ROOTS[7]), &six_to_eight).unwrap();
    assert!(verify_consistency(6, 8, &h(ROOTS[4]), &h(ROOTS[7]), &six_to_eight).is_err());
    let two_to_five = [
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ];
    assert_eq!(consistency_proof(&d, 2, 5).unwrap(), two_to_five);
    verify_consistency(2, 5, &h(ROOTS[1]), &h(ROOTS[4]), &two_to_five).unwrap();
}

const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn signing_the_go_example_reproduces_its_note_byte_for_byte() {
    let signer = NoteSigner::parse(PETER_SKEY).unwrap();
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(signer.verifier().to_text(), PETER_VKEY);
    assert_eq!(signer.to_text(), PETER_SKEY);
    let note = signer.sign(PETER_TEXT).unwrap();
    assert_eq!(note, format!("{PETER_TEXT}\n{PETER_SIG}"));
}

#[test]
fn the_go_example_note_opens_and_an_altered_copy_does_not() {
    let v = NoteVerifier::parse(PETER_VKEY).unwrap();
    let note = format!("{PETER_TEXT}\n{PETER_SIG}");
    assert_eq!(v.open(&note), Ok(PETER_TEXT));
    let altered = note.replace("cryptography", "cryptographY");
    assert!(matches!(
        v.open(&altered),
        Err(NoteError::BadSignature { .. })
    ));
}

#[test]
fn key_id_computed_by_hand_matches() {
    // SHA-256("PeterNeumann" || 0x0A || 0x01 || public key)[..4], done here
    // with sha2 directly rather than through the crate's helper.
    use base64::Engine as _;
    use sha2::Digest as _;
    let material = base64::engine::general_purpose::STANDARD
        .decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        .unwrap();
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"PeterNeumann\n");
    hasher.update(&material); // 0x01 || public key
    let digest = hasher.finalize();
    assert_eq!(hex::encode(&digest[..4]), "c74f20a3");
    let public: [u8; 32] = material[1..].try_into().unwrap();
    assert_eq!(key_id("PeterNeumann", &public), 0xc74f20a3);
}

#[test]
fn a_signed_checkpoint_opens_and_parses_back() {
    let signer = NoteSigner::parse(PETER_SKEY).unwrap();
    let c = Checkpoint::new("example.com/log", 8, h(ROOTS[7]));
    let note = signer.sign(&c.to_text()).unwrap();
    let text = signer.verifier().open(&note).unwrap();
    assert_eq!(Checkpoint::parse(text), Ok(c));
}
