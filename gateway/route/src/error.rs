//! The crate's errors: [`RouteError`] for pools that cannot be built, and
//! [`NoApprovedRegion`], the answer when a permitted request has nowhere it
//! may go. Neither decides an HTTP status; the proxy maps them.

use std::fmt;

use serde::Serialize;

/// The `reason` of a [`NoApprovedRegion`], as the 503 body and audit log say it.
pub const NO_APPROVED_REGION: &str = "no_approved_region_available";

/// Why the pools could not be built from config. Each names the pool.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// Two pools share a name, so a route's pool list would be ambiguous.
    #[error("pool `{pool}` is defined twice; pool names must be unique")]
    DuplicatePool {
        /// The repeated name.
        pool: String,
    },
    /// A pool without endpoints can never serve.
    #[error("pool `{pool}` has no endpoints; give at least one \"http://host:port\"")]
    NoEndpoints {
        /// The pool.
        pool: String,
    },
    /// An endpoint is not a usable base URL.
    #[error("pool `{pool}`: endpoint `{endpoint}`: {why}")]
    BadEndpoint {
        /// The pool.
        pool: String,
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        why: String,
    },
    /// The pool's TLS settings cannot be loaded (a CA or client certificate file).
    #[error("pool `{pool}`: {source}")]
    UpstreamTls {
        /// The pool.
        pool: String,
        /// What is wrong, naming the key and file.
        #[source]
        source: jurisgate_tls::TlsError,
    },
    /// A health-check setting cannot work.
    #[error("pool `{pool}`: health.{key}: {why}")]
    BadHealthCheck {
        /// The pool.
        pool: String,
        /// The `health` key at fault (`path`, `interval`, …).
        key: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

/// A permitted request found no healthy pool in an approved region among its
/// route's pools. It is never sent to another region instead; the proxy
/// answers 503 with this, serialised, as the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct NoApprovedRegion {
    /// Always [`NO_APPROVED_REGION`].
    pub reason: &'static str,
    /// The regions the decision approved.
    pub approved_regions: Vec<String>,
    /// The route's pools, in route order, and why each was passed over.
    pub considered: Vec<ConsideredPool>,
}

/// One of the route's pools as [`NoApprovedRegion`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsideredPool {
    /// Pool name.
    pub pool: String,
    /// The pool's region.
    pub region: String,
    /// Whether the decision approved the pool's region.
    pub approved: bool,
    /// Whether any endpoint of the pool was healthy.
    pub healthy: bool,
}

impl fmt::Display for NoApprovedRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: approved regions [{}]; route pools:",
            self.reason,
            self.approved_regions.join(", ")
        )?;
        if self.considered.is_empty() {
            f.write_str(" none")?;
        }
        for (i, p) in self.considered.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            let why = match (p.approved, p.healthy) {
                (false, _) => "region not approved",
                (true, false) => "no healthy endpoint",
                // Healthy and approved pools are never passed over; kept total.
                (true, true) => "approved and healthy",
            };
            write!(f, "{sep}{} ({}: {why})", p.pool, p.region)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_says_why_each_pool_was_passed_over() {
        let e = NoApprovedRegion {
            reason: NO_APPROVED_REGION,
            approved_regions: vec!["us-east".into()],
            considered: vec![
                ConsideredPool {
                    pool: "a".into(),
                    region: "us-east".into(),
                    approved: true,
                    healthy: false,
                },
                ConsideredPool {
                    pool: "b".into(),
                    region: "eu-west".into(),
                    approved: false,
                    healthy: true,
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "no_approved_region_available: approved regions [us-east]; route pools: \
             a (us-east: no healthy endpoint), b (eu-west: region not approved)"
        );
    }
}
