//! Prometheus metrics, rendered as text by the admin listener. Small and
//! hand-rolled: a few labelled counters and two latency histograms.
//!
//! Nothing on the request path takes a lock or allocates once a label set
//! has been seen: the request counters live in a read-mostly map swapped
//! whole (`arc-swap`) when a new label set appears, and each counter is an
//! atomic shared by every version of the map.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

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

/// Labels of the request counter, borrowed from the request's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestLabels<'a> {
    /// Route name, or `none`.
    pub route: &'a str,
    /// `allow`, `deny` or `refused`.
    pub decision: &'static str,
    /// Region the request went to, or `none`.
    pub region: &'a str,
    /// Response status.
    pub status: u16,
}

/// One request counter: the labels besides the route, and the count.
#[derive(Debug)]
struct Series {
    decision: &'static str,
    region: Box<str>,
    status: u16,
    count: AtomicU64,
}

impl Series {
    fn is(&self, l: &RequestLabels<'_>) -> bool {
        self.status == l.status && self.decision == l.decision && *self.region == *l.region
    }
}

/// Request counters by route; within a route a short list (regions ×
/// decisions × statuses seen) searched in order.
type SeriesMap = HashMap<Box<str>, Vec<Arc<Series>>>;

/// Request counters: lock-free to count, a lock only to add a label set.
#[derive(Debug, Default)]
struct RequestCounters {
    current: ArcSwap<SeriesMap>,
    /// Serialises the rare additions so none is lost.
    adding: Mutex<()>,
}

impl RequestCounters {
    fn find(map: &SeriesMap, l: &RequestLabels<'_>) -> Option<Arc<Series>> {
        map.get(l.route)?.iter().find(|s| s.is(l)).cloned()
    }

