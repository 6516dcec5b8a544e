//! A record line checked against the record schema without building a
//! [`crate::Record`]: what `verify` needs to read every line of a large log
//! at close to the speed of hashing it.
//!
//! [`RecordView::parse`] accepts no line that [`crate::Record::from_line`]
//! rejects: the same fields are required, with the same JSON types, in any
//! order, nested objects included. It reads nothing into owned memory: the
//! few values `verify` uses borrow from the line, and the rest are checked
//! and dropped as they are parsed (`Record`'s flattened, tagged layout makes
//! serde buffer every field of every line, which costs ten times the hash).
//! It is slightly stricter in one way: a field that belongs to another kind
//! of record must still have that field's type.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What `verify` reads from one record line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RecordView<'a> {
    /// Sequence number.
    pub(crate) seq: u64,
    /// Timestamp text, not yet checked as RFC 3339.
    pub(crate) ts: Cow<'a, str>,
    /// The kind, with the fields `verify` needs of it.
    pub(crate) kind: KindView<'a>,
}

/// The event kind of a [`RecordView`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KindView<'a> {
    /// `decision`.
    Decision,
    /// `policy_loaded`.
    PolicyLoaded,
    /// `startup`, with the quarantine file it reports.
    Startup {
        /// `quarantined`.
        quarantined: Option<Cow<'a, str>>,
    },
    /// `shutdown`.
    Shutdown,
    /// `checkpoint`: tree size and base64 root.
    Checkpoint {
        /// `size`.
        size: u64,
        /// `root`.
        root: Cow<'a, str>,
    },
    /// `config_loaded`.
    ConfigLoaded,
    /// `forward_failed`.
    ForwardFailed,
}

impl<'a> RecordView<'a> {
    /// Parses and checks one line (without its newline).
    ///
    /// # Errors
    /// Why the line is not a record: the `serde_json` message (with the
    /// column) or the missing field.
    pub(crate) fn parse(line: &'a [u8]) -> Result<Self, String> {
        // One UTF-8 check of the whole line, instead of one per string (and
        // none for strings inside `input`, which are only skipped).
        let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
        let f: Fields<'a> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        crate::record::check_version(f.v)?;
        let missing = |names: &[(&str, bool)]| -> Result<(), String> {
            match names.iter().find(|(_, present)| !present) {
                Some((name, _)) => Err(format!("missing field `{name}`")),
                None => Ok(()),
            }
        };
        let kind = match f.kind.as_ref() {
            "decision" => {
                missing(&[
                    ("request_id", f.request_id.is_some()),
                    ("subject", f.subject.is_some()),
                    ("requester", f.requester.is_some()),
                    ("method", f.method.is_some()),
                    ("host", f.host.is_some()),
                    ("path", f.path.is_some()),
                    ("decision", f.decision.is_some()),
                ])?;
                KindView::Decision
            }
            "policy_loaded" => {
                missing(&[
                    ("revision", f.revision.is_some()),
                    ("engine", f.engine.is_some()),
                    ("files", f.files.is_some()),
                ])?;
                KindView::PolicyLoaded
            }
            "startup" => {
                missing(&[
                    ("version", f.version.is_some()),
                    ("recovered_records", f.recovered_records.is_some()),
                ])?;
                KindView::Startup {
                    quarantined: f.quarantined,
                }
            }
            "shutdown" => {
                missing(&[("reason", f.reason.is_some())])?;
                KindView::Shutdown
            }
            "checkpoint" => match (f.size, f.root) {
                (Some(size), Some(root)) => KindView::Checkpoint { size, root },
                (None, _) => return Err("missing field `size`".into()),
                (_, None) => return Err("missing field `root`".into()),
            },
            "config_loaded" => {
                missing(&[
                    ("config_sha256", f.config_sha256.is_some()),
                    ("key_ids", f.key_ids.is_some()),
                ])?;
                KindView::ConfigLoaded
            }
            "forward_failed" => {
                missing(&[
                    ("request_id", f.request_id.is_some()),
                    ("pool", f.pool.is_some()),
                    ("region", f.region.is_some()),
                    ("status", f.status.is_some()),
                    ("reason", f.reason.is_some()),
                ])?;
                KindView::ForwardFailed
            }
            other => return Err(format!("unknown record kind {other:?}")),
        };
        Ok(Self {
            seq: f.seq,
            ts: f.ts,
            kind,
        })
    }
}

