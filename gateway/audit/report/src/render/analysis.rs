//! The report's sections after the overview: flows, decisions over time,
//! denials, cross-border access, policy revisions and anomalies. Each turns
//! the aggregator's exact counts into tables and charts whose entries link
//! to the rows behind them.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use jurisgate_audit::format_ts;
use time::OffsetDateTime;

use crate::ReportOptions;
use crate::aggregate::{Aggregator, PerOutcome};
use crate::dims::Dim;
use crate::facts::{Outcome, is_refused_destination};
use crate::render::charts::{self, Flow};
use crate::render::html::{duration, esc, fmt_n, num, num_link, pct_of, short_ts};
use crate::render::revision_cell;
use crate::span::Span;

/// Rows shown in long tables; the rest are summed in a last line.
const TABLE_ROWS: usize = 40;
/// A burst minute has at least this many refusals…
const BURST_MIN: u64 = 10;
/// …and this many times the average per minute.
const BURST_FACTOR: u64 = 10;
/// A change of this many percentage points in the allowed share of a
/// (route, jurisdiction) between two revisions is listed.
const CHANGE_POINTS: f64 = 10.0;

/// A small table of counts by one dimension, largest first.
pub(super) fn count_table(
    title: &str,
    key: &str,
    filter: &str,
    counts: &HashMap<u32, u64>,
    dim: &Dim,
) -> String {
    let mut sorted: Vec<(&str, u64)> = counts.iter().map(|(id, n)| (dim.name(*id), *n)).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut s = format!(
        r#"<div><h3>{}</h3><table><tr><th>{}</th><th class="r">decisions</th></tr>"#,
        esc(title),
        esc(key)
    );
    if sorted.is_empty() {
        s.push_str(r#"<tr><td colspan="2" class="muted">none</td></tr>"#);
    }
    for (name, n) in sorted.iter().take(TABLE_ROWS) {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="r">{}</td></tr>"#,
            esc(name),
            num_link(
                &format!("{key}:{name}"),
                *n,
                // Decisions only: `forward_failed` rows carry a region too.
                &[("kind", "decision"), (filter, name)],
                &format!("{key} {name}")
            )
        );
    }
    more_row(&mut s, &sorted, 2);
    s.push_str("</table></div>");
    s
}

fn more_row(s: &mut String, sorted: &[(&str, u64)], cols: usize) {
    if sorted.len() > TABLE_ROWS {
        let rest: u64 = sorted[TABLE_ROWS..].iter().map(|(_, n)| n).sum();
        let _ = write!(
            s,
            r#"<tr><td colspan="{}" class="muted">{} more, {} decisions</td></tr>"#,
            cols,
            sorted.len() - TABLE_ROWS,
            fmt_n(rest)
        );
    }
}

