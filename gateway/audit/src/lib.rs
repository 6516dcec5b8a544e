//! jurisgate's audit log: append-only segments of JSON lines, hashed into an
//! RFC 9162 Merkle tree, with Ed25519-signed C2SP checkpoints, made durable
//! by group commit before any request is forwarded.
//!
//! Writing: [`AuditLog`] (open, append, status, close). Auditing, offline
//! and with only the public key: [`verify`], [`query`], [`read_records`],
//! [`prove_inclusion`], [`prove_consistency`], [`check_proof`]. The hashing
//! and signing are in [`tlog`] (the `jurisgate-audit-tlog` crate), which an
//! auditor can read and build on its own. This crate does not know about
//! HTTP, policies or configuration files.

mod completion;
mod encode;
mod error;
mod keys;
pub mod layout;
mod lines;
mod log;
mod prove;
mod query;
mod read;
mod record;
mod recover;
mod storage;
mod verify;
mod view;
mod writer;

#[cfg(test)]
mod fail_closed_tests;

pub use encode::{DecisionRef, EncodedEvent, OutcomeRef, RequesterRef, SubjectRef};
pub use error::AuditError;
pub use jurisgate_audit_tlog as tlog;
pub use keys::{keygen, load_signing_key, load_verifier_key, try_keygen};
pub use log::{AuditLog, AuditOptions, AuditStatus, Durability, WriterScheduling};
pub use prove::{
    ConsistencyProof, InclusionProof, ProofCheckError, ProofDoc, check_proof, prove_consistency,
    prove_inclusion,
};
pub use query::{Labeled, QueryFilter, log_origin, query, query_many};
pub use read::read_records;
pub use record::*;
pub use verify::{
    Problem, Progress, Summary, VerifierKey, VerifyError, verify, verify_all, verify_all_with,
    verify_with,
};
