//! The policy input: what the gateway knows about a request, in the shape
//! the Rego contract (`data.jurisgate.decision`) reads.

use std::collections::BTreeMap;

use jurisgate_attribution::{Requester, Subject};
use serde::{Deserialize, Serialize};

/// The whole input given to `data.jurisgate.decision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInput {
    /// The request, after normalisation.
    pub request: RequestFacts,
    /// Whose data it is.
    pub subject: Subject,
    /// Who is asking.
    pub requester: Requester,
    /// What the route carries.
    pub resource: Resource,
    /// Where it could go: the route's pools in order, with region and health.
    pub destinations: Vec<Destination>,
    /// Decision time, RFC 3339 UTC.
    pub time: String,
}

/// The request as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFacts {
    /// Request id (also sent upstream and to the client).
    pub id: String,
    /// Method.
    pub method: String,
    /// Host, lower-case, without port.
    pub host: String,
    /// The normalised path: the one classified and forwarded.
    pub path: String,
    /// Query parameters, decoded; repeated keys keep every value.
    #[serde(default)]
    pub query: BTreeMap<String, Vec<String>>,
    /// A small allow-listed set of headers (never credentials).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The route's classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Route name.
    pub route: String,
    /// Service behind it.
    pub service: String,
    /// Data class (`protected`, `excepted`, `public`, …).
    pub data_class: String,
}

/// One candidate upstream pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Pool name.
    pub pool: String,
    /// The pool's region.
    pub region: String,
    /// Whether any endpoint of the pool is healthy now.
    pub healthy: bool,
}
