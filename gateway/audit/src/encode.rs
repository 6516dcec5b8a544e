//! Events encoded by the appender, so the single writer thread only adds
//! the sequence number and time, hashes and writes.
//!
//! [`EncodedEvent::of`] encodes any [`Event`]; [`EncodedEvent::decision`]
//! encodes a decision straight from borrowed facts ([`DecisionRef`]), which
//! is what the gateway does for every request: no copies of its strings, no
//! intermediate JSON tree. Both give exactly the bytes [`Record::to_line`]
//! gives for the same record (tested below), so readers see one format.

use std::io::Write as _;

use serde::{Serialize, Serializer};

use crate::{Event, FORMAT_VERSION};

/// One event as its JSON object (`{"kind":…,…}`), waiting for its seq and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent(Vec<u8>);

impl EncodedEvent {
    /// Encodes `event`.
    ///
    /// # Errors
    /// A `serde_json` error (not expected for these types).
    pub fn of(event: &Event) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(event).map(Self)
    }

    /// Encodes a decision from borrowed facts; the same bytes as
    /// [`Self::of`] on the equivalent [`Event::Decision`].
    ///
    /// # Errors
    /// A `serde_json` error from `I` or `O`'s `Serialize`.
    pub fn decision<I: Serialize, O: Serialize>(
        decision: &DecisionRef<'_, I, O>,
    ) -> Result<Self, serde_json::Error> {
        const TAG: &[u8] = br#"{"kind":"decision","#;
        let mut out = Vec::with_capacity(2048);
        out.extend_from_slice(TAG);
        serde_json::to_writer(&mut out, decision)?;
        // `{"kind":"decision",` + `{"request_id":…}` without its brace.
        out.remove(TAG.len());
        Ok(Self(out))
    }

    /// The event's JSON object (`{"kind":…,…}`): its record's line without
    /// the record's own `v`, `seq` and `ts`.
    #[must_use]
    pub fn as_json(&self) -> &[u8] {
        &self.0
    }

    /// Appends the record line (no newline) for this event at `seq` and
    /// `ts` to `out`: `{"v":…,"seq":…,"ts":"…",` then the event's fields.
    pub(crate) fn write_line(&self, seq: u64, ts: &str, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail; `ts` is made by `format_ts` and
        // holds nothing JSON would escape.
        let _ = write!(out, r#"{{"v":{FORMAT_VERSION},"seq":{seq},"ts":"{ts}","#);
        out.extend_from_slice(self.0.get(1..).unwrap_or_default());
    }
}

/// A decision record made of borrowed facts, field for field the same as
/// [`crate::DecisionEvent`] as this build writes it (no version 1 `input`):
/// `I` is the rest of the policy input, `O` the obligations.
#[derive(Debug, Serialize)]
pub struct DecisionRef<'a, I: Serialize, O: Serialize> {
    /// Request id.
    pub request_id: &'a str,
    /// Whose data it is.
    pub subject: SubjectRef<'a>,
    /// Who asked.
    pub requester: RequesterRef<'a>,
    /// Method.
    pub method: &'a str,
    /// Host.
    pub host: &'a str,
    /// The normalised path.
    pub path: &'a str,
    /// Matched route.
    pub route: Option<&'a str>,
    /// The route's service.
    pub service: Option<&'a str>,
    /// The route's data class.
    pub data_class: Option<&'a str>,
    /// The decision.
    pub decision: OutcomeRef<'a, O>,
    /// Chosen pool.
    pub pool: Option<&'a str>,
    /// Chosen region.
    pub region: Option<&'a str>,
    /// Response status, when the gateway answered itself.
    pub status: Option<u16>,
    /// Why the gateway answered itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<&'a str>,
    /// Policy revision.
    pub policy_revision: Option<&'a str>,
    /// The policy input's fields the record does not already carry (see
    /// [`crate::DecisionEvent::input_rest`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_rest: Option<&'a I>,
}

