//! Prometheus metrics, rendered as text by the admin listener. Small and
//! hand-rolled: a few labelled counters and two latency histograms.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.05, 0.25, 1.0,
];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Labels of the request counter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestLabels {
    /// Route name, or `none`.
    pub route: String,
    /// `allow`, `deny` or `refused`.
    pub decision: &'static str,
    /// Region the request went to, or `none`.
    pub region: String,
    /// Response status.
    pub status: u16,
}

/// The gateway's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RequestLabels, u64>>,
    /// Time to evaluate the policy.
    pub decision_latency: Histogram,
    /// Time from forwarding to the upstream's response head.
    pub upstream_latency: Histogram,
    /// Time to make the audit record durable.
    pub audit_latency: Histogram,
    /// Policy reloads that succeeded.
    pub policy_reloads: AtomicU64,
    /// Policy reloads refused because the new policy failed its checks.
    pub policy_reload_failures: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub fn count_request(&self, labels: RequestLabels) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry(labels).or_default() += 1;
        }
    }

    /// Renders the Prometheus text exposition, with extra gauge lines
    /// appended by the caller (pool health, audit queue).
    #[must_use]
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP jurisgate_requests_total Requests by route, decision, region and status.\n# TYPE jurisgate_requests_total counter\n");
        if let Ok(map) = self.requests.lock() {
            for (l, n) in map.iter() {
                let _ = writeln!(
                    out,
                    "jurisgate_requests_total{{route=\"{}\",decision=\"{}\",region=\"{}\",status=\"{}\"}} {n}",
                    escape(&l.route),
                    l.decision,
                    escape(&l.region),
                    l.status
                );
            }
        }
        self.decision_latency.render(
            &mut out,
            "jurisgate_decision_seconds",
            "Policy evaluation time.",
        );
        self.upstream_latency.render(
            &mut out,
            "jurisgate_upstream_seconds",
            "Upstream time to response head.",
        );
        self.audit_latency.render(
            &mut out,
            "jurisgate_audit_append_seconds",
            "Time to make an audit record durable.",
        );
        let _ = writeln!(
            out,
            "# TYPE jurisgate_policy_reloads_total counter\njurisgate_policy_reloads_total{{result=\"ok\"}} {}\njurisgate_policy_reloads_total{{result=\"refused\"}} {}",
            self.policy_reloads.load(Ordering::Relaxed),
            self.policy_reload_failures.load(Ordering::Relaxed)
        );
        out.push_str(extra);
        out
    }
}

/// Escapes a label value per the Prometheus text format.
#[must_use]
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.count_request(RequestLabels {
            route: "r".into(),
            decision: "allow",
            region: "us-east".into(),
            status: 200,
        });
        m.count_request(RequestLabels {
            route: "r".into(),
            decision: "allow",
            region: "us-east".into(),
            status: 200,
        });
        m.decision_latency.observe(Duration::from_micros(3));
        m.decision_latency.observe(Duration::from_millis(3));
        let text = m.render("");
        assert!(text.contains("jurisgate_requests_total{route=\"r\",decision=\"allow\",region=\"us-east\",status=\"200\"} 2"));
        assert!(text.contains("jurisgate_decision_seconds_bucket{le=\"0.000005\"} 1"));
        assert!(text.contains("jurisgate_decision_seconds_bucket{le=\"+Inf\"} 2"));
    }
}
