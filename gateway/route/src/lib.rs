//! Region-aware upstream pools: which endpoint a permitted request goes to.
//!
//! [`Pools`] is built once from the config's `[[pool]]` tables. For each
//! request it gives the policy the route's candidate [`Destination`]s with
//! live health, and after an allowing decision [`Pools::select`] picks the
//! first healthy pool, in route order, whose region the decision approved,
//! spreading load round-robin over that pool's healthy endpoints. Failover
//! stays inside the approved set: when no approved pool is healthy the answer
//! is [`NoApprovedRegion`], never another region.
//!
//! Health combines active probes ([`Pools::spawn_health_checks`]) with
//! passive reports from the proxy ([`Pools::report_failure`]); reads on the
//! request path are lock-free. This crate does not forward requests, hold
//! upstream connections or speak TLS to upstreams.
//!
//! [`Destination`]: jurisgate_policy::Destination

mod endpoint;
mod error;
mod health;
mod pools;
mod probe;

pub use error::{ConsideredPool, NO_APPROVED_REGION, NoApprovedRegion, RouteError};
pub use pools::{EndpointHealth, EndpointId, PoolHealth, Pools, Selected};
pub use probe::HealthChecks;
