//! The HTML page: the verdict first, then verification, overview, flows,
//! time, denials, cross-border access, policy revisions, anomalies and the
//! rows table, with the stylesheet, the table script and the rows inlined.
//! Every count a reader (or a test) may check sits in an element with a
//! stable `data-k` key.

mod analysis;
mod charts;
mod html;
mod rows;

use std::fmt::Write as _;

use jurisgate_audit::format_ts;
use time::OffsetDateTime;

use crate::aggregate::Aggregator;
use crate::facts::Outcome;
use crate::render::html::{esc, fmt_n, num, num_link, short_hash, short_ts};
use crate::span::Span;
use crate::{LogCheck, ReportOptions};

const CSS: &str = include_str!("../assets/report.css");
const JS: &str = include_str!("../assets/report.js");

/// The whole report.
pub(crate) fn page(
    logs: &[LogCheck],
    agg: &Aggregator,
    opts: &ReportOptions,
    span: &Span,
) -> String {
    let verified = logs.iter().all(LogCheck::verified);
    let mut s = String::with_capacity(256 * 1024);
    let title = if verified {
        "jurisgate audit report"
    } else {
        "VERIFICATION FAILED — jurisgate audit report"
    };
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><style>{CSS}</style></head><body>"#
    );
    s.push_str(&verdict(logs, agg));
    s.push_str(charts::defs());
    let _ = write!(
        s,
        r#"<header><h1>jurisgate audit report</h1><p class="muted">{} · generated {} · {}</p></header>"#,
        logs.iter()
            .map(|l| format!("<code>{}</code>", esc(&l.dir.display().to_string())))
            .collect::<Vec<_>>()
            .join(", "),
        esc(&short_ts(&format_ts(OffsetDateTime::now_utc()))),
        esc(&range_text(opts, span)),
    );
    s.push_str(
        r##"<nav><a href="#verification">Verification</a><a href="#overview">Overview</a><a href="#flows">Flows</a><a href="#time">Over time</a><a href="#denials">Denials</a><a href="#cross-border">Cross-border</a><a href="#revisions">Policy revisions</a><a href="#anomalies">Anomalies</a><a href="#records">Records</a></nav>"##,
    );
    s.push_str(&verification(logs));
    s.push_str(&overview(agg, verified));
    s.push_str(&analysis::flows(agg));
    s.push_str(&analysis::over_time(agg, span));
    s.push_str(&analysis::denials(agg));
    s.push_str(&analysis::cross_border(agg));
    s.push_str(&analysis::revisions(agg));
    s.push_str(&analysis::anomalies(agg, opts, span));
    s.push_str(&records(agg, logs.len()));
    s.push_str(&footer(opts));
    let _ = write!(
        s,
        r#"<script type="application/json" id="rows-data">{}</script><script>{JS}</script></body></html>"#,
        rows::rows_json(&agg.sampler.rows(), logs.len())
    );
    s
}

fn range_text(opts: &ReportOptions, span: &Span) -> String {
    let ends = match (span.start, span.end) {
        (Some(a), Some(b)) => format!(
            "records from {} to {} UTC",
            short_ts(&format_ts(a)),
            short_ts(&format_ts(b))
        ),
        _ => "no records".into(),
    };
    let filter = match (opts.since, opts.until) {
        (None, None) => String::new(),
        (a, b) => format!(
            " (limited to {} – {})",
            a.map_or("the start".into(), |t| short_ts(&format_ts(t))),
            b.map_or("the end".into(), |t| short_ts(&format_ts(t)))
        ),
    };
    ends + &filter
}

