//! Filtering records for `audit query`: time range, jurisdiction, decision,
//! route, region, requester; and merging the logs of several replicas by
//! time, each record labelled with its log's origin. Formatting the output
//! is the CLI's job.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::{AuditError, Event, Record, read_records};

/// Which records to keep. Empty filter: every record. Any of the
/// decision-specific fields set (jurisdiction, decision, route, requester):
/// only `decision` records that match all. `region` and `request_id` also
/// match the `forward_failed` records that carry them, so a region's (or a
/// request's) failed forwards are listed with its decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryFilter {
    /// Keep records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Keep records strictly before this time.
    pub until: Option<OffsetDateTime>,
    /// Subject jurisdiction (case-insensitive), e.g. `US`.
    pub jurisdiction: Option<String>,
    /// `Some(true)` allowed only, `Some(false)` denied only.
    pub allow: Option<bool>,
    /// Matched route name.
    pub route: Option<String>,
    /// Region the request was forwarded to (decisions and `forward_failed`).
    pub region: Option<String>,
    /// Requester id.
    pub requester: Option<String>,
    /// One request's records (its decision and any `forward_failed`).
    pub request_id: Option<String>,
}

impl QueryFilter {
    /// Whether `record` passes the filter.
    #[must_use]
    pub fn matches(&self, record: &Record) -> bool {
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = record.time() else { return false };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        let decision_only = self.jurisdiction.is_some()
            || self.allow.is_some()
            || self.route.is_some()
            || self.requester.is_some();
        if !decision_only && self.region.is_none() && self.request_id.is_none() {
            return true;
        }
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        match &record.event {
            Event::Decision(d) => {
                self.jurisdiction
                    .as_deref()
                    .is_none_or(|j| d.subject.jurisdiction.eq_ignore_ascii_case(j))
                    && self.allow.is_none_or(|a| d.decision.allow == a)
                    && same(&self.route, d.route.as_deref())
                    && same(&self.region, d.region.as_deref())
                    && same(&self.requester, d.requester.id.as_deref())
                    && same(&self.request_id, Some(&d.request_id))
            }
            Event::ForwardFailed(f) => {
                !decision_only
                    && same(&self.region, Some(&f.region))
                    && same(&self.request_id, Some(&f.request_id))
            }
            _ => false,
        }
    }
}

/// The records of the log in `dir` that pass `filter`, in seq order.
///
/// # Errors
/// As [`read_records`]; read errors are passed through the iterator.
pub fn query(
    dir: &Path,
    filter: QueryFilter,
) -> Result<impl Iterator<Item = Result<Record, AuditError>>, AuditError> {
    Ok(read_records(dir)?.filter(move |r| r.as_ref().map_or(true, |r| filter.matches(r))))
}

/// A record and the replica it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled {
    /// The log's origin (see [`log_origin`]), or its folder when it has no
    /// checkpoint yet.
    pub origin: String,
    /// The record.
    pub record: Record,
}

/// The origin line of the log in `dir`, read from its first checkpoint
/// note without checking the signature (that is [`crate::verify`]'s job);
/// `None` before the first checkpoint.
///
/// # Errors
/// [`AuditError::Io`] when the checkpoints folder or the note cannot be read.
pub fn log_origin(dir: &Path) -> Result<Option<String>, AuditError> {
    let Some((_, path)) = crate::layout::list_checkpoints(dir)?.into_iter().next() else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| AuditError::io(&path, e))?;
    Ok(text.lines().next().map(str::to_string))
}

/// The records of the logs in `dirs` (one per replica) that pass
/// `filter`, merged by time; records of the same instant keep the order of
/// `dirs`, and each log keeps its own seq order.
///
/// # Errors
/// As [`read_records`] for each folder; read errors are passed through the
/// iterator and end that folder's records.
pub fn query_many(
    dirs: &[PathBuf],
    filter: &QueryFilter,
) -> Result<impl Iterator<Item = Result<Labeled, AuditError>>, AuditError> {
    let mut sources = Vec::new();
    for dir in dirs {
        let origin = log_origin(dir)?.unwrap_or_else(|| dir.display().to_string());
        let records: Box<dyn Iterator<Item = Result<Record, AuditError>>> =
            Box::new(query(dir, filter.clone())?);
        sources.push((origin, records.peekable()));
    }
    Ok(std::iter::from_fn(move || {
        // The source whose next record is earliest; an error comes out first.
        let mut best: Option<(usize, Option<OffsetDateTime>)> = None;
        for (i, (_, records)) in sources.iter_mut().enumerate() {
            let Some(head) = records.peek() else { continue };
            let t = match head {
                Err(_) => {
                    best = Some((i, None));
                    break;
                }
                Ok(r) => r.time(),
            };
            if best.is_none_or(|(_, b)| t < b) {
                best = Some((i, t));
            }
        }
        let (i, _) = best?;
        let (origin, records) = &mut sources[i];
        Some(records.next()?.map(|record| Labeled {
            origin: origin.clone(),
            record,
        }))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_log(dir: &Path, origin: &str, times: &[&str]) {
        std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
        std::fs::write(
            dir.join("checkpoints/000000000001.ckpt"),
            format!("{origin}\n1\nAAAA\n\n— sig\n"),
        )
        .unwrap();
        let lines: String = times
            .iter()
            .enumerate()
            .map(|(seq, ts)| {
                format!(
                    "{{\"v\":1,\"seq\":{seq},\"ts\":\"{ts}\",\"kind\":\"shutdown\",\"reason\":\"{origin}\"}}\n"
                )
            })
            .collect();
        std::fs::write(dir.join("segment-000001.jsonl"), lines).unwrap();
    }

    #[test]
    fn replicas_merge_by_time_with_their_origin() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            tmp.path().join("a"),
            tmp.path().join("b"),
            tmp.path().join("c"),
        );
        write_log(
            &a,
            "gw/replica-1",
            &["2026-01-01T00:00:01Z", "2026-01-01T00:00:04Z"],
        );
        write_log(
            &b,
            "gw/replica-2",
            &["2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"],
        );
        std::fs::create_dir_all(&c).unwrap();
        let merged: Vec<(String, u64)> = query_many(&[a, b, c.clone()], &QueryFilter::default())
            .unwrap()
            .map(|l| {
                let l = l.unwrap();
                (l.origin, l.record.seq)
            })
            .collect();
        let want = [
            ("gw/replica-1", 0),
            ("gw/replica-2", 0),
            ("gw/replica-2", 1),
            ("gw/replica-1", 1),
        ];
        assert_eq!(merged, want.map(|(o, s)| (o.to_string(), s)));
        assert_eq!(log_origin(&c).unwrap(), None);
    }
}
