//! The policy contract: the input the gateway builds ([`PolicyInput`]), the
//! checked [`Decision`] it gets back, the engine that evaluates
//! `data.jurisgate.decision` in Rego, and [`Permitted<T>`], the only thing the
//! router accepts.
//!
//! Evaluation fails closed: an undefined result, a wrong shape, an error or a
//! time-out is a deny with reason `policy_error`. This crate does not route,
//! forward or write audit records.

mod decision;
mod input;
mod permitted;

pub use decision::{Decision, Obligations, POLICY_ERROR};
pub use input::{Destination, PolicyInput, RequestFacts, Resource};
pub use permitted::Permitted;
