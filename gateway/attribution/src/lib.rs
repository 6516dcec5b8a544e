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
//!
//! The parsers of untrusted bytes are public so fuzz targets can call them:
//! [`extract_bearer`], [`decode_jwt_header`], [`parse_jwks`],
//! [`parse_signed_header`], [`parse_forwarded_for`].

mod approval;
mod attributor;
mod bearer;
pub mod dev_idp;
mod directory;
mod error;
mod facts;
mod geoip;
mod identity_token;
mod jurisdiction;
mod jwks;
mod jwt;
mod load;
mod mtls;
mod pseudonym;
mod signed_header;
mod token_cache;

pub use approval::ApprovalVerifier;
pub use attributor::{Attributor, KeyRead};
pub use bearer::{BearerError, MAX_TOKEN_BYTES, extract_bearer, single_value};
pub use directory::Directory;
pub use error::AttributionError;
pub use facts::*;
pub use geoip::{ForwardedError, GeoIp, MAX_FORWARDED_ENTRIES, client_addr, parse_forwarded_for};
pub use identity_token::{JwtIdentitySource, TokenIdentity};
pub use jurisdiction::{country_to_jurisdiction, normalize_jurisdiction};
pub use jwks::{JwksError, KeySet, VerifyKey, parse_jwks};
pub use jwt::{Claims, JwtError, JwtVerifier, decode_jwt_header, parse_algorithms};
pub use mtls::MtlsIdentity;
pub use pseudonym::Pseudonymizer;
pub use signed_header::{
    MAX_FUTURE_SKEW_SECS, MAX_SIGNED_HEADER_BYTES, MIN_KEY_BYTES, SignedHeaderError,
    SignedHeaderVerifier, SignedIdentity, VerifiedIdentity, load_hmac_key, parse_signed_header,
    sign_identity_header,
};