/// Jurisdiction → data class → destination.
pub(super) fn flows(agg: &Aggregator) -> String {
    let d = &agg.dims;
    let flows: Vec<Flow> = agg
        .flows
        .iter()
        .map(|((j, c, dest), n)| Flow {
            j: d.jurisdiction.name(*j),
            c: d.class.name(*c),
            d: d.destination.name(*dest),
            n: *n,
        })
        .collect();
    let mut s = String::from(
        r#"<section id="flows"><h2>Flows: subject jurisdiction → data class → destination</h2><p>Where each subject's data went. Band width is the number of decisions; requests not forwarded (denied by the policy, refused by the gateway, failed) are drawn apart at the bottom right, hatched. Click a band or node for its records.</p>"#,
    );
    s.push_str(&charts::legend());
    let _ = write!(s, r#"<div class="chart">{}</div>"#, charts::sankey(&flows));

    // The same flows as a matrix, with exact counts: rows jurisdiction ×
    // class, columns destinations (refusals apart, on the right).
    let mut dests: Vec<(&str, u64)> = Vec::new();
    let mut cells: BTreeMap<(&str, &str), HashMap<&str, u64>> = BTreeMap::new();
    for f in &flows {
        match dests.iter_mut().find(|(name, _)| *name == f.d) {
            Some((_, n)) => *n += f.n,
            None => dests.push((f.d, f.n)),
        }
        *cells.entry((f.j, f.c)).or_default().entry(f.d).or_default() += f.n;
    }
    dests.sort_by(|a, b| {
        (is_refused_destination(a.0), b.1, a.0).cmp(&(is_refused_destination(b.0), a.1, b.0))
    });
    s.push_str(
        r#"<h3>Flow matrix</h3><table class="matrix"><tr><th>jurisdiction</th><th>data class</th>"#,
    );
    for (name, _) in &dests {
        let class = if is_refused_destination(name) {
            r#" class="r refused""#
        } else {
            r#" class="r""#
        };
        let _ = write!(s, "<th{class}>{}</th>", esc(name));
    }
    s.push_str("</tr>");
    for ((j, c), row) in &cells {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td>", esc(j), esc(c));
        for (dest, _) in &dests {
            let n = row.get(dest).copied().unwrap_or(0);
            let class = if is_refused_destination(dest) {
                "r refused"
            } else {
                "r"
            };
            let cell = if n == 0 {
                String::new()
            } else {
                num_link(
                    &format!("flow:{j}|{c}|{dest}"),
                    n,
                    &[("j", j), ("c", c), ("d", dest)],
                    &format!("{j} → {c} → {dest}"),
                )
            };
            let _ = write!(s, r#"<td class="{class}">{cell}</td>"#);
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></section>");
    s
}

/// Decisions per time bucket, stacked by outcome.
pub(super) fn over_time(agg: &Aggregator, span: &Span) -> String {
    let mut buckets = Vec::new();
    if let (Some((&first, _)), Some((&last, _))) =
        (agg.time.first_key_value(), agg.time.last_key_value())
    {
        for b in first..=last {
            buckets.push((b, agg.time.get(&b).copied().unwrap_or_default()));
        }
    }
    let daily = span.width >= 86_400;
    let label = |b: i64| {
        let t = format_ts(span.bucket_start(b));
        if daily {
            t[..10].to_string()
        } else {
            t[5..16].replace('T', " ")
        }
    };
    format!(
        r#"<section id="time"><h2>Decisions over time</h2><p>One bar per {} (UTC), {} bars. Hover for counts; click a segment for its records.</p>{}<div class="chart">{}</div></section>"#,
        span.width_name,
        buckets.len(),
        charts::legend(),
        charts::time_bars(&buckets, label)
    )
}

/// One bar table row per name, stacked by outcome.
fn outcome_bars(
    title: &str,
    (header, key): (&str, &str),
    filter: &str,
    counts: &HashMap<u32, PerOutcome>,
    dim: &Dim,
) -> String {
    let mut sorted: Vec<(&str, PerOutcome, u64)> = counts
        .iter()
        .map(|(id, c)| (dim.name(*id), *c, c.iter().sum()))
        .collect();
    sorted.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    let max = sorted.first().map_or(1, |r| r.2.max(1));
    let mut s = format!(
        r#"<div><h3>{}</h3><table class="bars"><tr><th>{}</th><th></th><th class="r">not forwarded</th></tr>"#,
        esc(title),
        esc(header)
    );
    if sorted.is_empty() {
        s.push_str(r#"<tr><td colspan="3" class="muted">none</td></tr>"#);
    }
    for (name, per, total) in sorted.iter().take(TABLE_ROWS) {
        let mut bar = String::new();
        for o in Outcome::ALL {
            let n = per[o.index()];
            if n > 0 {
                let _ = write!(
                    bar,
                    r#"<span class="sw-{}" style="width:{:.1}%" title="{}: {}"></span>"#,
                    o.key(),
                    n as f64 * 100.0 / max as f64,
                    esc(o.label()),
                    fmt_n(n)
                );
            }
        }
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="bar"><div class="bar">{bar}</div></td><td class="r">{}</td></tr>"#,
            esc(name),
            num_link(
                &format!("{key}:{name}"),
                *total,
                &[(filter, name), ("tag", "refused")],
                &format!("not forwarded, {header} {name}")
            )
        );
    }
    let plain: Vec<(&str, u64)> = sorted.iter().map(|(n, _, t)| (*n, *t)).collect();
    more_row(&mut s, &plain, 3);
    s.push_str("</table></div>");
    s
}

/// Requests not forwarded, by reason and by route.
pub(super) fn denials(agg: &Aggregator) -> String {
    format!(
        r#"<section id="denials"><h2>Denials and refusals</h2><p>Every decision not forwarded, by the reason recorded (the gateway's own reasons grouped by rule, e.g. <code>encoded_slash</code>) and by route.</p>{}<div class="grid">{}{}</div></section>"#,
        charts::legend(),
        outcome_bars(
            "By reason",
            ("reason", "reason"),
            "rg",
            &agg.refusal_reasons,
            &agg.dims.reason
        ),
        outcome_bars(
            "By route",
            ("route", "refused-route"),
            "route",
            &agg.refusal_routes,
            &agg.dims.route
        ),
    )
}

/// Access from outside the subject's jurisdiction, with its obligations.
pub(super) fn cross_border(agg: &Aggregator) -> String {
    let d = &agg.dims;
    let total: u64 = agg.cross.values().sum();
    let mut s = format!(
        r#"<section id="cross-border"><h2>Cross-border access</h2><p>Decisions where the requester's recorded location is outside the subject's jurisdiction: {} in all. Obligations are what the policy required of the response.</p>"#,
        num_link(
            "cross-border",
            total,
            &[("tag", "cross_border")],
            "cross-border access"
        )
    );
    if agg.cross.is_empty() {
        s.push_str(r#"<p class="muted">None in this range.</p></section>"#);
        return s;
    }
    let mut sorted: Vec<_> = agg.cross.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    s.push_str(r#"<table><tr><th>subject jurisdiction</th><th>requester in</th><th>route</th><th>access</th><th>decision</th><th>approval</th><th>obligations</th><th class="r">decisions</th></tr>"#);
    for (k, n) in sorted.iter().take(TABLE_ROWS) {
        let (j, loc, route) = (
            d.jurisdiction.name(k.jurisdiction),
            d.location.name(k.location),
            d.route.name(k.route),
        );
        let allow = if k.allow { "true" } else { "false" };
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="r">{}</td></tr>"#,
            esc(j),
            esc(loc),
            esc(route),
            if k.read { "read" } else { "write" },
            if k.allow { "allowed" } else { "denied" },
            if k.approval { "yes" } else { "no" },
            esc(d.obligations.name(k.obligations)),
            num_link(
                &format!("cross:{j}|{loc}|{route}|{allow}"),
                **n,
                &[
                    ("j", j),
                    ("loc", loc),
                    ("route", route),
                    ("allow", allow),
                    ("tag", "cross_border")
                ],
                &format!("{j} data reached from {loc} via {route}")
            )
        );
    }
    if sorted.len() > TABLE_ROWS {
        let _ = write!(
            s,
            r#"<tr><td colspan="8" class="muted">{} more groups</td></tr>"#,
            sorted.len() - TABLE_ROWS
        );
    }
    s.push_str("</table></section>");
    s
}

/// Policy loads, decisions per revision, and what changed between them.
pub(super) fn revisions(agg: &Aggregator) -> String {
    let d = &agg.dims;
    let mut s = String::from(
        r#"<section id="revisions"><h2>Policy revisions</h2><h3>Loaded</h3><table><tr><th>time (UTC)</th><th class="r">log</th><th class="r">seq</th><th>revision</th></tr>"#,
    );
    if agg.policy_loads.is_empty() {
        s.push_str(
            r#"<tr><td colspan="4" class="muted">no policy_loaded record in this range</td></tr>"#,
        );
    }
    for l in &agg.policy_loads {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="r">{}</td><td class="r">{}</td><td>{}</td></tr>"#,
            esc(&short_ts(&l.ts)),
            l.log + 1,
            l.seq,
            revision_cell(&l.what)
        );
    }
    let _ = write!(
        s,
        r#"</table><p class="muted">{} policy loads, {} configuration loads in range.</p>"#,
        num("policy-loads", agg.policy_loads.len() as u64),
        fmt_n(agg.config_loads.len() as u64)
    );

    let mut revs: Vec<(u32, &crate::aggregate::RevisionStats)> =
        agg.revisions.iter().map(|(id, st)| (*id, st)).collect();
    revs.sort_by(|a, b| a.1.first_ts.cmp(&b.1.first_ts));
    s.push_str(r#"<h3>Decisions by revision</h3><table><tr><th>revision</th><th>first decision</th><th>last decision</th><th class="r">decisions</th><th class="r">allowed by policy</th><th class="r">forwarded</th><th class="r">denied</th><th class="r">errors</th></tr>"#);
    for (id, st) in &revs {
        let name = d.revision.name(*id);
        let total = st.allow + st.deny;
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="r">{}</td><td class="r">{}</td><td class="r">{}</td><td class="r">{}</td><td class="r">{}</td></tr>"#,
            revision_cell(name),
            esc(&short_ts(&st.first_ts)),
            esc(&short_ts(&st.last_ts)),
            num_link(
                &format!("rev:{name}"),
                total,
                &[
                    ("rev", if name == "(none)" { "" } else { name }),
                    ("kind", "decision")
                ],
                &format!("decided by {name}")
            ),
            pct_of(st.allow, total),
            fmt_n(st.outcomes[Outcome::Forwarded.index()]),
            fmt_n(st.outcomes[Outcome::Denied.index()]),
            fmt_n(
                st.outcomes[Outcome::Error.index()]
                    + st.outcomes[Outcome::AuditUnavailable.index()]
            ),
        );
    }
    s.push_str("</table>");

    // Changes: the allowed share of each (route, jurisdiction) under one
    // revision against the revision that decided before it.
    let decided: Vec<u32> = revs
        .iter()
        .filter(|(id, _)| d.revision.name(*id) != "(none)")
        .map(|(id, _)| *id)
        .collect();
    s.push_str("<h3>How decisions changed across revisions</h3>");
    if decided.len() < 2 {
        s.push_str(r#"<p class="muted">One policy revision decided everything in this range: nothing to compare.</p>"#);
    } else {
        let mut changes = String::new();
        for pair in decided.windows(2) {
            let (old, new) = (pair[0], pair[1]);
            for (&(rev, route, j), &(allow, total)) in &agg.revision_cells {
                if rev != new {
                    continue;
                }
                let Some(&(old_allow, old_total)) = agg.revision_cells.get(&(old, route, j)) else {
                    continue;
                };
                let before = old_allow as f64 * 100.0 / old_total as f64;
                let after = allow as f64 * 100.0 / total as f64;
                if (after - before).abs() >= CHANGE_POINTS {
                    let _ = write!(
                        changes,
                        r#"<tr><td>{}</td><td>{}</td><td>{} → {}</td><td class="r">{:.1}% of {}</td><td class="r">{:.1}% of {}</td></tr>"#,
                        esc(d.route.name(route)),
                        esc(d.jurisdiction.name(j)),
                        revision_cell(d.revision.name(old)),
                        revision_cell(d.revision.name(new)),
                        before,
                        fmt_n(old_total),
                        after,
                        fmt_n(total)
                    );
                }
            }
        }
        if changes.is_empty() {
            let _ = write!(
                s,
                r#"<p>No route and jurisdiction changed its allowed share by {CHANGE_POINTS} points or more between consecutive revisions.</p>"#
            );
        } else {
            let _ = write!(
                s,
                r#"<p>Routes and jurisdictions whose share of allowed decisions moved by {CHANGE_POINTS} points or more from one revision to the next (<code>jurisgate policy replay</code> re-decides recorded inputs with a candidate policy).</p><table><tr><th>route</th><th>jurisdiction</th><th>revisions</th><th class="r">allowed before</th><th class="r">allowed after</th></tr>{changes}</table>"#
            );
        }
    }
    s.push_str("</section>");
    s
}

/// A burst: consecutive minutes with many refusals.
struct Burst {
    from: i64,
    to: i64,
    count: u64,
    peak: u64,
}

fn bursts(agg: &Aggregator, span: &Span) -> (Vec<Burst>, u64) {
    let total: u64 = agg
        .anomalies
        .refusal_minutes
        .values()
        .map(|n| u64::from(*n))
        .sum();
    let minutes = (span.length().whole_minutes().max(1)) as u64;
    let threshold = BURST_MIN.max(BURST_FACTOR * total / minutes);
    let mut hot: Vec<(i64, u64)> = agg
        .anomalies
        .refusal_minutes
        .iter()
        .map(|(m, n)| (*m, u64::from(*n)))
        .filter(|(_, n)| *n >= threshold)
        .collect();
    hot.sort_unstable();
    let mut out: Vec<Burst> = Vec::new();
    for (m, n) in hot {
        match out.last_mut() {
            Some(b) if b.to + 1 == m => {
                b.to = m;
                b.count += n;
                b.peak = b.peak.max(n);
            }
            _ => out.push(Burst {
                from: m,
                to: m,
                count: n,
                peak: n,
            }),
        }
    }
    (out, threshold)
}

fn minute_ts(minute: i64, end: bool) -> String {
    let t = OffsetDateTime::from_unix_timestamp(minute * 60).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let ts = format_ts(t);
    if end {
        // The last instant of the minute, in the records' own format, so
        // that the table's text comparison includes the whole minute.
        format!("{}59.999999Z", &ts[..17])
    } else {
        ts
    }
}

/// Anomalies worth a look.
pub(super) fn anomalies(agg: &Aggregator, opts: &ReportOptions, span: &Span) -> String {
    let a = &agg.anomalies;
    let d = &agg.dims;
    let (bursts, threshold) = bursts(agg, span);
    let unverified: u64 = a.unverified.iter().sum();
    let failovers: u64 = a.failovers.values().sum();
    let failed_forwards: u64 = a.failed_forwards.values().sum();
    let mut s = String::from(
        r#"<section id="anomalies"><h2>Anomalies worth a look</h2><div class="cards">"#,
    );
    let card = |s: &mut String, label: &str, value: String| {
        let _ = write!(
            s,
            r#"<div class="card">{value}<span class="l">{label}</span></div>"#
        );
    };
    card(
        &mut s,
        "bursts of refusals",
        num("anomaly:bursts", bursts.len() as u64),
    );
    card(
        &mut s,
        "unverified jurisdiction",
        num_link(
            "anomaly:unverified",
            unverified,
            &[("tag", "unverified")],
            "unverified subject jurisdiction",
        ),
    );
    card(
        &mut s,
        "failovers",
        num_link(
            "anomaly:failover",
            failovers,
            &[("tag", "failover")],
            "failovers",
        ),
    );
    card(
        &mut s,
        "failed forwards",
        num_link(
            "anomaly:forward_failed",
            failed_forwards,
            &[("tag", "forward_failed")],
            "forwards answered by the gateway, not the upstream",
        ),
    );
    card(
        &mut s,
        "audit gaps",
        num_link(
            "anomaly:gaps",
            a.gaps_total,
            &[("tag", "gap")],
            "records either side of an audit gap",
        ),
    );
    card(
        &mut s,
        "restarts without shutdown",
        num_link(
            "anomaly:unclean_restarts",
            a.unclean_total,
            &[("tag", "unclean_restart")],
            "startups without a shutdown before them",
        ),
    );
    card(
        &mut s,
        "policy errors",
        num_link(
            "anomaly:policy_errors",
            a.policy_errors,
            &[("tag", "policy_error")],
            "policy errors",
        ),
    );
    s.push_str("</div>");

    let _ = write!(
        s,
        r#"<h3>Bursts of refusals</h3><p class="muted">Minutes with at least {} refusals (denied, error or audit unavailable).</p>"#,
        fmt_n(threshold)
    );
    if bursts.is_empty() {
        s.push_str(r#"<p class="muted">None.</p>"#);
    } else {
        let mut biggest: Vec<&Burst> = bursts.iter().collect();
        biggest.sort_by_key(|b| std::cmp::Reverse(b.count));
        biggest.truncate(TABLE_ROWS);
        biggest.sort_by_key(|b| b.from);
        s.push_str(r#"<table><tr><th>from (UTC)</th><th>to</th><th class="r">refusals</th><th class="r">peak per minute</th></tr>"#);
        for b in biggest {
            let (from, to) = (minute_ts(b.from, false), minute_ts(b.to, true));
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td>{}</td><td class="r">{}</td><td class="r">{}</td></tr>"#,
                esc(&short_ts(&from)),
                esc(&short_ts(&to)),
                num_link(
                    &format!("burst:{from}"),
                    b.count,
                    &[("from", &from), ("to", &to), ("tag", "refused")],
                    &format!("refusals {} to {}", short_ts(&from), short_ts(&to))
                ),
                fmt_n(b.peak)
            );
        }
        s.push_str("</table>");
    }

    s.push_str("<h3>Unverified subject jurisdiction</h3>");
    if unverified == 0 {
        s.push_str(r#"<p class="muted">Every decision had a verified subject jurisdiction.</p>"#);
    } else {
        s.push_str(r#"<p>Decisions whose subject jurisdiction came from no verified source. Allowed ones deserve a look: only data classes open to any region should be.</p><table><tr><th>outcome</th><th class="r">decisions</th></tr>"#);
        for o in Outcome::ALL {
            let n = a.unverified[o.index()];
            if n > 0 {
                let _ = write!(
                    s,
                    r#"<tr><td>{}</td><td class="r">{}</td></tr>"#,
                    esc(o.label()),
                    num_link(
                        &format!("unverified:{}", o.key()),
                        n,
                        &[("tag", "unverified"), ("o", o.key())],
                        &format!("unverified, {}", o.label())
                    )
                );
            }
        }
        s.push_str("</table>");
    }

    s.push_str("<h3>Failovers</h3>");
    if a.failovers.is_empty() {
        s.push_str(r#"<p class="muted">Every forwarded request went to its route's first approved pool.</p>"#);
    } else {
        let mut sorted: Vec<_> = a.failovers.iter().collect();
        sorted.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
        s.push_str(r#"<table><tr><th>route</th><th>first approved region</th><th>served from</th><th class="r">requests</th></tr>"#);
        for ((route, from, to), n) in sorted.iter().take(TABLE_ROWS) {
            let (route, from, to) = (
                d.route.name(*route),
                d.region.name(*from),
                d.region.name(*to),
            );
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="r">{}</td></tr>"#,
                esc(route),
                esc(from),
                esc(to),
                num_link(
                    &format!("failover:{route}|{from}|{to}"),
                    **n,
                    &[("tag", "failover"), ("route", route), ("region", to)],
                    &format!("{route}: {from} failed over to {to}")
                )
            );
        }
        s.push_str("</table>");
    }

    s.push_str("<h3>Failed forwards</h3>");
    if a.failed_forwards.is_empty() {
        s.push_str(r#"<p class="muted">Every forwarded request was answered by its upstream.</p>"#);
    } else {
        s.push_str(r#"<p>Requests allowed, recorded and forwarded to an approved region, then answered by the gateway itself: the upstream could not be reached, failed or timed out (502, 504), the body crossed the size limit while streaming (413), the response could not meet its obligations (502), or the client left before the answer (499). Each <code>forward_failed</code> record follows its decision record with the same request id (<code>audit query --request-id</code>); the request may have reached its region in part or in full, so its decision still counts as forwarded above.</p><table><tr><th>region</th><th class="r">status</th><th>reason</th><th class="r">requests</th></tr>"#);
        let mut sorted: Vec<_> = a.failed_forwards.iter().collect();
        sorted.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
        for ((region, status, reason), n) in sorted.iter().take(TABLE_ROWS) {
            let (region, reason) = (d.region.name(*region), d.reason.name(*reason));
            let status = status.to_string();
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td class="r">{}</td><td>{}</td><td class="r">{}</td></tr>"#,
                esc(region),
                esc(&status),
                esc(reason),
                num_link(
                    &format!("forward_failed:{region}|{status}|{reason}"),
                    **n,
                    &[
                        ("tag", "forward_failed"),
                        ("region", region),
                        ("status", &status),
                        ("rg", reason)
                    ],
                    &format!("{region}: {status} {reason}")
                )
            );
        }
        s.push_str("</table>");
    }

    let _ = write!(
        s,
        r#"<h3>Audit gaps</h3><p class="muted">More than {} without a record while the gateway was up.</p>"#,
        duration(opts.gap_threshold.whole_seconds())
    );
    if a.gaps.is_empty() {
        s.push_str(r#"<p class="muted">None.</p>"#);
    } else {
        let mut gaps: Vec<_> = a.gaps.iter().collect();
        gaps.sort_by_key(|g| std::cmp::Reverse(g.seconds));
        gaps.truncate(TABLE_ROWS);
        gaps.sort_by(|x, y| (x.log, &x.from).cmp(&(y.log, &y.from)));
        s.push_str(r#"<table><tr><th class="r">log</th><th>last record before (UTC)</th><th>next record</th><th class="r">silence</th><th>records either side</th></tr>"#);
        for g in gaps {
            let _ = write!(
                s,
                r##"<tr><td class="r">{}</td><td>{}</td><td>{}</td><td class="r">{}</td><td><a href="{}">show</a></td></tr>"##,
                g.log + 1,
                esc(&short_ts(&g.from)),
                esc(&short_ts(&g.to)),
                esc(&duration(g.seconds)),
                esc(&crate::render::html::rows_href(
                    &[("from", &g.from), ("to", &g.to)],
                    2,
                    "either side of an audit gap"
                ))
            );
        }
        s.push_str("</table>");
        if a.gaps_total > a.gaps.len() as u64 {
            let _ = write!(
                s,
                r#"<p class="muted">The {} longest of {} are listed.</p>"#,
                TABLE_ROWS,
                fmt_n(a.gaps_total)
            );
        }
    }

    if !a.unclean_restarts.is_empty() || !a.quarantined.is_empty() {
        s.push_str(r#"<h3>Restarts without a shutdown record, torn lines</h3><table><tr><th class="r">log</th><th>time (UTC)</th><th class="r">seq</th><th>what</th></tr>"#);
        for l in &a.unclean_restarts {
            let _ = write!(
                s,
                r#"<tr><td class="r">{}</td><td>{}</td><td class="r">{}</td><td>gateway started after records with no shutdown between (a crash or a kill)</td></tr>"#,
                l.log + 1,
                esc(&short_ts(&l.ts)),
                l.seq
            );
        }
        for l in &a.quarantined {
            let _ = write!(
                s,
                r#"<tr><td class="r">{}</td><td>{}</td><td class="r">{}</td><td>torn last line quarantined as <code>{}</code></td></tr>"#,
                l.log + 1,
                esc(&short_ts(&l.ts)),
                l.seq,
                esc(&l.what)
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>");
    s
}
