//! One streaming pass over the logs: every record in the time range is
//! counted into bounded tables (totals, flows, time buckets, refusals,
//! cross-border access, policy revisions, anomalies) and offered to the
//! sampler. Nothing here holds more than one previous record per log, so
//! memory does not grow with the log.
//!
//! A log that cannot be read to the end is aggregated up to the bad line,
//! and the report says where reading stopped; proving the log untampered is
//! verification's job, not this pass's.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use jurisgate_audit::{DecisionEvent, Event, Record, read_records};
use time::OffsetDateTime;

use crate::ReportOptions;
use crate::dims::Dim;
use crate::facts::{self, Outcome};
use crate::sample::{Key, Row, Sampler};
use crate::span::Span;

/// Lists (gaps, restarts, loads) keep at most this many entries; the
/// report says how many there were in all.
const LIST_CAP: usize = 500;

/// Counts per outcome, indexed by [`Outcome::index`].
pub(crate) type PerOutcome = [u64; 4];

/// Whole-log counts.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Records in range, every kind.
    pub(crate) records: u64,
    /// Decision records.
    pub(crate) decisions: u64,
    /// Decisions the policy allowed (`audit query --decision allow`).
    pub(crate) policy_allow: u64,
    /// Decisions the policy (or the gateway before it) denied.
    pub(crate) policy_deny: u64,
    /// Decisions by outcome.
    pub(crate) outcomes: PerOutcome,
    /// Records by kind.
    pub(crate) kinds: BTreeMap<&'static str, u64>,
}

/// The dimensions values are counted by.
#[derive(Debug)]
pub(crate) struct Dims {
    pub(crate) jurisdiction: Dim,
    pub(crate) class: Dim,
    pub(crate) destination: Dim,
    pub(crate) route: Dim,
    pub(crate) region: Dim,
    pub(crate) reason: Dim,
    pub(crate) revision: Dim,
    pub(crate) location: Dim,
    pub(crate) obligations: Dim,
}

impl Default for Dims {
    fn default() -> Self {
        Self {
            jurisdiction: Dim::new(200),
            class: Dim::new(50),
            destination: Dim::new(200),
            route: Dim::new(500),
            region: Dim::new(200),
            reason: Dim::new(500),
            revision: Dim::new(500),
            location: Dim::new(300),
            obligations: Dim::new(200),
        }
    }
}

/// One group of cross-border access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CrossKey {
    pub(crate) jurisdiction: u32,
    pub(crate) location: u32,
    pub(crate) route: u32,
    pub(crate) read: bool,
    pub(crate) allow: bool,
    pub(crate) approval: bool,
    pub(crate) obligations: u32,
}

/// A policy (or config) load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Load {
    pub(crate) log: u16,
    pub(crate) seq: u64,
    pub(crate) ts: String,
    pub(crate) what: String,
}

/// Decisions made under one policy revision.
#[derive(Debug, Default, Clone)]
pub(crate) struct RevisionStats {
    pub(crate) outcomes: PerOutcome,
    pub(crate) allow: u64,
    pub(crate) deny: u64,
    pub(crate) first_ts: String,
    pub(crate) last_ts: String,
}

/// A stretch without records while the gateway was up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gap {
    pub(crate) log: u16,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) seconds: i64,
}

/// Anomalies worth a look.
#[derive(Debug, Default)]
pub(crate) struct Anomalies {
    /// Not-forwarded decisions per unix minute (bursts are found from these).
    pub(crate) refusal_minutes: HashMap<i64, u32>,
    /// Decisions whose subject jurisdiction was not verified, by outcome.
    pub(crate) unverified: PerOutcome,
    /// Failovers by (route, first approved region, region used).
    pub(crate) failovers: HashMap<(u32, u32, u32), u64>,
    /// Audit gaps (the longest [`LIST_CAP`]) and how many in all.
    pub(crate) gaps: Vec<Gap>,
    pub(crate) gaps_total: u64,
    /// Startups not preceded by a shutdown record (a crash or a kill).
    pub(crate) unclean_restarts: Vec<Load>,
    pub(crate) unclean_total: u64,
    /// Torn lines quarantined at startup.
    pub(crate) quarantined: Vec<Load>,
    /// Decisions the policy could not make (`policy_error`).
    pub(crate) policy_errors: u64,
    /// Forwards answered by the gateway instead of the upstream
    /// (`forward_failed` records), by (region, status, reason group).
    pub(crate) failed_forwards: HashMap<(u32, u16, u32), u64>,
}

