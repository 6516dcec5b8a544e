//! Attribution: whose data a request carries (the subject's home
//! jurisdiction) and who is asking (the requester), from trusted sources
//! only.
//!
//! Sources are tried in configured order: verified JWT, HMAC-signed identity
//! header, user directory (keyed by an already verified user id), mTLS client
//! certificate, and GeoIP as a weak, never-verified signal. Every result says
//! its source and whether it was verified. Client-supplied jurisdiction
//! headers are never read. This crate does not decide anything: the policy
//! does, with what this crate reports.

mod facts;
mod pseudonym;

pub use facts::*;
pub use pseudonym::Pseudonymizer;