/// The first line of the report: did the logs verify, and if not, where not.
fn verdict(logs: &[LogCheck], agg: &Aggregator) -> String {
    let failed: Vec<&LogCheck> = logs.iter().filter(|l| !l.verified()).collect();
    if let Some(first) = failed.first() {
        let err = first
            .result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        let more = match failed.len() {
            1 => String::new(),
            n => format!(" (and {} more logs failed)", n - 1),
        };
        return format!(
            r#"<p id="verdict" class="verdict fail" data-verified="false">Verification FAILED: {}: {}{}. The figures below come from records that could not be verified.</p>"#,
            esc(&first.dir.display().to_string()),
            esc(&err),
            esc(&more)
        );
    }
    let records: u64 = logs
        .iter()
        .filter_map(|l| l.result.as_ref().ok())
        .map(|s| s.records)
        .sum();
    let unsigned: u64 = logs
        .iter()
        .filter_map(|l| l.result.as_ref().ok())
        .map(|s| s.unsigned_tail)
        .sum();
    let tail = if unsigned == 0 {
        "every record is covered by a signed checkpoint".to_string()
    } else {
        format!(
            "but {} records after the latest checkpoint are not signed yet",
            fmt_n(unsigned)
        )
    };
    let stopped = if agg.read_errors.is_empty() {
        ""
    } else {
        " (reading for the figures stopped early, see below)"
    };
    format!(
        r#"<p id="verdict" class="verdict ok" data-verified="true">Verification passed: {} {}, {} records; {tail}{stopped}.</p>"#,
        logs.len(),
        if logs.len() == 1 { "log" } else { "logs" },
        fmt_n(records),
    )
}