/// Everything the report draws.
pub(crate) struct Aggregator {
    pub(crate) totals: Totals,
    pub(crate) dims: Dims,
    pub(crate) by_jurisdiction: HashMap<u32, u64>,
    pub(crate) by_route: HashMap<u32, u64>,
    pub(crate) by_region: HashMap<u32, u64>,
    pub(crate) flows: HashMap<(u32, u32, u32), u64>,
    pub(crate) time: BTreeMap<i64, PerOutcome>,
    pub(crate) refusal_reasons: HashMap<u32, PerOutcome>,
    pub(crate) refusal_routes: HashMap<u32, PerOutcome>,
    pub(crate) cross: HashMap<CrossKey, u64>,
    pub(crate) policy_loads: Vec<Load>,
    pub(crate) config_loads: Vec<Load>,
    pub(crate) revisions: HashMap<u32, RevisionStats>,
    /// Per (revision, route, jurisdiction): (policy allowed, decisions).
    pub(crate) revision_cells: HashMap<(u32, u32, u32), (u64, u64)>,
    pub(crate) anomalies: Anomalies,
    pub(crate) sampler: Sampler,
    /// Logs that could not be read to the end, and where.
    pub(crate) read_errors: Vec<(PathBuf, String)>,
    span: Span,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    gap_threshold: time::Duration,
}

impl Aggregator {
    /// Streams every log in `dirs` once.
    pub(crate) fn run(dirs: &[PathBuf], opts: &ReportOptions, span: &Span) -> Self {
        let mut agg = Self {
            totals: Totals::default(),
            dims: Dims::default(),
            by_jurisdiction: HashMap::new(),
            by_route: HashMap::new(),
            by_region: HashMap::new(),
            flows: HashMap::new(),
            time: BTreeMap::new(),
            refusal_reasons: HashMap::new(),
            refusal_routes: HashMap::new(),
            cross: HashMap::new(),
            policy_loads: Vec::new(),
            config_loads: Vec::new(),
            revisions: HashMap::new(),
            revision_cells: HashMap::new(),
            anomalies: Anomalies::default(),
            sampler: Sampler::default(),
            read_errors: Vec::new(),
            span: span.clone(),
            since: opts.since,
            until: opts.until,
            gap_threshold: opts.gap_threshold,
        };
        for (log, dir) in dirs.iter().enumerate() {
            agg.read_log(u16::try_from(log).unwrap_or(u16::MAX), dir);
        }
        agg
    }