impl<'a> RecordView<'a> {
    /// Reads the first fields of a line as the writer lays them out
    /// (`{"v":2,"seq":N,"ts":"…","kind":"…",…`) without parsing the rest.
    /// `None` when the line starts any other way, or is a `checkpoint` or
    /// `startup` record (whose later fields `verify` needs): then
    /// [`RecordView::parse`] must read it.
    ///
    /// This does not check that the rest of the line is a record. `verify`
    /// uses it only for lines a signed checkpoint covers, whose bytes the
    /// signed root proves to be the writer's.
    pub(crate) fn parse_head(line: &'a [u8]) -> Option<Self> {
        let rest = line.strip_prefix(b"{\"v\":")?;
        let (v, rest) = number(rest)?;
        crate::record::check_version(u32::try_from(v).ok()?).ok()?;
        let (seq, rest) = number(rest.strip_prefix(b",\"seq\":")?)?;
        let rest = rest.strip_prefix(b",\"ts\":\"")?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[end] != b'"' {
            return None;
        }
        let ts = std::str::from_utf8(&rest[..end]).ok()?;
        let rest = rest[end + 1..].strip_prefix(b",\"kind\":\"")?;
        let end = memchr::memchr(b'"', rest)?;
        let kind = match &rest[..end] {
            b"decision" => KindView::Decision,
            b"policy_loaded" => KindView::PolicyLoaded,
            b"shutdown" => KindView::Shutdown,
            b"config_loaded" => KindView::ConfigLoaded,
            b"forward_failed" => KindView::ForwardFailed,
            _ => return None,
        };
        if !matches!(rest.get(end + 1), Some(b',' | b'}')) {
            return None;
        }
        Some(Self {
            seq,
            ts: Cow::Borrowed(ts),
            kind,
        })
    }
}

/// A JSON number that is a `u64` written as serde writes it (digits, no
/// leading zero), and the bytes after it.
fn number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let (digits, rest) = bytes.split_at(len);
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let n = digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    Some((n, rest))
}

/// Every top-level field of every kind of record. The kind-specific ones
/// are optional here; [`RecordView::parse`] requires those of the line's kind.
#[derive(Deserialize)]
#[allow(
    dead_code,
    reason = "fields that are only type-checked by deserialising them"
)]
struct Fields<'a> {
    v: u32,
    seq: u64,
    #[serde(borrow)]
    ts: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    // decision
    request_id: Option<Str>,
    subject: Option<SubjectFacts>,
    requester: Option<RequesterFacts>,
    method: Option<Str>,
    host: Option<Str>,
    path: Option<Str>,
    route: Option<Str>,
    service: Option<Str>,
    data_class: Option<Str>,
    decision: Option<Outcome>,
    pool: Option<Str>,
    region: Option<Str>,
    status: Option<u16>,
    refusal: Option<Str>,
    policy_revision: Option<Str>,
    input: Option<IgnoredAny>,
    input_rest: Option<IgnoredAny>,
    // policy_loaded
    revision: Option<Str>,
    engine: Option<Str>,
    files: Option<Seq<PolicyFile>>,
    // startup
    version: Option<Str>,
    recovered_records: Option<u64>,
    #[serde(borrow)]
    quarantined: Option<Cow<'a, str>>,
    // shutdown
    reason: Option<Str>,
    // checkpoint
    size: Option<u64>,
    #[serde(borrow)]
    root: Option<Cow<'a, str>>,
    // config_loaded
    config_sha256: Option<Str>,
    key_ids: Option<StrMap>,
}

