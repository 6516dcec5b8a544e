//! Ships a jurisgate audit log to WORM object storage and fetches it back.
//!
//! [`Shipper`] uploads what the log writer will never touch again — sealed
//! segments, the checkpoint notes they announce, and the quarantined torn
//! lines their startup records name — to `TARGET/<origin>/…`, mirroring the
//! audit folder's layout, so a bucket holds one folder per replica. Each
//! upload is read back and compared (size and SHA-256) before it is
//! recorded in the folder's `shipped.json`; a restarted shipper resumes
//! from there. With [`Retention`] set, every object is written with S3
//! Object Lock headers. [`fetch`] downloads a target into a local folder so
//! `jurisgate_audit::verify` can check it like any other audit folder.
//!
//! It never deletes or changes local files: the log's recovery rebuilds the
//! Merkle tree from every segment, so local pruning is not something a
//! shipper can do safely. It does not sign, hash the tree or verify: that
//! is `jurisgate-audit`'s job, on the fetched copy.

mod error;
mod fetch;
mod local;
mod manifest;
mod ship;
mod target;

pub use error::ShipError;
pub use fetch::{Fetched, fetch};
pub use manifest::{MANIFEST_NAME, Shipped};
pub use ship::{PassReport, ShipStats, Shipper};
pub use target::{LockMode, Retention, Target, TargetOptions};
