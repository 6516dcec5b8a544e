//! RFC 9162 Merkle tree hashing, inclusion and consistency proofs, and
//! C2SP signed checkpoints. Pure: no I/O, no async, no clock, no randomness.
//!
//! This crate is what an auditor needs to check a jurisgate audit log by
//! hand: leaf and node hashes ([`hash`]), the compact right edge of a growing
//! tree ([`CompactTree`]), proofs ([`proof`]), checkpoint text
//! ([`Checkpoint`]) and Ed25519 signed notes ([`note`]). It does not read
//! files, generate keys or know the record format; the `jurisgate-audit`
//! crate does that on top of it.

pub mod checkpoint;
pub mod compact;
pub mod hash;
pub mod note;
pub mod proof;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use compact::CompactTree;
pub use hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
pub use note::{NoteError, NoteSigner, NoteVerifier};
pub use proof::ProofError;