    fn read_log(&mut self, log: u16, dir: &Path) {
        let records = match read_records(dir) {
            Ok(r) => r,
            Err(e) => {
                self.read_errors.push((dir.to_path_buf(), e.to_string()));
                return;
            }
        };
        let mut prev: Option<(Record, OffsetDateTime)> = None;
        for record in records {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    self.read_errors.push((dir.to_path_buf(), e.to_string()));
                    return;
                }
            };
            let Some(t) = record.time() else {
                self.read_errors.push((
                    dir.to_path_buf(),
                    format!(
                        "seq {}: timestamp {:?} is not RFC 3339",
                        record.seq, record.ts
                    ),
                ));
                return;
            };
            let in_range = self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u);
            if in_range {
                self.add(log, &record, t, prev.as_ref());
            }
            prev = Some((record, t));
        }
    }

    fn add(
        &mut self,
        log: u16,
        r: &Record,
        t: OffsetDateTime,
        prev: Option<&(Record, OffsetDateTime)>,
    ) {
        let bucket = self.span.bucket(t);
        self.totals.records += 1;
        *self.totals.kinds.entry(kind(&r.event)).or_default() += 1;
        let mut keys = vec![Key::All];
        let mut tags = Vec::new();

        if let Some((p, pt)) = prev {
            let up = !matches!(p.event, Event::Shutdown(_));
            if up && t - *pt > self.gap_threshold {
                self.gap(log, p, *pt, r, t);
                keys.push(Key::Anomaly("gap"));
                tags.push("gap");
            }
            if matches!(r.event, Event::Startup(_)) && up {
                self.anomalies.unclean_total += 1;
                push_capped(
                    &mut self.anomalies.unclean_restarts,
                    load(log, r, String::new()),
                );
                keys.push(Key::Anomaly("unclean_restart"));
                tags.push("unclean_restart");
            }
        }

        let decision = match &r.event {
            Event::Decision(d) => Some(self.decision(d, r, t, &mut keys, &mut tags)),
            Event::PolicyLoaded(p) => {
                self.dims.revision.id(&p.revision);
                push_capped(&mut self.policy_loads, load(log, r, p.revision.clone()));
                keys.push(Key::Kind("policy_loaded"));
                None
            }
            Event::ConfigLoaded(c) => {
                push_capped(
                    &mut self.config_loads,
                    load(log, r, c.config_sha256.clone()),
                );
                keys.push(Key::Kind("config_loaded"));
                None
            }
            Event::Startup(s) => {
                if let Some(q) = &s.quarantined {
                    push_capped(&mut self.anomalies.quarantined, load(log, r, q.clone()));
                    keys.push(Key::Anomaly("quarantine"));
                    tags.push("quarantine");
                }
                keys.push(Key::Kind("startup"));
                None
            }
            Event::Shutdown(_) => {
                keys.push(Key::Kind("shutdown"));
                None
            }
            Event::Checkpoint(_) => {
                keys.push(Key::Kind("checkpoint"));
                None
            }
            Event::ForwardFailed(f) => {
                let key = (
                    self.dims.region.id(&f.region),
                    f.status,
                    self.dims.reason.id(facts::reason_rule(&f.reason)),
                );
                *self.anomalies.failed_forwards.entry(key).or_default() += 1;
                keys.extend([
                    Key::Kind("forward_failed"),
                    Key::Anomaly("forward_failed"),
                    Key::FailedForward(key.0, key.1, key.2),
                ]);
                tags.push("forward_failed");
                None
            }
        };
        self.sampler.offer((log, r.seq), &keys, || {
            let mut row = match (&r.event, decision) {
                (Event::Decision(d), Some(o)) => decision_row(d, o),
                (event, _) => other_row(event),
            };
            row.log = log;
            row.seq = r.seq;
            row.ts = r.ts.clone();
            row.bucket = bucket;
            row.tags = tags;
            row
        });
    }

    /// Counts one decision; returns its outcome.
    fn decision(
        &mut self,
        d: &DecisionEvent,
        r: &Record,
        t: OffsetDateTime,
        keys: &mut Vec<Key>,
        tags: &mut Vec<&'static str>,
    ) -> Outcome {
        let o = facts::outcome(d);
        let bucket = self.span.bucket(t);
        let totals = &mut self.totals;
        totals.decisions += 1;
        totals.outcomes[o.index()] += 1;
        if d.decision.allow {
            totals.policy_allow += 1;
        } else {
            totals.policy_deny += 1;
        }
        let dims = &mut self.dims;
        let j = dims.jurisdiction.id(&d.subject.jurisdiction);
        let c = dims.class.id(d.data_class.as_deref().unwrap_or("(none)"));
        let dest = dims.destination.id(facts::destination(d, o));
        let route = dims.route.id(d.route.as_deref().unwrap_or("(no route)"));
        *self.by_jurisdiction.entry(j).or_default() += 1;
        if d.route.is_some() {
            *self.by_route.entry(route).or_default() += 1;
        }
        if let Some(region) = &d.region {
            *self.by_region.entry(dims.region.id(region)).or_default() += 1;
        }
        *self.flows.entry((j, c, dest)).or_default() += 1;
        self.time.entry(bucket).or_default()[o.index()] += 1;
        keys.extend([Key::Time(bucket, o), Key::Flow(j, c, dest)]);

        if o != Outcome::Forwarded {
            let reason = dims.reason.id(facts::reason_group(d));
            self.refusal_reasons.entry(reason).or_default()[o.index()] += 1;
            self.refusal_routes.entry(route).or_default()[o.index()] += 1;
            let minute = t.unix_timestamp().div_euclid(60);
            *self.anomalies.refusal_minutes.entry(minute).or_default() += 1;
            keys.extend([Key::Reason(reason), Key::Route(route)]);
            tags.push("refused");
        }

        let rev = dims
            .revision
            .id(d.policy_revision.as_deref().unwrap_or("(none)"));
        let stats = self.revisions.entry(rev).or_default();
        stats.outcomes[o.index()] += 1;
        if d.decision.allow {
            stats.allow += 1;
        } else {
            stats.deny += 1;
        }
        if stats.first_ts.is_empty() {
            stats.first_ts.clone_from(&r.ts);
        }
        stats.last_ts.clone_from(&r.ts);
        let cell = self.revision_cells.entry((rev, route, j)).or_default();
        cell.0 += u64::from(d.decision.allow);
        cell.1 += 1;
        keys.push(Key::Revision(rev));

        if let Some(location) = facts::cross_border(d) {
            let key = CrossKey {
                jurisdiction: j,
                location: dims.location.id(location),
                route,
                read: facts::is_read(&d.method),
                allow: d.decision.allow,
                approval: d.requester.approval.is_some(),
                obligations: dims.obligations.id(&facts::obligations(d)),
            };
            *self.cross.entry(key).or_default() += 1;
            keys.push(Key::CrossBorder);
            tags.push("cross_border");
        }
        if !d.subject.verified {
            self.anomalies.unverified[o.index()] += 1;
            keys.push(Key::Anomaly("unverified"));
            tags.push("unverified");
        }
        if o == Outcome::Forwarded
            && let Some((from, to)) = facts::failover(d)
        {
            let key = (route, dims.region.id(&from), dims.region.id(&to));
            *self.anomalies.failovers.entry(key).or_default() += 1;
            keys.extend([Key::Anomaly("failover"), Key::Failover(key.0, key.1, key.2)]);
            tags.push("failover");
        }
        if d.decision.reason == "policy_error" {
            self.anomalies.policy_errors += 1;
            keys.push(Key::Anomaly("policy_error"));
            tags.push("policy_error");
        }
        o
    }

    fn gap(&mut self, log: u16, p: &Record, pt: OffsetDateTime, r: &Record, t: OffsetDateTime) {
        let a = &mut self.anomalies;
        a.gaps_total += 1;
        a.gaps.push(Gap {
            log,
            from: p.ts.clone(),
            to: r.ts.clone(),
            seconds: (t - pt).whole_seconds(),
        });
        if a.gaps.len() > LIST_CAP {
            // Keep the longest: drop the shortest.
            if let Some(i) = a
                .gaps
                .iter()
                .enumerate()
                .min_by_key(|(_, g)| g.seconds)
                .map(|(i, _)| i)
            {
                a.gaps.remove(i);
            }
        }
        // The record before the gap is the other edge the auditor wants to see.
        let bucket = self.span.bucket(pt);
        self.sampler
            .offer((log, p.seq), &[Key::Anomaly("gap")], || {
                let mut row = match &p.event {
                    Event::Decision(d) => decision_row(d, facts::outcome(d)),
                    event => other_row(event),
                };
                row.log = log;
                row.seq = p.seq;
                row.ts = p.ts.clone();
                row.bucket = bucket;
                row.tags = vec!["gap"];
                row
            });
    }
}

