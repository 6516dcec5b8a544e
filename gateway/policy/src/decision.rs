//! The decision: what the policy said, in a shape that has been checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The reason given when the policy could not be evaluated or answered in
/// the wrong shape. Such a decision is always a deny.
pub const POLICY_ERROR: &str = "policy_error";

/// A checked decision. `allow == true` implies at least one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allow: bool,
    /// Regions the data may go to (empty when denied).
    #[serde(default)]
    pub regions: Vec<String>,
    /// Why, in words for the audit log and the client.
    #[serde(default)]
    pub reason: String,
    /// What must happen to the response.
    #[serde(default)]
    pub obligations: Obligations,
}

impl Decision {
    /// A deny with `reason`.
    #[must_use]
    pub fn deny(reason: impl Into<String>) -> Self {
        Self {
            allow: false,
            regions: Vec::new(),
            reason: reason.into(),
            obligations: Obligations::default(),
        }
    }

    /// The fail-closed decision: deny with reason `policy_error`.
    #[must_use]
    pub fn policy_error() -> Self {
        Self::deny(POLICY_ERROR)
    }
}

/// Obligations on the response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligations {
    /// JSON pointers of response fields to replace by keyed pseudonyms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pseudonymize: Vec<String>,
    /// JSON pointers of response fields to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<String>,
    /// Headers to set on the response.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_headers: BTreeMap<String, String>,
}

impl Obligations {
    /// Whether the response body must be rewritten.
    #[must_use]
    pub fn rewrites_body(&self) -> bool {
        !self.pseudonymize.is_empty() || !self.redact.is_empty()
    }
}
