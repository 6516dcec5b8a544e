//! The time span a report covers and the width of its time buckets, found
//! before streaming from only the first and last line of each log, so the
//! buckets (and the samples kept per bucket) are fixed from the first
//! record on.
//!
//! It does not check the lines it peeks at; verification does that.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use jurisgate_audit::layout::list_segments;
use jurisgate_audit::parse_ts;
use time::{Duration, OffsetDateTime};

/// At most this many buckets on the time axis.
const MAX_BUCKETS: i64 = 200;
/// Bucket widths to choose from, in seconds, with their names.
const WIDTHS: [(i64, &str); 8] = [
    (60, "minute"),
    (5 * 60, "5 minutes"),
    (15 * 60, "15 minutes"),
    (3600, "hour"),
    (6 * 3600, "6 hours"),
    (86_400, "day"),
    (7 * 86_400, "week"),
    (30 * 86_400, "30 days"),
];
/// How far back from the end of a segment to look for its last line.
const TAIL_BYTES: u64 = 1 << 20;

/// The reported span and its bucketing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    /// First record time (after `since`), if any.
    pub(crate) start: Option<OffsetDateTime>,
    /// Last record time (before `until`), if any.
    pub(crate) end: Option<OffsetDateTime>,
    /// Bucket width in seconds.
    pub(crate) width: i64,
    /// Bucket width, in words.
    pub(crate) width_name: &'static str,
    /// Unix time of bucket 0's start.
    origin: i64,
}

impl Span {
    /// The span of the logs in `dirs`, clipped to `since`/`until`.
    pub(crate) fn of_logs(
        dirs: &[PathBuf],
        since: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
    ) -> Self {
        let mut start: Option<OffsetDateTime> = None;
        let mut end: Option<OffsetDateTime> = None;
        for dir in dirs {
            if let Some((first, last)) = log_span(dir) {
                start = Some(start.map_or(first, |s| s.min(first)));
                end = Some(end.map_or(last, |e| e.max(last)));
            }
        }
        if let Some(s) = since {
            start = start.map(|t| t.max(s)).or(Some(s));
        }
        if let Some(u) = until {
            end = end.map(|t| t.min(u)).or(Some(u));
        }
        Self::new(start, end)
    }

    fn new(start: Option<OffsetDateTime>, end: Option<OffsetDateTime>) -> Self {
        let secs = match (start, end) {
            (Some(s), Some(e)) => (e - s).whole_seconds().max(0),
            _ => 0,
        };
        let (width, width_name) = WIDTHS
            .iter()
            .copied()
            .find(|(w, _)| secs / w < MAX_BUCKETS)
            .unwrap_or(WIDTHS[WIDTHS.len() - 1]);
        let origin = start.map_or(0, |s| s.unix_timestamp().div_euclid(width) * width);
        Self {
            start,
            end,
            width,
            width_name,
            origin,
        }
    }

    /// The bucket holding `t`.
    pub(crate) fn bucket(&self, t: OffsetDateTime) -> i64 {
        (t.unix_timestamp() - self.origin).div_euclid(self.width)
    }

    /// When bucket `b` starts.
    pub(crate) fn bucket_start(&self, b: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.origin + b * self.width)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The span's length.
    pub(crate) fn length(&self) -> Duration {
        match (self.start, self.end) {
            (Some(s), Some(e)) if e > s => e - s,
            _ => Duration::ZERO,
        }
    }
}

/// The times of the first and the last complete line of the log in `dir`.
fn log_span(dir: &Path) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let segments = list_segments(dir).ok()?;
    let first = segments.iter().find_map(|(_, p)| first_ts(p))?;
    let last = segments.iter().rev().find_map(|(_, p)| last_ts(p))?;
    Some((first, last))
}

#[derive(serde::Deserialize)]
struct Ts {
    ts: String,
}

fn ts_of(line: &[u8]) -> Option<OffsetDateTime> {
    parse_ts(&serde_json::from_slice::<Ts>(line).ok()?.ts)
}

fn first_ts(path: &Path) -> Option<OffsetDateTime> {
    let mut line = Vec::new();
    BufReader::new(File::open(path).ok()?)
        .take(TAIL_BYTES)
        .read_until(b'\n', &mut line)
        .ok()?;
    line.strip_suffix(b"\n").and_then(ts_of)
}

fn last_ts(path: &Path) -> Option<OffsetDateTime> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let from = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    // Only complete lines count: a torn last line has no newline.
    let end = tail.iter().rposition(|&b| b == b'\n')?;
    let body = &tail[..end];
    let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if start == 0 && from > 0 {
        return None;
    }
    ts_of(&body[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn buckets_are_chosen_by_span_and_stay_under_the_cap() {
        let s = datetime!(2026-11-01 00:10:30 UTC);
        let cases = [
            (Duration::seconds(1), "minute"),
            (Duration::hours(2), "minute"),
            (Duration::hours(12), "5 minutes"),
            (Duration::days(7), "hour"),
            (Duration::days(31), "6 hours"),
            (Duration::days(150), "day"),
        ];
        for (len, name) in cases {
            let span = Span::new(Some(s), Some(s + len));
            assert_eq!(span.width_name, name, "span {len}");
            assert!(span.bucket(s + len) < MAX_BUCKETS);
            assert_eq!(span.bucket(s), 0);
            assert!(span.bucket_start(0) <= s);
        }
    }

    #[test]
    fn the_first_and_last_complete_lines_give_the_span() {
        let dir = tempfile::tempdir().unwrap();
        let seg = dir.path().join("segment-000001.jsonl");
        std::fs::write(
            &seg,
            "{\"v\":1,\"seq\":0,\"ts\":\"2026-11-27T18:00:00.000000Z\"}\n\
             {\"v\":1,\"seq\":1,\"ts\":\"2026-11-27T19:30:00.000000Z\"}\n\
             {\"v\":1,\"seq\":2,\"ts\":\"2026-11-27T23:",
        )
        .unwrap();
        let (first, last) = log_span(dir.path()).unwrap();
        assert_eq!(first, datetime!(2026-11-27 18:00 UTC));
        assert_eq!(last, datetime!(2026-11-27 19:30 UTC));
        assert_eq!(log_span(&dir.path().join("missing")), None);
    }
}