fn push_capped(list: &mut Vec<Load>, item: Load) {
    if list.len() < LIST_CAP {
        list.push(item);
    }
}

fn load(log: u16, r: &Record, what: String) -> Load {
    Load {
        log,
        seq: r.seq,
        ts: r.ts.clone(),
        what,
    }
}

/// A record's kind, as in its `kind` field.
fn kind(event: &Event) -> &'static str {
    match event {
        Event::Decision(_) => "decision",
        Event::PolicyLoaded(_) => "policy_loaded",
        Event::Startup(_) => "startup",
        Event::Shutdown(_) => "shutdown",
        Event::Checkpoint(_) => "checkpoint",
        Event::ConfigLoaded(_) => "config_loaded",
        Event::ForwardFailed(_) => "forward_failed",
    }
}

fn decision_row(d: &DecisionEvent, o: Outcome) -> Row {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    Row {
        kind: "decision",
        jurisdiction: d.subject.jurisdiction.clone(),
        verified: if d.subject.verified { "yes" } else { "no" },
        source: d.subject.source.clone(),
        requester: match &d.requester.id {
            Some(id) => format!("{} {id}", d.requester.kind),
            None => d.requester.kind.clone(),
        },
        location: text(&d.requester.location),
        approval: text(&d.requester.approval),
        method: d.method.clone(),
        path: d.path.clone(),
        route: d.route.clone().unwrap_or_else(|| "(no route)".into()),
        class: d.data_class.clone().unwrap_or_else(|| "(none)".into()),
        allow: if d.decision.allow { "true" } else { "false" },
        outcome: o.key(),
        destination: facts::destination(d, o).to_string(),
        reason: d
            .refusal
            .clone()
            .unwrap_or_else(|| d.decision.reason.clone()),
        reason_group: facts::reason_group(d).to_string(),
        region: text(&d.region),
        pool: text(&d.pool),
        status: d.status.map(|s| s.to_string()).unwrap_or_default(),
        revision: text(&d.policy_revision),
        obligations: facts::obligations(d),
        ..Row::default()
    }
}

fn other_row(event: &Event) -> Row {
    let reason = match event {
        Event::PolicyLoaded(p) => format!("policy revision {} ({})", p.revision, p.engine),
        Event::Startup(s) => match &s.quarantined {
            Some(q) => format!(
                "version {}, {} records recovered, torn line quarantined as {q}",
                s.version, s.recovered_records
            ),
            None => format!(
                "version {}, {} records recovered",
                s.version, s.recovered_records
            ),
        },
        Event::Shutdown(s) => s.reason.clone(),
        Event::Checkpoint(c) => format!("tree size {}, root {}", c.size, c.root),
        Event::ConfigLoaded(c) => format!("config sha256 {}", c.config_sha256),
        Event::ForwardFailed(f) => format!(
            "request {} to {} ({}): {} {}",
            f.request_id, f.pool, f.region, f.status, f.reason
        ),
        Event::Decision(_) => String::new(),
    };
    let mut row = Row {
        kind: kind(event),
        outcome: kind(event),
        reason,
        ..Row::default()
    };
    if let Event::ForwardFailed(f) = event {
        row.region.clone_from(&f.region);
        row.pool.clone_from(&f.pool);
        row.status = f.status.to_string();
        row.reason_group = facts::reason_rule(&f.reason).to_string();
    }
    row
}
