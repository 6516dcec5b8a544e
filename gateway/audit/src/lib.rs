//! jurisgate's audit log: append-only segments of JSON lines, hashed into an
//! RFC 9162 Merkle tree, with Ed25519-signed C2SP checkpoints, made durable
//! by group commit before any request is forwarded.

mod record;

pub use record::*;