/// [`crate::SubjectFacts`], checked only.
#[derive(Deserialize)]
#[allow(dead_code, reason = "fields that are only type-checked")]
struct SubjectFacts {
    jurisdiction: Str,
    source: Str,
    verified: bool,
    pseudonym: Option<Str>,
}

/// [`crate::RequesterFacts`], checked only.
#[derive(Deserialize)]
#[allow(dead_code, reason = "fields that are only type-checked")]
struct RequesterFacts {
    kind: Str,
    id: Option<Str>,
    org: Option<Str>,
    location: Option<Str>,
    source: Str,
    verified: bool,
    approval: Option<Str>,
}

/// [`crate::Outcome`], checked only.
#[derive(Deserialize)]
#[allow(dead_code, reason = "fields that are only type-checked")]
struct Outcome {
    allow: bool,
    regions: Seq<Str>,
    reason: Str,
    obligations: IgnoredAny,
}

/// [`crate::PolicyFile`], checked only.
#[derive(Deserialize)]
#[allow(dead_code, reason = "fields that are only type-checked")]
struct PolicyFile {
    path: Str,
    sha256: Str,
}

/// Any JSON string, checked and dropped.
struct Str;

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Str, E> {
                Ok(Str)
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON array whose every element is a `T`, checked and dropped.
struct Seq<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Seq<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Seq<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seq<T>, A::Error> {
                while seq.next_element::<T>()?.is_some() {}
                Ok(Seq(PhantomData))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// A JSON object of string values, checked and dropped.
struct StrMap;

impl<'de> Deserialize<'de> for StrMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrMap, A::Error> {
                while map.next_entry::<Str, Str>()?.is_some() {}
                Ok(StrMap)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{
        CheckpointEvent, ConfigLoaded, DecisionEvent, Event, FORMAT_VERSION, ForwardFailed,
        Outcome, PolicyFile, PolicyLoaded, Record, RequesterFacts, Shutdown, Startup, SubjectFacts,
    };

    const TS: &str = "2026-11-27T18:00:00.123456Z";

    fn samples() -> Vec<Event> {
        vec![
            Event::Decision(Box::new(DecisionEvent {
                request_id: "r-1".into(),
                subject: SubjectFacts {
                    jurisdiction: "US".into(),
                    source: "jwt".into(),
                    verified: true,
                    pseudonym: Some("hs256:00ff".into()),
                },
                requester: RequesterFacts {
                    kind: "service".into(),
                    id: Some("billing".into()),
                    org: None,
                    location: Some("EU".into()),
                    source: "mtls".into(),
                    verified: true,
                    approval: None,
                },
                method: "GET".into(),
                host: "api.example.com".into(),
                path: "/v1/a\"b\\c".into(),
                route: Some("messages".into()),
                service: Some("messages".into()),
                data_class: Some("protected".into()),
                decision: Outcome {
                    allow: false,
                    regions: vec!["us-east".into(), "us-west".into()],
                    reason: "cross-border".into(),
                    obligations: json!({"redact": ["ssn"]}),
                },
                pool: None,
                region: None,
                status: Some(403),
                refusal: Some("no_route".into()),
                policy_revision: Some("sha256:abc".into()),
                input: None,
                input_rest: Some(
                    json!({"request": {"query": {"q": ["\u{e9}"]}}, "n": [1, 2.5, null]}),
                ),
            })),
            Event::PolicyLoaded(PolicyLoaded {
                revision: "sha256:abc".into(),
                engine: "rego".into(),
                files: vec![PolicyFile {
                    path: "policy.rego".into(),
                    sha256: "00".into(),
                }],
            }),
            Event::Startup(Startup {
                version: "0.1.0".into(),
                recovered_records: 7,
                quarantined: Some("quarantine/segment-000001.jsonl.at-9.torn".into()),
            }),
            Event::Shutdown(Shutdown {
                reason: "signal".into(),
            }),
            Event::Checkpoint(CheckpointEvent {
                size: 42,
                root: "AAAA".into(),
            }),
            Event::ConfigLoaded(ConfigLoaded {
                config_sha256: "ff".into(),
                key_ids: [("subject".to_string(), "k1".to_string())].into(),
            }),
            Event::ForwardFailed(ForwardFailed {
                request_id: "r-1".into(),
                pool: "us-east".into(),
                region: "us-east".into(),
                status: 504,
                reason: "upstream_timeout".into(),
            }),
        ]
    }

    fn line(seq: u64, event: Event) -> Vec<u8> {
        Record {
            v: FORMAT_VERSION,
            seq,
            ts: TS.into(),
            event,
        }
        .to_line()
        .unwrap()
    }

    #[test]
    fn every_kind_reads_as_written() {
        let want = [
            KindView::Decision,
            KindView::PolicyLoaded,
            KindView::Startup {
                quarantined: Some("quarantine/segment-000001.jsonl.at-9.torn".into()),
            },
            KindView::Shutdown,
            KindView::Checkpoint {
                size: 42,
                root: "AAAA".into(),
            },
            KindView::ConfigLoaded,
            KindView::ForwardFailed,
        ];
        for (i, (event, kind)) in samples().into_iter().zip(want).enumerate() {
            let bytes = line(i as u64 + 5, event);
            let full = RecordView::parse(&bytes).unwrap();
            assert_eq!(full.seq, i as u64 + 5);
            assert_eq!(full.ts, TS);
            assert_eq!(full.kind, kind);
            // The head alone is read for the kinds whose later fields verify ignores.
            match RecordView::parse_head(&bytes) {
                Some(head) => {
                    assert_eq!(head, full);
                    assert!(!matches!(
                        kind,
                        KindView::Startup { .. } | KindView::Checkpoint { .. }
                    ));
                }
                None => assert!(matches!(
                    kind,
                    KindView::Startup { .. } | KindView::Checkpoint { .. }
                )),
            }
        }
    }

    /// Replaces, or with `None` removes, `key` in the object at `path`.
    fn mutate(record: &Value, path: &[&str], key: &str, to: Option<&Value>) -> Vec<u8> {
        let mut record = record.clone();
        let mut target = &mut record;
        for p in path {
            target = &mut target[*p];
        }
        let object = target.as_object_mut().unwrap();
        match to {
            Some(v) => {
                object.insert(key.into(), v.clone());
            }
            None => {
                object.shift_remove(key);
            }
        }
        serde_json::to_vec(&record).unwrap()
    }

    /// The full check accepts exactly the lines `Record::from_line` accepts,
    /// for every field of every kind removed or given another JSON type.
    #[test]
    fn the_full_check_agrees_with_record_parsing_on_every_field() {
        let replacements = [
            json!(null),
            json!(7),
            json!(-1),
            json!(1.5),
            json!(70000),
            json!("x"),
            json!(true),
            json!({}),
            json!([]),
            json!(["x"]),
            json!({"a": "b"}),
            json!([{"path": "p", "sha256": "s"}]),
        ];
        let mut compared = 0;
        for event in samples() {
            let record: Value = serde_json::from_slice(&line(3, event)).unwrap();
            let mut objects: Vec<Vec<&str>> = vec![vec![]];
            for nested in ["subject", "requester", "decision"] {
                if record.get(nested).is_some_and(Value::is_object) {
                    objects.push(vec![nested]);
                }
            }
            for path in objects {
                let mut target = &record;
                for p in &path {
                    target = &target[*p];
                }
                let keys: Vec<String> = target.as_object().unwrap().keys().cloned().collect();
                for key in keys.iter().map(String::as_str).chain(["unknown_field"]) {
                    let mut lines = vec![mutate(&record, &path, key, None)];
                    for r in &replacements {
                        lines.push(mutate(&record, &path, key, Some(r)));
                    }
                    for l in lines {
                        let ours = RecordView::parse(&l);
                        let theirs = Record::from_line(&l);
                        assert_eq!(
                            ours.is_ok(),
                            theirs.is_ok(),
                            "{}: view {ours:?}, record {theirs:?}",
                            String::from_utf8_lossy(&l)
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 500, "{compared}");
    }

    #[test]
    fn lines_that_are_not_records_are_refused_with_the_reason() {
        let good = line(0, Event::Shutdown(Shutdown { reason: "x".into() }));
        let mut trailing = good.clone();
        trailing.extend_from_slice(b" {}");
        let mut bad_utf8 = good.clone();
        let at = bad_utf8.len() - 3;
        bad_utf8[at] = 0xff;
        for (bytes, says) in [
            (&b"not json"[..], "expected"),
            (&trailing[..], "trailing characters"),
            (&bad_utf8[..], "not UTF-8"),
            (
                &b"{\"v\":1,\"seq\":0,\"ts\":\"t\",\"kind\":\"nap\"}"[..],
                "unknown record kind",
            ),
            (
                &b"{\"v\":1,\"seq\":0,\"ts\":\"t\",\"kind\":\"decision\"}"[..],
                "missing field `request_id`",
            ),
            (
                &b"{\"v\":1,\"seq\":0,\"ts\":\"t\",\"kind\":\"checkpoint\",\"size\":1}"[..],
                "missing field `root`",
            ),
            (
                &b"{\"v\":3,\"seq\":0,\"ts\":\"t\",\"kind\":\"shutdown\",\"reason\":\"x\"}"[..],
                "record format version 3 is newer than this build reads (2)",
            ),
        ] {
            let e = RecordView::parse(bytes).unwrap_err();
            assert!(e.contains(says), "{}: {e}", String::from_utf8_lossy(bytes));
            assert!(Record::from_line(bytes).is_err());
        }
    }

    #[test]
    fn the_head_is_read_only_in_the_writers_own_layout() {
        let shutdown = |s: &str| {
            format!(
                "{{\"v\":1,\"seq\":{s},\"ts\":\"{TS}\",\"kind\":\"shutdown\",\"reason\":\"x\"}}"
            )
        };
        let twelve = shutdown("12");
        assert!(
            RecordView::parse_head(
                b"{\"v\":3,\"seq\":1,\"ts\":\"t\",\"kind\":\"shutdown\",\"reason\":\"x\"}"
            )
            .is_none(),
            "a newer version is left to the full parse, which refuses it"
        );
        let head = RecordView::parse_head(twelve.as_bytes()).unwrap();
        assert_eq!((head.seq, head.kind), (12, KindView::Shutdown));
        for other in [
            shutdown("012"),
            shutdown("1 2"),
            shutdown("18446744073709551616"),
            shutdown("-1"),
            format!("{{\"seq\":1,\"v\":1,\"ts\":\"{TS}\",\"kind\":\"shutdown\",\"reason\":\"x\"}}"),
            format!(
                "{{ \"v\":1,\"seq\":1,\"ts\":\"{TS}\",\"kind\":\"shutdown\",\"reason\":\"x\"}}"
            ),
            format!("{{\"v\":1,\"seq\":1,\"ts\":\"\\u0032{TS}\",\"kind\":\"shutdown\"}}"),
            format!("{{\"v\":1,\"seq\":1,\"ts\":\"{TS}\",\"kind\":\"shutdownx\"}}"),
            format!(
                "{{\"v\":1,\"seq\":1,\"ts\":\"{TS}\",\"kind\":\"checkpoint\",\"size\":1,\"root\":\"A\"}}"
            ),
            format!("{{\"v\":4294967296,\"seq\":1,\"ts\":\"{TS}\",\"kind\":\"shutdown\"}}"),
        ] {
            assert_eq!(RecordView::parse_head(other.as_bytes()), None, "{other}");
        }
    }
}
