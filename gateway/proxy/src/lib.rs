//! jurisgate's request path and listeners.
//!
//! [`gateway::Gateway::handle`] runs the steps of the request path in order
//! (normalise, attribute, classify, decide, route, audit, forward,
//! obligations); [`start::Running`] builds a gateway from a validated config
//! and serves it; [`admin`] answers health and metrics. This crate does not
//! parse config, evaluate Rego or hash audit records: the crates that own
//! those do.

pub mod admin;
pub mod body;
pub mod classify;
pub mod connection_pool;
pub mod forward;
pub mod gateway;
pub mod headers;
pub mod idle;
pub mod metrics;
pub mod normalize;
pub mod obligations;
pub mod reload;
pub mod request_id;
pub mod respond;
pub mod server;
pub mod start;
