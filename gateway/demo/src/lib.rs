//! The embedded demo: everything `jurisgate demo` needs to show the gateway
//! working end to end on loopback, with nothing to install.
//!
//! It starts four regional stores (us-east, us-west, eu-west, ap-southeast),
//! writes a config, keys and the example Texas policy into a folder, starts
//! the real gateway on a free port, drives a scripted mix of requests (US
//! and EU users, a cross-border read that comes back pseudonymised, spoofed
//! headers, a forged token, an outage), prints what happened, then stops the
//! gateway and verifies its own audit log. The regional stores are also the
//! real upstreams of the end-to-end tests.

mod setup;
mod store;
mod tls;
mod tour;

pub use setup::{APPROVALS_ISSUER, AUDIENCE, DemoFiles, ISSUER, write_demo_files};
pub use store::{Received, RegionalStore};
pub use tour::{DemoOptions, run};