    fn increment(&self, l: &RequestLabels<'_>) {
        if let Some(series) = self
            .current
            .load()
            .get(l.route)
            .and_then(|v| v.iter().find(|s| s.is(l)))
        {
            series.count.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let series = Self::find(&self.current.load(), l).unwrap_or_else(|| {
            let series = Arc::new(Series {
                decision: l.decision,
                region: l.region.into(),
                status: l.status,
                count: AtomicU64::new(0),
            });
            let mut next = SeriesMap::clone(&self.current.load());
            next.entry(l.route.into())
                .or_default()
                .push(Arc::clone(&series));
            self.current.store(Arc::new(next));
            series
        });
        series.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every counter, ordered by route, decision, region, status.
    fn render(&self, out: &mut String) {
        let map = self.current.load();
        let mut all: Vec<(&str, &Series)> = map
            .iter()
            .flat_map(|(route, v)| v.iter().map(move |s| (&**route, &**s)))
            .collect();
        all.sort_by(|(ra, a), (rb, b)| {
            (ra, a.decision, &a.region, a.status).cmp(&(rb, b.decision, &b.region, b.status))
        });
        for (route, s) in all {
            let _ = writeln!(
                out,
                "jurisgate_requests_total{{route=\"{}\",decision=\"{}\",region=\"{}\",status=\"{}\"}} {}",
                escape(route),
                s.decision,
                escape(&s.region),
                s.status,
                s.count.load(Ordering::Relaxed)
            );
        }
    }
}

/// The gateway's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: RequestCounters,
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
    /// SIGHUP reads of the identity JWKS files that changed a key set.
    pub identity_key_reloads_changed: AtomicU64,
    /// SIGHUP reads that found every key set as it was.
    pub identity_key_reloads_unchanged: AtomicU64,
    /// SIGHUP reads where a file was refused (its source kept its keys).
    pub identity_key_reloads_refused: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub fn count_request(&self, labels: RequestLabels<'_>) {
        self.requests.increment(&labels);
    }

    /// Renders the Prometheus text exposition, with extra gauge lines
    /// appended by the caller (pool health, audit queue).
    #[must_use]
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP jurisgate_requests_total Requests by route, decision, region and status.\n# TYPE jurisgate_requests_total counter\n");
        self.requests.render(&mut out);
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
        let _ = writeln!(
            out,
            "# HELP jurisgate_identity_key_reloads_total SIGHUP reads of the identity and approval JWKS files.\n# TYPE jurisgate_identity_key_reloads_total counter\njurisgate_identity_key_reloads_total{{result=\"changed\"}} {}\njurisgate_identity_key_reloads_total{{result=\"unchanged\"}} {}\njurisgate_identity_key_reloads_total{{result=\"refused\"}} {}",
            self.identity_key_reloads_changed.load(Ordering::Relaxed),
            self.identity_key_reloads_unchanged.load(Ordering::Relaxed),
            self.identity_key_reloads_refused.load(Ordering::Relaxed)
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
        let labels = RequestLabels {
            route: "r",
            decision: "allow",
            region: "us-east",
            status: 200,
        };
        m.count_request(labels);
        m.count_request(labels);
        m.decision_latency.observe(Duration::from_micros(3));
        m.decision_latency.observe(Duration::from_millis(3));
        m.identity_key_reloads_refused
            .fetch_add(1, Ordering::Relaxed);
        let text = m.render("");
        assert!(text.contains("jurisgate_requests_total{route=\"r\",decision=\"allow\",region=\"us-east\",status=\"200\"} 2"));
        assert!(text.contains("jurisgate_identity_key_reloads_total{result=\"refused\"} 1\n"));
        assert!(text.contains("jurisgate_identity_key_reloads_total{result=\"changed\"} 0\n"));
        assert!(text.contains("jurisgate_decision_seconds_bucket{le=\"0.000005\"} 1"));
        assert!(text.contains("jurisgate_decision_seconds_bucket{le=\"+Inf\"} 2"));
    }

    #[test]
    fn counters_render_in_label_order_with_escaped_values() {
        let m = Metrics::default();
        for (route, decision, region, status) in [
            ("users", "deny", "none", 403),
            ("users", "allow", "us-west", 200),
            ("a\"b", "refused", "none", 400),
            ("users", "allow", "us-east", 502),
            ("users", "allow", "us-east", 200),
        ] {
            m.count_request(RequestLabels {
                route,
                decision,
                region,
                status,
            });
        }
        let text = m.render("");
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("jurisgate_requests_total{"))
            .collect();
        assert_eq!(
            lines,
            [
                r#"jurisgate_requests_total{route="a\"b",decision="refused",region="none",status="400"} 1"#,
                r#"jurisgate_requests_total{route="users",decision="allow",region="us-east",status="200"} 1"#,
                r#"jurisgate_requests_total{route="users",decision="allow",region="us-east",status="502"} 1"#,
                r#"jurisgate_requests_total{route="users",decision="allow",region="us-west",status="200"} 1"#,
                r#"jurisgate_requests_total{route="users",decision="deny",region="none",status="403"} 1"#,
            ]
        );
    }

    #[test]
    fn concurrent_counting_loses_nothing_even_while_label_sets_are_added() {
        let m = std::sync::Arc::new(Metrics::default());
        const THREADS: u16 = 4;
        const PER_THREAD: u16 = 2000;
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let m = std::sync::Arc::clone(&m);
                std::thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        // Statuses 200..=209: each thread adds label sets
                        // while the others count on them.
                        m.count_request(RequestLabels {
                            route: "r",
                            decision: "allow",
                            region: if (i + t) % 2 == 0 { "eu" } else { "us" },
                            status: 200 + i % 10,
                        });
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let text = m.render("");
        let counts: Vec<u64> = text
            .lines()
            .filter(|l| l.starts_with("jurisgate_requests_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(counts.len(), 20, "{text}");
        assert_eq!(
            counts.iter().sum::<u64>(),
            u64::from(THREADS) * u64::from(PER_THREAD)
        );
    }
}
