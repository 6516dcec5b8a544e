//! The audit record: one JSON object per line, fields in a stable order.
//!
//! The gateway fills an [`Event`]; the writer gives it its sequence number and
//! timestamp and serialises it as one line. Raw personal data never appears:
//! subjects are named by keyed pseudonyms.

use serde::{Deserialize, Serialize};

/// The record format version written by this build.
///
/// Version 2 records a decision's policy input once: the fields the record
/// already carries (request id, method, host, path, subject, the
/// requester but for a presented approval, route, service, data class)
/// are left out of `input_rest`, and [`DecisionEvent::policy_input`] puts
/// them back. Version 1 records, whose `input` held the whole input, are
/// still read; a record of a version newer than this is refused by every
/// reader rather than half read.
pub const FORMAT_VERSION: u32 = 2;

/// Refuses a record format version newer than [`FORMAT_VERSION`]: its
/// fields may mean what this build cannot know.
pub(crate) fn check_version(v: u32) -> Result<(), String> {
    if v > FORMAT_VERSION {
        return Err(format!(
            "record format version {v} is newer than this build reads ({FORMAT_VERSION}); use a newer jurisgate"
        ));
    }
    Ok(())
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Format version.
    pub v: u32,
    /// Sequence number: 0 for the first record of the log, +1 each record.
    pub seq: u64,
    /// When the record was made: RFC 3339 UTC with microseconds.
    pub ts: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// What a record says happened. Serialised with a `kind` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A request was decided (allowed, denied, unmatched or refused).
    Decision(Box<DecisionEvent>),
    /// A policy was loaded and is now deciding.
    PolicyLoaded(PolicyLoaded),
    /// The gateway started (and what recovery found).
    Startup(Startup),
    /// The gateway is stopping cleanly.
    Shutdown(Shutdown),
    /// A signed checkpoint was written (tree size and root).
    Checkpoint(CheckpointEvent),
    /// Configuration (or a key) was loaded; keys are named by id, never included.
    ConfigLoaded(ConfigLoaded),
    /// A request allowed and forwarded was not answered by its upstream:
    /// the gateway answered it itself. Follows its decision record.
    ForwardFailed(ForwardFailed),
}

/// A decision about one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionEvent {
    /// Request id (also sent upstream and to the client).
    pub request_id: String,
    /// Whose data it is.
    pub subject: SubjectFacts,
    /// Who asked.
    pub requester: RequesterFacts,
    /// Method.
    pub method: String,
    /// Host.
    pub host: String,
    /// The normalised path (the one classified and forwarded).
    pub path: String,
    /// Matched route, if any.
    pub route: Option<String>,
    /// The route's service, if any.
    pub service: Option<String>,
    /// The route's data class, if any.
    pub data_class: Option<String>,
    /// The decision.
    pub decision: Outcome,
    /// Chosen upstream pool, when the request was forwarded.
    pub pool: Option<String>,
    /// Chosen upstream region, when the request was forwarded.
    pub region: Option<String>,
    /// Response status, when known at the time of the record (gateway answers).
    pub status: Option<u16>,
    /// Why the gateway answered the request itself (`no_route`,
    /// `no_approved_region_available`, a normalisation rule…), when it did.
    /// `decision` stays what the policy said, so a replay compares like with like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Hash of the policy files and data that decided.
    pub policy_revision: Option<String>,
    /// Version 1 records only: the whole policy input as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// The policy input's fields this record does not already carry
    /// (`request.query`, `request.headers`, `requester.approval`,
    /// `destinations`, `time`), so a replay can re-decide it: see
    /// [`DecisionEvent::policy_input`]. Absent when nothing was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_rest: Option<serde_json::Value>,
}