/// [`crate::SubjectFacts`], borrowed.
#[derive(Debug, Serialize)]
pub struct SubjectRef<'a> {
    /// Jurisdiction code or `unknown`.
    pub jurisdiction: &'a str,
    /// Source that gave it.
    pub source: &'a str,
    /// Whether it was verified.
    pub verified: bool,
    /// Keyed pseudonym of the subject's id.
    pub pseudonym: Option<&'a str>,
}

/// [`crate::RequesterFacts`], borrowed.
#[derive(Debug, Serialize)]
pub struct RequesterRef<'a> {
    /// `user`, `service`, `employee` or `unknown`.
    pub kind: &'a str,
    /// Id or pseudonym.
    pub id: Option<&'a str>,
    /// Organisation.
    pub org: Option<&'a str>,
    /// Location.
    pub location: Option<&'a str>,
    /// Source that gave the identity.
    pub source: &'a str,
    /// Whether it was verified.
    pub verified: bool,
    /// Verified approval id.
    pub approval: Option<&'a str>,
}

/// [`crate::Outcome`], borrowed.
#[derive(Debug, Serialize)]
pub struct OutcomeRef<'a, O: Serialize> {
    /// Allowed or not.
    pub allow: bool,
    /// Approved regions.
    pub regions: &'a [String],
    /// Reason.
    pub reason: &'a str,
    /// Obligations; `None` is recorded as `{}`.
    #[serde(serialize_with = "obligations_or_empty")]
    pub obligations: Option<&'a O>,
}

