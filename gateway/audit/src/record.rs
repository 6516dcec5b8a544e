//! The audit record: one JSON object per line, fields in a stable order.
//!
//! The gateway fills an [`Event`]; the writer gives it its sequence number and
//! timestamp and serialises it as one line. Raw personal data never appears:
//! subjects are named by keyed pseudonyms.

use serde::{Deserialize, Serialize};

/// The record format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Format version.
    pub v: u32,
    /// Sequence number: 0 for the first record of the log, +1 each record.
    pub seq: u64,
    /// When the record was made: RFC 3339 UTC with microseconds.
    pub ts: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// What a record says happened. Serialised with a `kind` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A request was decided (allowed, denied, unmatched or refused).
    Decision(Box<DecisionEvent>),
    /// A policy was loaded and is now deciding.
    PolicyLoaded(PolicyLoaded),
    /// The gateway started (and what recovery found).
    Startup(Startup),
    /// The gateway is stopping cleanly.
    Shutdown(Shutdown),
    /// A signed checkpoint was written (tree size and root).
    Checkpoint(CheckpointEvent),
    /// Configuration (or a key) was loaded; keys are named by id, never included.
    ConfigLoaded(ConfigLoaded),
}

/// A decision about one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionEvent {
    /// Request id (also sent upstream and to the client).
    pub request_id: String,
    /// Whose data it is.
    pub subject: SubjectFacts,
    /// Who asked.
    pub requester: RequesterFacts,
    /// Method.
    pub method: String,
    /// Host.
    pub host: String,
    /// The normalised path (the one classified and forwarded).
    pub path: String,
    /// Matched route, if any.
    pub route: Option<String>,
    /// The route's service, if any.
    pub service: Option<String>,
    /// The route's data class, if any.
    pub data_class: Option<String>,
    /// The decision.
    pub decision: Outcome,
    /// Chosen upstream pool, when the request was forwarded.
    pub pool: Option<String>,
    /// Chosen upstream region, when the request was forwarded.
    pub region: Option<String>,
    /// Response status, when known at the time of the record (gateway answers).
    pub status: Option<u16>,
    /// Hash of the policy files and data that decided.
    pub policy_revision: Option<String>,
    /// The policy input as given (pseudonymised), so a replay can re-decide it.
    pub input: Option<serde_json::Value>,
}

/// The subject as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectFacts {
    /// Jurisdiction code or `unknown`.
    pub jurisdiction: String,
    /// Source that gave it.
    pub source: String,
    /// Whether it was verified.
    pub verified: bool,
    /// Keyed pseudonym of the subject's id.
    pub pseudonym: Option<String>,
}

/// The requester as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequesterFacts {
    /// `user`, `service`, `employee` or `unknown`.
    pub kind: String,
    /// Service or employee id, or an end user's pseudonym.
    pub id: Option<String>,
    /// Organisation.
    pub org: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Source that gave the identity.
    pub source: String,
    /// Whether it was verified.
    pub verified: bool,
    /// Access approval id, when one was presented and verified.
    pub approval: Option<String>,
}

/// The decision as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Allowed or not.
    pub allow: bool,
    /// Approved regions.
    pub regions: Vec<String>,
    /// Reason (`policy_error`, `no_route`, `audit_unavailable`, or the policy's words).
    pub reason: String,
    /// Obligations imposed on the response, as the policy gave them.
    pub obligations: serde_json::Value,
}

/// A policy load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyLoaded {
    /// Revision hash.
    pub revision: String,
    /// Engine (`rego`, `wasm`).
    pub engine: String,
    /// Files that make up the revision, with their own hashes.
    pub files: Vec<PolicyFile>,
}

/// One file of a policy revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFile {
    /// Path relative to the policy folder.
    pub path: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Gateway start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Startup {
    /// Build version.
    pub version: String,
    /// Records found on disk at start.
    pub recovered_records: u64,
    /// A torn final line moved aside, if any (the quarantine file name).
    pub quarantined: Option<String>,
}

/// Gateway stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Why (`signal`, `demo finished`, …).
    pub reason: String,
}

/// A checkpoint written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointEvent {
    /// Tree size the checkpoint covers.
    pub size: u64,
    /// Root hash, base64.
    pub root: String,
}

/// Configuration or key material loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigLoaded {
    /// SHA-256 of the config file, hex.
    pub config_sha256: String,
    /// Ids of the keys in use (subject pseudonym key and others), never the keys.
    pub key_ids: std::collections::BTreeMap<String, String>,
}
