//! Filtering records for `audit query`: time range, jurisdiction, decision,
//! route, region, requester. Formatting the output is the CLI's job.

use std::path::Path;

use time::OffsetDateTime;

use crate::{AuditError, Event, Record, read_records};

/// Which records to keep. Empty filter: every record. Any of the
/// decision-specific fields set: only `decision` records that match all.
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
    /// Region the request was forwarded to.
    pub region: Option<String>,
    /// Requester id.
    pub requester: Option<String>,
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
            || self.region.is_some()
            || self.requester.is_some();
        if !decision_only {
            return true;
        }
        let Event::Decision(d) = &record.event else {
            return false;
        };
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        self.jurisdiction
            .as_deref()
            .is_none_or(|j| d.subject.jurisdiction.eq_ignore_ascii_case(j))
            && self.allow.is_none_or(|a| d.decision.allow == a)
            && same(&self.route, d.route.as_deref())
            && same(&self.region, d.region.as_deref())
            && same(&self.requester, d.requester.id.as_deref())
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
