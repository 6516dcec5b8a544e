//! Admin endpoints, on their own listener so they are never exposed with
//! the proxy: `/healthz` (the process answers), `/readyz` (policy loaded,
//! audit writable, a healthy pool for every route) and `/metrics`.

use std::fmt::Write as _;

use http::{Response, StatusCode};

use crate::body::BoxBody;
use crate::gateway::Gateway;
use crate::metrics::escape;
use crate::respond::text;

/// Answers one admin request.
#[must_use]
pub fn handle(gateway: &Gateway, path: &str) -> Response<BoxBody> {
    match path {
        "/healthz" => text(StatusCode::OK, "ok\n", "text/plain"),
        "/readyz" => {
            let problems = readiness_problems(gateway);
            if problems.is_empty() {
                text(StatusCode::OK, "ready\n", "text/plain")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    problems.join("\n") + "\n",
                    "text/plain",
                )
            }
        }
        "/metrics" => text(
            StatusCode::OK,
            gateway.metrics.render(&gauges(gateway)),
            "text/plain; version=0.0.4",
        ),
        _ => crate::server::not_found(),
    }
}

/// What keeps the gateway from being ready, one line each; empty when ready.
#[must_use]
pub fn readiness_problems(gateway: &Gateway) -> Vec<String> {
    let mut problems = Vec::new();
    let audit = gateway.audit.status();
    if !audit.writable {
        problems.push(format!(
            "audit log not writable: {}",
            audit.last_error.as_deref().unwrap_or("unknown error")
        ));
    }
    for class in gateway.routes.classifications() {
        if !gateway
            .pools
            .destinations(&class.pools)
            .iter()
            .any(|d| d.healthy)
        {
            problems.push(format!(
                "route {}: no healthy pool among {}",
                class.route,
                class.pools.join(", ")
            ));
        }
    }
    problems
}

fn gauges(gateway: &Gateway) -> String {
    let mut out = String::new();
    let audit = gateway.audit.status();
    let _ = writeln!(
        out,
        "# TYPE jurisgate_audit_queue_depth gauge\njurisgate_audit_queue_depth {}\n# TYPE jurisgate_audit_writable gauge\njurisgate_audit_writable {}",
        audit.queue_depth,
        u8::from(audit.writable)
    );
    out.push_str("# TYPE jurisgate_pool_healthy_endpoints gauge\n");
    for pool in gateway.pools.health_snapshot() {
        let _ = writeln!(
            out,
            "jurisgate_pool_healthy_endpoints{{pool=\"{}\",region=\"{}\"}} {}",
            escape(&pool.pool),
            escape(&pool.region),
            pool.endpoints.iter().filter(|e| e.healthy).count()
        );
    }
    let _ = writeln!(
        out,
        "# TYPE jurisgate_policy_info gauge\njurisgate_policy_info{{revision=\"{}\"}} 1",
        escape(gateway.policy.load().revision())
    );
    let _ = writeln!(
        out,
        "# HELP jurisgate_identity_token_cache_entries Verified tokens cached (bounded by each source's token_cache).\n# TYPE jurisgate_identity_token_cache_entries gauge\njurisgate_identity_token_cache_entries {}",
        gateway.attributor.cached_tokens()
    );
    if let Some(ship) = &gateway.shipping {
        let _ = writeln!(
            out,
            "# HELP jurisgate_audit_ship_passes_total Shipping passes by result (a failed one is retried).\n# TYPE jurisgate_audit_ship_passes_total counter\njurisgate_audit_ship_passes_total{{result=\"completed\"}} {}\njurisgate_audit_ship_passes_total{{result=\"failed\"}} {}\n# HELP jurisgate_audit_ship_files_total Audit files uploaded and confirmed.\n# TYPE jurisgate_audit_ship_files_total counter\njurisgate_audit_ship_files_total {}\n# HELP jurisgate_audit_ship_last_completed_timestamp_seconds Unix time of the last completed shipping pass (0: none yet).\n# TYPE jurisgate_audit_ship_last_completed_timestamp_seconds gauge\njurisgate_audit_ship_last_completed_timestamp_seconds {}",
            ship.passes_completed(),
            ship.passes_failed(),
            ship.files_shipped(),
            ship.last_completed_unix()
        );
    }
    if let Some(tls) = &gateway.listener_tls {
        let tls = tls.stats();
        let _ = writeln!(
            out,
            "# HELP jurisgate_tls_reloads_total Listener certificate reloads by result (refused: the previous certificates stay).\n# TYPE jurisgate_tls_reloads_total counter\njurisgate_tls_reloads_total{{result=\"applied\"}} {}\njurisgate_tls_reloads_total{{result=\"refused\"}} {}\n# HELP jurisgate_tls_certificate_expiry_timestamp_seconds Unix time the first of the listener's certificates expires.\n# TYPE jurisgate_tls_certificate_expiry_timestamp_seconds gauge\njurisgate_tls_certificate_expiry_timestamp_seconds {}",
            tls.reloads_applied, tls.reloads_refused, tls.earliest_not_after
        );
    }
    out
}