impl DecisionEvent {
    /// The policy input this decision was made on (pseudonymised), whole:
    /// a version 1 record's `input`, or a version 2 record's `input_rest`
    /// with the fields the record carries put back in. `None` when the
    /// request was refused before its input was built.
    #[must_use]
    pub fn policy_input(&self) -> Option<serde_json::Value> {
        use serde_json::{Map, Value};
        if let Some(input) = &self.input {
            return Some(input.clone());
        }
        let mut input = match self.input_rest.clone()? {
            Value::Object(rest) => rest,
            _ => return None,
        };
        let mut part = |name: &str| -> Option<Map<String, Value>> {
            match input.remove(name) {
                None => Some(Map::new()),
                Some(Value::Object(m)) => Some(m),
                Some(_) => None,
            }
        };
        let mut request = part("request")?;
        let mut requester = part("requester")?;
        let text = |s: &str| Value::String(s.to_string());
        let optional = |m: &mut Map<String, Value>, k: &str, v: Option<&String>| {
            if let Some(v) = v {
                m.insert(k.into(), text(v));
            }
        };
        request.insert("id".into(), text(&self.request_id));
        request.insert("method".into(), text(&self.method));
        request.insert("host".into(), text(&self.host));
        request.insert("path".into(), text(&self.path));
        let s = &self.subject;
        let mut subject = Map::new();
        subject.insert("jurisdiction".into(), text(&s.jurisdiction));
        subject.insert("source".into(), text(&s.source));
        subject.insert("verified".into(), Value::Bool(s.verified));
        optional(&mut subject, "pseudonym", s.pseudonym.as_ref());
        let r = &self.requester;
        requester.insert("kind".into(), text(&r.kind));
        optional(&mut requester, "id", r.id.as_ref());
        optional(&mut requester, "org", r.org.as_ref());
        optional(&mut requester, "location", r.location.as_ref());
        requester.insert("source".into(), text(&r.source));
        requester.insert("verified".into(), Value::Bool(r.verified));
        let mut resource = Map::new();
        for (k, v) in [
            ("route", &self.route),
            ("service", &self.service),
            ("data_class", &self.data_class),
        ] {
            resource.insert(k.into(), text(v.as_deref().unwrap_or_default()));
        }
        input.insert("request".into(), Value::Object(request));
        input.insert("subject".into(), Value::Object(subject));
        input.insert("requester".into(), Value::Object(requester));
        input.insert("resource".into(), Value::Object(resource));
        Some(Value::Object(input))
    }
}

/// The subject as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectFacts {
    /// Jurisdiction code or `unknown`.
    pub jurisdiction: String,
    /// Source that gave it.
    pub source: String,
    /// Whether it was verified.
    pub verified: bool,
    /// Keyed pseudonym of the subject's id.
    pub pseudonym: Option<String>,
}

/// The requester as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequesterFacts {
    /// `user`, `service`, `employee` or `unknown`.
    pub kind: String,
    /// Service or employee id, or an end user's pseudonym.
    pub id: Option<String>,
    /// Organisation.
    pub org: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Source that gave the identity.
    pub source: String,
    /// Whether it was verified.
    pub verified: bool,
    /// Access approval id, when one was presented and verified.
    pub approval: Option<String>,
}

/// The decision as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Allowed or not.
    pub allow: bool,
    /// Approved regions.
    pub regions: Vec<String>,
    /// Reason (`policy_error`, `no_route`, `audit_unavailable`, or the policy's words).
    pub reason: String,
    /// Obligations imposed on the response, as the policy gave them.
    pub obligations: serde_json::Value,
}

/// A policy load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyLoaded {
    /// Revision hash.
    pub revision: String,
    /// Engine (`rego`, `wasm`).
    pub engine: String,
    /// Files that make up the revision, with their own hashes.
    pub files: Vec<PolicyFile>,
}

/// One file of a policy revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFile {
    /// Path relative to the policy folder.
    pub path: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Gateway start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Startup {
    /// Build version.
    pub version: String,
    /// Records found on disk at start.
    pub recovered_records: u64,
    /// A torn final line moved aside, if any (the quarantine file name).
    pub quarantined: Option<String>,
}

/// Gateway stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Why (`signal`, `demo finished`, …).
    pub reason: String,
}

/// A checkpoint written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointEvent {
    /// Tree size the checkpoint covers.
    pub size: u64,
    /// Root hash, base64.
    pub root: String,
}

/// A request whose decision record allowed and routed it, answered by the
/// gateway after forwarding had begun: the upstream could not be reached,
/// failed or timed out, the request body crossed the size limit while
/// streaming, or the response could not meet the decision's obligations;
/// or the exchange ended before the gateway could answer (the client left).
/// The request may have reached the upstream in part or in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardFailed {
    /// The request id, as in its decision record.
    pub request_id: String,
    /// The pool it was forwarded to.
    pub pool: String,
    /// That pool's region.
    pub region: String,
    /// The status the gateway answered with (400, 413, 502, 504), or 499 when
    /// the exchange ended before it could answer.
    pub status: u16,
    /// Why (`upstream_error: …`, `upstream_timeout`,
    /// `request_body_too_large`, `request_body_error`, `obligation_failed: …`,
    /// `not_answered`).
    pub reason: String,
}

