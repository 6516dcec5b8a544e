//! The auditor's report: one self-contained HTML file that says first
//! whether the audit log(s) verified (and on which signed checkpoints that
//! rests), then draws what crossed which border — flows from subject
//! jurisdiction through data class to destination region, decisions over
//! time, denials by reason and route, cross-border access and its
//! obligations, policy revisions, anomalies — over a paged, filterable
//! sample of the records behind every chart.
//!
//! Records are aggregated while they stream past, so memory does not grow
//! with the log: counters are exact, and the rows table holds a bounded
//! sample (a reservoir per chart element, one for every anomaly kind and a
//! uniform one; see [`sample`](crate::sample)). Verification runs on a
//! second thread at the same time. The charts are hand-made SVG and the
//! table a small inline script: the file needs no network to be read.
//!
//! This crate reads logs through `jurisgate-audit`'s public API only and
//! writes nothing but the report; it does not know about HTTP or policies.

mod aggregate;
mod dims;
mod facts;
mod render;
mod sample;
mod span;
mod verification;

use std::io::Write;
use std::path::PathBuf;

use jurisgate_audit::tlog::NoteVerifier;
use time::OffsetDateTime;

pub use verification::{CheckpointInfo, LogCheck};

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// Only records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only records strictly before this time.
    pub until: Option<OffsetDateTime>,
    /// A stretch without records longer than this, while the gateway was
    /// up (no shutdown record before it), is listed as an audit gap.
    pub gap_threshold: time::Duration,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            gap_threshold: time::Duration::minutes(15),
        }
    }
}

/// What [`write_report`] found and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    /// Whether every log verified.
    pub verified: bool,
    /// One entry a log, in the order given.
    pub logs: Vec<LogCheck>,
    /// Records in the time range (every kind).
    pub records: u64,
    /// Records embedded in the rows table.
    pub rows: usize,
    /// Size of the report written.
    pub bytes: u64,
}

/// Why no report could be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    Write(#[source] std::io::Error),
}

/// Verifies each audit log in `logs` (a folder and its verifier key),
/// aggregates their records (between `opts.since` and `opts.until`) and
/// writes the HTML report to `out`.
///
/// A log that fails verification still gets a report: its first line says
/// verification failed and where, and the figures are marked as coming from
/// an unverified log. Check [`ReportOutcome::verified`].
///
/// # Errors
/// [`ReportError::Write`] when `out` fails; problems with the logs are
/// reported in the file, not as errors.
pub fn write_report<W: Write>(
    logs: &[(PathBuf, NoteVerifier)],
    opts: &ReportOptions,
    mut out: W,
) -> Result<ReportOutcome, ReportError> {
    let dirs: Vec<PathBuf> = logs.iter().map(|(d, _)| d.clone()).collect();
    let span = span::Span::of_logs(&dirs, opts.since, opts.until);
    let (logs, agg) = std::thread::scope(|s| {
        // Verification and aggregation each read every line; on two cores
        // they run side by side instead of one after the other.
        let verifier = s.spawn(|| verification::check_logs(logs));
        let agg = aggregate::Aggregator::run(&dirs, opts, &span);
        let logs = verifier
            .join()
            .unwrap_or_else(|_| verification::panicked(&dirs));
        (logs, agg)
    });
    let verified = logs.iter().all(LogCheck::verified);
    let html = render::page(&logs, &agg, opts, &span);
    out.write_all(html.as_bytes()).map_err(ReportError::Write)?;
    out.flush().map_err(ReportError::Write)?;
    Ok(ReportOutcome {
        verified,
        records: agg.totals.records,
        rows: agg.sampler.len(),
        bytes: html.len() as u64,
        logs,
    })
}