fn obligations_or_empty<O: Serialize, S: Serializer>(
    o: &Option<&O>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match o {
        Some(o) => o.serialize(s),
        None => serde_json::Map::new().serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        CheckpointEvent, ConfigLoaded, DecisionEvent, ForwardFailed, Outcome, PolicyFile,
        PolicyLoaded, Record, RequesterFacts, Shutdown, Startup, SubjectFacts,
    };
    use serde_json::json;

    fn line(event: &EncodedEvent, seq: u64, ts: &str) -> Vec<u8> {
        let mut out = Vec::new();
        event.write_line(seq, ts, &mut out);
        out
    }

    fn record_line(event: Event, seq: u64, ts: &str) -> Vec<u8> {
        Record {
            v: FORMAT_VERSION,
            seq,
            ts: ts.into(),
            event,
        }
        .to_line()
        .unwrap()
    }

    fn borrowed(d: &DecisionEvent) -> DecisionRef<'_, serde_json::Value, serde_json::Value> {
        DecisionRef {
            request_id: &d.request_id,
            subject: SubjectRef {
                jurisdiction: &d.subject.jurisdiction,
                source: &d.subject.source,
                verified: d.subject.verified,
                pseudonym: d.subject.pseudonym.as_deref(),
            },
            requester: RequesterRef {
                kind: &d.requester.kind,
                id: d.requester.id.as_deref(),
                org: d.requester.org.as_deref(),
                location: d.requester.location.as_deref(),
                source: &d.requester.source,
                verified: d.requester.verified,
                approval: d.requester.approval.as_deref(),
            },
            method: &d.method,
            host: &d.host,
            path: &d.path,
            route: d.route.as_deref(),
            service: d.service.as_deref(),
            data_class: d.data_class.as_deref(),
            decision: OutcomeRef {
                allow: d.decision.allow,
                regions: &d.decision.regions,
                reason: &d.decision.reason,
                obligations: Some(&d.decision.obligations),
            },
            pool: d.pool.as_deref(),
            region: d.region.as_deref(),
            status: d.status,
            refusal: d.refusal.as_deref(),
            policy_revision: d.policy_revision.as_deref(),
            input_rest: d.input_rest.as_ref(),
        }
    }

    fn decision(full: bool) -> DecisionEvent {
        let some = |s: &str| full.then(|| s.to_string());
        DecisionEvent {
            request_id: "01JREQ\"quoted\"".into(),
            subject: SubjectFacts {
                jurisdiction: "EU".into(),
                source: "jwt".into(),
                verified: full,
                pseudonym: some("hs256:ab\u{e9}"),
            },
            requester: RequesterFacts {
                kind: "employee".into(),
                id: some("e-1"),
                org: some("org\nnewline"),
                location: some("US"),
                source: "mtls".into(),
                verified: true,
                approval: some("APR-1"),
            },
            method: "POST".into(),
            host: "api.example".into(),
            path: "/v1/x/\u{1}y".into(),
            route: some("messages"),
            service: some("messages"),
            data_class: some("protected"),
            decision: Outcome {
                allow: full,
                regions: if full { vec!["eu-west".into()] } else { vec![] },
                reason: "why".into(),
                obligations: json!({"response_headers": {"x-a": "b"}, "redact": ["/x"]}),
            },
            pool: some("eu-1"),
            region: some("eu-west"),
            status: (!full).then_some(403),
            refusal: some("no_route"),
            policy_revision: some("sha256:00"),
            input: None,
            input_rest: full.then(|| json!({"request": {"query": {"a": ["1", "2"]}}, "n": 1.5})),
        }
    }

    #[test]
    fn a_borrowed_decision_encodes_to_the_bytes_of_the_owned_record() {
        let ts = "2026-11-28T04:00:00.000001Z";
        for full in [true, false] {
            let owned = decision(full);
            let encoded = EncodedEvent::decision(&borrowed(&owned)).unwrap();
            assert_eq!(
                String::from_utf8(line(&encoded, 41, ts)).unwrap(),
                String::from_utf8(record_line(
                    Event::Decision(Box::new(owned.clone())),
                    41,
                    ts
                ))
                .unwrap(),
                "full = {full}"
            );
            let parsed = Record::from_line(&line(&encoded, 41, ts)).unwrap();
            assert_eq!(parsed.event, Event::Decision(Box::new(owned)));
        }
    }

    #[test]
    fn missing_obligations_are_recorded_as_an_empty_object() {
        let mut owned = decision(true);
        owned.decision.obligations = json!({});
        let mut d = borrowed(&owned);
        d.decision.obligations = None;
        let ts = "2026-11-28T04:00:00.000001Z";
        assert_eq!(
            line(&EncodedEvent::decision(&d).unwrap(), 0, ts),
            record_line(Event::Decision(Box::new(owned)), 0, ts)
        );
    }

    #[test]
    fn every_other_event_encodes_to_the_bytes_of_its_record() {
        let ts = "2026-11-28T04:00:00.000001Z";
        let events = [
            Event::Shutdown(Shutdown {
                reason: "signal".into(),
            }),
            Event::Startup(Startup {
                version: "0.1.0".into(),
                recovered_records: 12,
                quarantined: None,
            }),
            Event::Checkpoint(CheckpointEvent {
                size: 9,
                root: "abc=".into(),
            }),
            Event::PolicyLoaded(PolicyLoaded {
                revision: "sha256:01".into(),
                engine: "rego".into(),
                files: vec![PolicyFile {
                    path: "texas/decision.rego".into(),
                    sha256: "02".into(),
                }],
            }),
            Event::ConfigLoaded(ConfigLoaded {
                config_sha256: "03".into(),
                key_ids: [("subject".to_string(), "k1".to_string())].into(),
            }),
            Event::ForwardFailed(ForwardFailed {
                request_id: "r-\"1".into(),
                pool: "eu".into(),
                region: "eu-west".into(),
                status: 502,
                reason: "upstream_error: connection reset".into(),
            }),
        ];
        for event in events {
            let encoded = EncodedEvent::of(&event).unwrap();
            assert_eq!(
                line(&encoded, u64::MAX, ts),
                record_line(event, u64::MAX, ts)
            );
        }
    }
}
