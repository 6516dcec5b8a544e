//! RFC 9162 Merkle tree hashing, inclusion and consistency proofs, and
//! C2SP signed checkpoints. Pure: no I/O, no async.