/// Configuration or key material loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigLoaded {
    /// SHA-256 of the config file, hex.
    pub config_sha256: String,
    /// Ids of the keys in use (subject pseudonym key and others), never the keys.
    pub key_ids: std::collections::BTreeMap<String, String>,
}

/// The timestamp format of [`Record::ts`]: RFC 3339, UTC, microseconds.
const TS_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

impl Record {
    /// The record's line: compact JSON without the newline. Field order is
    /// the declaration order above, so the same record always gives the
    /// same bytes (and the same leaf hash).
    ///
    /// # Errors
    /// A `serde_json` error (not expected for these types).
    pub fn to_line(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Parses one line (without its newline).
    ///
    /// # Errors
    /// A `serde_json` error naming the column at fault.
    pub fn from_line(line: &[u8]) -> Result<Self, serde_json::Error> {
        let record: Self = serde_json::from_slice(line)?;
        check_version(record.v).map_err(<serde_json::Error as serde::de::Error>::custom)?;
        Ok(record)
    }

    /// The record's time, if `ts` is valid RFC 3339.
    #[must_use]
    pub fn time(&self) -> Option<time::OffsetDateTime> {
        parse_ts(&self.ts)
    }
}

/// `t` in the record timestamp format.
#[must_use]
pub fn format_ts(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(TS_FORMAT)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parses an RFC 3339 timestamp (as in records, or given by a user).
#[must_use]
pub fn parse_ts(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_line_has_stable_field_order_and_round_trips() {
        let r = Record {
            v: FORMAT_VERSION,
            seq: 3,
            ts: format_ts(time::macros::datetime!(2026-11-27 18:00:00.5 UTC)),
            event: Event::Shutdown(Shutdown {
                reason: "signal".into(),
            }),
        };
        let line = r.to_line().unwrap();
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            r#"{"v":2,"seq":3,"ts":"2026-11-27T18:00:00.500000Z","kind":"shutdown","reason":"signal"}"#
        );
        assert_eq!(Record::from_line(&line).unwrap(), r);
        assert!(r.time().is_some());
    }

    #[test]
    fn a_version_1_decision_record_still_gives_its_whole_input() {
        let line = br#"{"v":1,"seq":7,"ts":"2026-11-20T10:00:00.000000Z","kind":"decision","request_id":"r-1","subject":{"jurisdiction":"US","source":"jwt","verified":true,"pseudonym":"hs256:aa"},"requester":{"kind":"user","id":"hs256:aa","org":null,"location":"US","source":"jwt","verified":true,"approval":null},"method":"GET","host":"api.example.com","path":"/v1/messages/1","route":"messages","service":"messages","data_class":"protected","decision":{"allow":true,"regions":["us-east"],"reason":"ok","obligations":{}},"pool":"us-east","region":"us-east","status":null,"policy_revision":"sha256:00","input":{"request":{"id":"r-1","method":"GET","host":"api.example.com","path":"/v1/messages/1","query":{},"headers":{}},"subject":{"jurisdiction":"US","source":"jwt","verified":true,"pseudonym":"hs256:aa"},"requester":{"kind":"user","id":"hs256:aa","location":"US","source":"jwt","verified":true},"resource":{"route":"messages","service":"messages","data_class":"protected"},"destinations":[{"pool":"us-east","region":"us-east","healthy":true}],"time":"2026-11-20T10:00:00Z"}}"#;
        let record = Record::from_line(line).unwrap();
        assert_eq!(record.v, 1);
        let Event::Decision(d) = record.event else {
            panic!("not a decision");
        };
        let whole = d.input.clone().unwrap();
        assert_eq!(d.policy_input(), Some(whole.clone()));
        // The same decision written as version 2 gives the same input back.
        let mut v2 = d.clone();
        v2.input = None;
        let mut rest = whole;
        let rest_map = rest.as_object_mut().unwrap();
        for field in ["subject", "requester", "resource"] {
            rest_map.remove(field);
        }
        rest_map["request"] = serde_json::json!({"query": {}, "headers": {}});
        v2.input_rest = Some(rest);
        assert_eq!(v2.policy_input(), d.policy_input());
    }
}