fn verification(logs: &[LogCheck]) -> String {
    let mut s = String::from(
        r#"<section id="verification"><h2>Verification</h2><p>Each log was checked with its verifier key, offline: every record hashed into the RFC 9162 tree, every checkpoint signature checked, each checkpoint consistent with the records before it, every quarantined line accounted for.</p><table><tr><th>log</th><th>origin</th><th>result</th><th class="r">records</th><th class="r">segments</th><th class="r">checkpoints</th><th>first record</th><th>last record</th><th class="r">unsigned tail</th></tr>"#,
    );
    for (i, l) in logs.iter().enumerate() {
        let dir = esc(&l.dir.display().to_string());
        match &l.result {
            Ok(sum) => {
                let _ = write!(
                    s,
                    r#"<tr data-log="{i}"><td>{}. <code>{dir}</code></td><td>{}</td><td>verified</td><td class="r">{}</td><td class="r">{}</td><td class="r">{}</td><td>{}</td><td>{}</td><td class="r">{}</td></tr>"#,
                    i + 1,
                    esc(sum.origin.as_deref().unwrap_or("-")),
                    num(&format!("verified-records:{i}"), sum.records),
                    sum.segments,
                    fmt_n(sum.checkpoints as u64),
                    esc(&sum.first_ts.as_deref().map(short_ts).unwrap_or_default()),
                    esc(&sum.last_ts.as_deref().map(short_ts).unwrap_or_default()),
                    fmt_n(sum.unsigned_tail)
                );
            }
            Err(e) => {
                let _ = write!(
                    s,
                    r#"<tr data-log="{i}" class="failed"><td>{}. <code>{dir}</code></td><td>-</td><td colspan="7"><strong>FAILED</strong> at {}</td></tr>"#,
                    i + 1,
                    esc(&e.to_string())
                );
            }
        }
    }
    s.push_str("</table>");
    for l in logs.iter() {
        let Ok(sum) = &l.result else { continue };
        let _ = write!(
            s,
            r#"<h3>Signed checkpoints of <code>{}</code></h3>"#,
            esc(&l.dir.display().to_string())
        );
        if l.checkpoints.is_empty() {
            s.push_str(r#"<p class="warn">No signed checkpoint: nothing in this log is signed; it was checked for shape and sequence only.</p>"#);
            continue;
        }
        let _ = write!(
            s,
            r#"<p>{} checkpoints, every signature checked; the latest covers records 0 to {}. Listed: the first and the latest.</p><table><tr><th>note</th><th class="r">tree size</th><th>root hash (base64)</th></tr>"#,
            fmt_n(sum.checkpoints as u64),
            fmt_n(sum.latest_checkpoint.unwrap_or(0).saturating_sub(1)),
        );
        let omitted = sum.checkpoints.saturating_sub(l.checkpoints.len());
        for (i, c) in l.checkpoints.iter().enumerate() {
            if i == crate::verification::FIRST_SHOWN && omitted > 0 {
                let _ = write!(
                    s,
                    r#"<tr><td colspan="3" class="muted">… {} more, each checked …</td></tr>"#,
                    fmt_n(omitted as u64)
                );
            }
            let _ = write!(
                s,
                r#"<tr><td><code>{}</code></td><td class="r">{}</td><td><code class="root">{}</code></td></tr>"#,
                esc(&c.file),
                fmt_n(c.size),
                esc(&c.root)
            );
        }
        s.push_str("</table>");
        if !sum.quarantined.is_empty() {
            let _ = write!(
                s,
                r#"<p class="warn">Torn lines quarantined at startup (each named by a startup record): {}</p>"#,
                esc(&sum.quarantined.join(", "))
            );
        }
    }
    s.push_str("</section>");
    s
}

fn overview(agg: &Aggregator, verified: bool) -> String {
    let t = &agg.totals;
    let mut s = String::from(r#"<section id="overview"><h2>Overview</h2>"#);
    if !verified {
        s.push_str(r#"<p class="warn">These figures come from logs that failed verification: records may have been altered.</p>"#);
    }
    for (dir, e) in &agg.read_errors {
        let _ = write!(
            s,
            r#"<p class="warn">Reading <code>{}</code> stopped at: {}. The figures cover the records before it.</p>"#,
            esc(&dir.display().to_string()),
            esc(e)
        );
    }
    s.push_str(r#"<div class="cards">"#);
    let card = |s: &mut String, label: &str, value: String| {
        let _ = write!(
            s,
            r#"<div class="card">{value}<span class="l">{label}</span></div>"#
        );
    };
    card(&mut s, "records", num("records", t.records));
    card(
        &mut s,
        "decisions",
        num_link(
            "decisions",
            t.decisions,
            &[("kind", "decision")],
            "every decision",
        ),
    );
    card(
        &mut s,
        "allowed by policy",
        num_link(
            "allow",
            t.policy_allow,
            &[("allow", "true")],
            "allowed by the policy",
        ),
    );
    card(
        &mut s,
        "denied by policy or gateway",
        num_link("deny", t.policy_deny, &[("allow", "false")], "denied"),
    );
    for o in Outcome::ALL {
        card(
            &mut s,
            o.label(),
            num_link(
                &format!("outcome:{}", o.key()),
                t.outcomes[o.index()],
                &[("o", o.key())],
                o.label(),
            ),
        );
    }
    s.push_str("</div>");
    s.push_str(r#"<p class="muted">"Allowed by policy" counts what the policy allowed (as <code>audit query --decision allow</code> does); some of those the gateway still could not forward (no approved region healthy), which the outcome cards count as errors.</p>"#);
    s.push_str(r#"<div class="grid">"#);
    s.push_str(&analysis::count_table(
        "By subject jurisdiction",
        "jurisdiction",
        "j",
        &agg.by_jurisdiction,
        &agg.dims.jurisdiction,
    ));
    s.push_str(&analysis::count_table(
        "By route",
        "route",
        "route",
        &agg.by_route,
        &agg.dims.route,
    ));
    s.push_str(&analysis::count_table(
        "By region forwarded to",
        "region",
        "region",
        &agg.by_region,
        &agg.dims.region,
    ));
    s.push_str(
        r#"<div><h3>By record kind</h3><table><tr><th>kind</th><th class="r">records</th></tr>"#,
    );
    for (kind, n) in &t.kinds {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="r">{}</td></tr>"#,
            esc(kind),
            num_link(&format!("kind:{kind}"), *n, &[("kind", kind)], kind)
        );
    }
    s.push_str("</table></div></div></section>");
    s
}

fn records(agg: &Aggregator, logs: usize) -> String {
    let log_col = if logs > 1 {
        r#"<th class="r">log</th>"#
    } else {
        ""
    };
    let kept = agg.sampler.len() as u64;
    let sampled = if kept >= agg.totals.records {
        format!(
            "All {} records in range are embedded.",
            fmt_n(agg.totals.records)
        )
    } else {
        format!(
            "{} of the {} records in range are embedded, sampled so that every chart element links to records of its own (see the note at the end); counts in the charts are exact.",
            fmt_n(kept),
            fmt_n(agg.totals.records)
        )
    };
    format!(
        r##"<section id="records"><h2>Records</h2><p>{sampled} Follow a link in any chart or table to see the records behind it, or filter here.</p>
<div class="controls"><select id="rows-sel-o" aria-label="outcome"><option value="">any outcome or kind</option></select><select id="rows-sel-j" aria-label="jurisdiction"><option value="">any jurisdiction</option></select><select id="rows-sel-route" aria-label="route"><option value="">any route</option></select><select id="rows-sel-region" aria-label="region"><option value="">any region</option></select><input id="rows-q" type="search" placeholder="search any field"><button id="rows-clear" type="button">clear filter</button></div>
<p class="chips" id="rows-filter"></p><p id="rows-status"><noscript>The records table needs JavaScript; everything else in this report does not.</noscript></p>
<table id="rows" data-rendered="0"><thead><tr>{log_col}<th class="r">seq</th><th>time (UTC)</th><th>outcome</th><th>jurisdiction</th><th>requester</th><th>request</th><th>route / class</th><th>region</th><th>status</th><th>reason</th><th>obligations</th><th>flags</th></tr></thead><tbody></tbody></table>
<div class="pager"><button id="rows-first" type="button">first</button> <button id="rows-prev" type="button">previous</button> <button id="rows-next" type="button">next</button> <button id="rows-last" type="button">last</button></div></section>"##
    )
}

fn footer(opts: &ReportOptions) -> String {
    format!(
        r#"<footer><p><strong>How to read this report.</strong> Outcomes: <em>allowed, forwarded</em> — the policy allowed it and the gateway sent it to the region shown; <em>denied</em> — the policy denied it, or the gateway refused the request itself (bad request, no route); <em>error</em> — not forwarded because something failed (policy_error, no approved region healthy, upstream failure); <em>audit unavailable</em> — refused because its record could not be made durable (such requests usually leave no record: look for audit gaps).</p>
<p><strong>Cross-border access</strong>: the requester's recorded location is outside the subject's jurisdiction (a country of the EU counts as inside EU). <strong>Failover</strong>: the request went to a pool other than the route's first pool in an approved region. <strong>Audit gap</strong>: more than {} without a record while the gateway was up (no shutdown record before the silence); quiet hours also show here, so read gaps beside the traffic chart. <strong>Burst of refusals</strong>: consecutive minutes each with at least 10 refusals and at least 10 times the average refusals per minute of the whole range.</p>
<p><strong>Sampling.</strong> Counts are exact: every record in range was counted while streaming. The records table embeds a sample: a reservoir (algorithm R, fixed seed, so the same log gives the same report) of up to 8 records for each time bucket and outcome, 20 for each flow, refusal reason, route with refusals and policy revision, 200 for cross-border access, 300 for each anomaly kind, 100 for each non-decision record kind, plus 2,000 records drawn uniformly from the whole range. A log with fewer records is embedded whole.</p>
<p>Generated by <code>jurisgate audit report</code>. Colours follow the Okabe–Ito palette; refusals also carry a pattern.</p></footer>"#,
        html::duration(opts.gap_threshold.whole_seconds())
    )
}

/// A revision hash for tables, or `(none)`.
pub(crate) fn revision_cell(rev: &str) -> String {
    if rev.starts_with("sha256:") {
        short_hash(rev)
    } else {
        esc(rev)
    }
}
