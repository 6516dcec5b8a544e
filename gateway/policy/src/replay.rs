//! Replay: re-decide recorded inputs with a candidate policy and group the
//! decisions that would change, for impact analysis before a rollout.
//!
//! A decision is summarised as `allow [regions…]` (sorted) or
//! `deny: <reason>`, so an obligation-only change does not count as a change.
//! Changes are grouped by (route, subject jurisdiction, before, after) with a
//! count and up to three example request ids. This module takes its own small
//! record type; reading the audit log is the caller's business.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::{Decision, PolicyEngine};

/// Example request ids kept per group.
pub const EXAMPLES_PER_GROUP: usize = 3;

/// One recorded decision to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRecord {
    /// The request id.
    pub request_id: String,
    /// The matched route, if any.
    pub route: Option<String>,
    /// The subject's jurisdiction as recorded.
    pub jurisdiction: String,
    /// The policy input as recorded; `None` when the record has none (it is
    /// counted as skipped).
    pub input: Option<serde_json::Value>,
    /// Allowed or not, as recorded.
    pub allow: bool,
    /// Approved regions, as recorded.
    pub regions: Vec<String>,
    /// Reason, as recorded.
    pub reason: String,
}

/// Decisions that changed the same way for the same route and jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeGroup {
    /// Route (`-` when none was matched).
    pub route: String,
    /// Subject jurisdiction.
    pub jurisdiction: String,
    /// The recorded decision, summarised.
    pub before: String,
    /// The candidate's decision, summarised.
    pub after: String,
    /// How many records changed this way.
    pub count: u64,
    /// Up to three of their request ids.
    pub examples: Vec<String>,
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// The candidate's revision.
    pub revision: String,
    /// Records re-decided.
    pub replayed: u64,
    /// Records without a recorded input.
    pub skipped: u64,
    /// Records whose decision would change.
    pub changed: u64,
    /// The changes, largest group first.
    pub groups: Vec<ChangeGroup>,
}

/// `allow [a, b]` or `deny: reason`.
#[must_use]
pub fn summarize(allow: bool, regions: &[String], reason: &str) -> String {
    if allow {
        let mut sorted = regions.to_vec();
        sorted.sort();
        sorted.dedup();
        format!("allow [{}]", sorted.join(", "))
    } else {
        format!("deny: {reason}")
    }
}

fn summarize_decision(d: &Decision) -> String {
    summarize(d.allow, &d.regions, &d.reason)
}

/// Re-decides every record with `candidate`.
#[must_use]
pub fn replay(
    candidate: &PolicyEngine,
    records: impl IntoIterator<Item = ReplayRecord>,
) -> ReplayReport {
    type Key = (String, String, String, String);
    let mut groups: BTreeMap<Key, (u64, Vec<String>)> = BTreeMap::new();
    let (mut replayed, mut skipped, mut changed) = (0, 0, 0);
    for record in records {
        let Some(input) = &record.input else {
            skipped += 1;
            continue;
        };
        replayed += 1;
        let before = summarize(record.allow, &record.regions, &record.reason);
        let after = summarize_decision(&candidate.decide_value(input));
        if before == after {
            continue;
        }
        changed += 1;
        let key = (
            record.route.clone().unwrap_or_else(|| "-".into()),
            record.jurisdiction.clone(),
            before,
            after,
        );
        let entry = groups.entry(key).or_default();
        entry.0 += 1;
        if entry.1.len() < EXAMPLES_PER_GROUP {
            entry.1.push(record.request_id.clone());
        }
    }
    let mut groups: Vec<ChangeGroup> = groups
        .into_iter()
        .map(
            |((route, jurisdiction, before, after), (count, examples))| ChangeGroup {
                route,
                jurisdiction,
                before,
                after,
                count,
                examples,
            },
        )
        .collect();
    // Largest impact first; the map already ordered ties by key.
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    ReplayReport {
        revision: candidate.revision().to_string(),
        replayed,
        skipped,
        changed,
        groups,
    }
}

impl ReplayReport {
    /// A plain-text table: one row per group, then totals.
    #[must_use]
    pub fn render_table(&self) -> String {
        let header = [
            "COUNT",
            "ROUTE",
            "JURISDICTION",
            "BEFORE",
            "AFTER",
            "EXAMPLES",
        ];
        let rows: Vec<[String; 6]> = self
            .groups
            .iter()
            .map(|g| {
                [
                    g.count.to_string(),
                    g.route.clone(),
                    g.jurisdiction.clone(),
                    g.before.clone(),
                    g.after.clone(),
                    g.examples.join(", "),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[&str]| {
            let text: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", text.join("  ").trim_end());
        };
        if !rows.is_empty() {
            line(&header);
            for row in &rows {
                line(&row.each_ref().map(String::as_str));
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} replayed against {}, {} would change, {} skipped (no recorded input)",
            self.replayed, self.revision, self.changed, self.skipped
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::EngineOptions;

    fn record(
        id: &str,
        route: &str,
        j: &str,
        allow: bool,
        regions: &[&str],
        reason: &str,
    ) -> ReplayRecord {
        ReplayRecord {
            request_id: id.into(),
            route: Some(route.into()),
            jurisdiction: j.into(),
            input: Some(json!({"j": j})),
            allow,
            regions: regions.iter().map(|r| (*r).to_string()).collect(),
            reason: reason.into(),
        }
    }

    #[test]
    fn changes_are_grouped_counted_and_exemplified() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("p.rego"),
            "package jurisgate\ndefault decision := {\"allow\": false, \"reason\": \"closed\"}\ndecision := {\"allow\": true, \"regions\": [\"us-west\", \"us-east\"]} if input.j == \"US\"\n",
        )
        .unwrap();
        let engine = PolicyEngine::load(Path::new(tmp.path()), &EngineOptions::default()).unwrap();
        let mut records = vec![
            // Unchanged: same regions in another order.
            record(
                "r0",
                "messages",
                "US",
                true,
                &["us-east", "us-west"],
                "old words",
            ),
            // US narrowed from three regions to two: changes.
            record("r5", "messages", "EU", true, &["eu-west"], "eu"),
        ];
        for i in 1..=4 {
            records.push(record(
                &format!("r{i}"),
                "messages",
                "US",
                true,
                &["us-east"],
                "x",
            ));
        }
        records.push(ReplayRecord {
            input: None,
            ..record("r9", "messages", "US", true, &["us-east"], "x")
        });
        let report = replay(&engine, records);
        assert_eq!((report.replayed, report.changed, report.skipped), (6, 5, 1));
        assert_eq!(report.groups.len(), 2);
        let g = &report.groups[0];
        assert_eq!(
            (g.route.as_str(), g.jurisdiction.as_str(), g.count),
            ("messages", "US", 4)
        );
        assert_eq!(g.before, "allow [us-east]");
        assert_eq!(g.after, "allow [us-east, us-west]");
        assert_eq!(g.examples, ["r1", "r2", "r3"]);
        assert_eq!(report.groups[1].after, "deny: closed");
        let table = report.render_table();
        assert!(table.starts_with("COUNT  ROUTE"), "{table}");
        assert!(table.contains("4      messages  US"), "{table}");
        assert!(table.contains("6 replayed against sha256:"), "{table}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["groups"][0]["examples"][2], "r3");
    }
}
