//! The policy contract: the input the gateway builds ([`PolicyInput`]), the
//! checked [`Decision`] it gets back, the engine that evaluates
//! `data.jurisgate.decision` in Rego, and [`Permitted<T>`], the only thing the
//! router accepts. Also the policy author's tools: the Rego test runner
//! (`opa test` style, with coverage), `check`, and `replay` of recorded
//! decisions against a candidate policy.
//!
//! Two engines: `rego` (regorus, always built) and `wasm` (OPA bundles built
//! with `opa build -t wasm`, through opa-wasm and wasmtime; cargo feature
//! `wasm`, off by default because wasmtime is a large build). Both sit
//! behind [`PolicyEngine`]; [`EngineOptions::kind`] picks one.
//!
//! Evaluation fails closed: an undefined result, a wrong shape, an error or a
//! time-out is a deny with reason `policy_error`. This crate does not route,
//! forward or write audit records.

mod cache;
mod check;
mod decision;
mod engine;
mod error;
mod extract;
pub mod files;
mod footprint;
mod input;
mod permitted;
mod probe;
mod replay;
mod runner;
mod shape;
#[cfg(feature = "wasm")]
mod wasm;

pub use check::{CheckReport, Problem, Severity, check, check_engine, load_checked};
pub use decision::{Decision, Obligations, POLICY_ERROR};
pub use engine::{DECISION_RULE, EngineKind, EngineOptions, PACKAGE, PolicyEngine};
pub use error::{EvalError, PolicyError};
pub use files::PolicyFileHash;
pub use input::{Destination, PolicyInput, RequestFacts, Resource};
pub use permitted::Permitted;
pub use probe::FailureDetail;
pub use replay::{ChangeGroup, EXAMPLES_PER_GROUP, ReplayRecord, ReplayReport, replay, summarize};
pub use runner::{
    Coverage, FileCoverage, TestCase, TestOptions, TestOutcome, TestReport, run_tests,
};
pub use shape::{ShapeError, decision_from_json};
#[cfg(feature = "wasm")]
pub use wasm::{BUNDLE_FILE, ENTRYPOINT, MODULE_FILE};
