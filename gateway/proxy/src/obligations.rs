//! Response obligations: pseudonymise and redact fields of a JSON response
//! body, and set response headers, as the policy decision demands.
//!
//! Fields are named by JSON pointers (RFC 6901, with the `~0` and `~1`
//! escapes), extended by one wildcard: a segment that is exactly `*` stands
//! for every element of an array or every member of an object, so
//! `/items/*/email` reaches the email of every item. (A member literally
//! named `*` is therefore reached by the wildcard too, and only by it.)
//!
//! These are pure functions over bytes. They fail rather than guess: a body
//! that is not JSON, or nested deeper than [`MAX_JSON_DEPTH`], is an
//! [`ObligationError`], and the proxy answers 502 instead of passing the
//! body on unredacted. Decompressing a body or fixing `Content-Length` is
//! the caller's job.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use jurisgate_attribution::Pseudonymizer;
use serde_json::Value;

use crate::normalize::{GATEWAY_PREFIX, HOP_BY_HOP};

/// Deepest nesting of arrays and objects accepted in a body. It stays below
/// serde_json's own recursion limit (128); checking first gives an error
/// that names the byte, and bounds the recursive walk and drop.
pub const MAX_JSON_DEPTH: usize = 100;

/// Why an obligation could not be met (the proxy answers 502).
#[derive(Debug, thiserror::Error)]
pub enum ObligationError {
    /// The body is not a JSON document.
    #[error("response body is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The body nests arrays and objects deeper than [`MAX_JSON_DEPTH`].
    #[error("response body nests deeper than {MAX_JSON_DEPTH} levels at byte {offset}")]
    TooDeep {
        /// Byte offset of the bracket that went past the limit.
        offset: usize,
    },
    /// An obligation's pointer is not an RFC 6901 pointer.
    #[error("obligation pointer {pointer:?} is invalid: {problem}")]
    InvalidPointer {
        /// The pointer as the policy gave it.
        pointer: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A `response_headers` name is not a valid header name.
    #[error("response header name {0:?} is invalid")]
    InvalidHeaderName(String),
    /// A `response_headers` value is not a valid header value.
    #[error("response header {name:?} has an invalid value (control characters?)")]
    InvalidHeaderValue {
        /// The header's name.
        name: String,
    },
    /// The policy asked to set a header only the gateway or the connection owns.
    #[error(
        "response header {0:?} may not be set by a policy (hop-by-hop, framing or x-jurisgate-*)"
    )]
    ForbiddenHeader(String),
}

impl ObligationError {
    /// A short machine-readable reason for the audit log and metrics.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not_json",
            Self::TooDeep { .. } => "json_too_deep",
            Self::InvalidPointer { .. } => "invalid_pointer",
            Self::InvalidHeaderName(_) => "invalid_header_name",
            Self::InvalidHeaderValue { .. } => "invalid_header_value",
            Self::ForbiddenHeader(_) => "forbidden_header",
        }
    }
}

/// Rewrites a JSON response body: every value reached by a `pseudonymize`
/// pointer is replaced by its pseudonym, then every value reached by a
/// `redact` pointer is removed, so a field named by both is removed.
///
/// - A string is replaced by `pseudonymizer.pseudonym(string)`; any other
///   value (number, boolean, array, object) by the pseudonym of its compact
///   JSON text, so no part of it survives; `null` stays `null`, as it
///   carries nothing.
/// - Redacting an object member removes it; redacting an array element
///   replaces it with `null`, so the indices other pointers name stay valid;
///   redacting the whole document (pointer `""`) leaves `null`.
/// - A pointer that reaches nothing is not an error: there is nothing to
///   hide. An array index is `0` or digits without a leading zero; `-` never
///   matches.
///
/// With no pointers at all, the body is returned unchanged and not parsed.
/// Otherwise the output is re-serialised compact JSON: member order is
/// kept, a member repeated in the input keeps only its last value, and
/// numbers go through serde_json's `u64`/`i64`/`f64`, so `1e3` is written
/// `1000.0`, integers beyond 64 bits lose precision, and without serde_json's
/// `float_roundtrip` feature a float may move by one unit in its last place.
///
/// # Errors
/// [`ObligationError::InvalidPointer`] for a malformed pointer,
/// [`ObligationError::TooDeep`] or [`ObligationError::NotJson`] for a body
/// that cannot be rewritten safely.
pub fn apply_json_obligations(
    body: &[u8],
    pseudonymize: &[String],
    redact: &[String],
    pseudonymizer: &Pseudonymizer,
) -> Result<Vec<u8>, ObligationError> {
    if pseudonymize.is_empty() && redact.is_empty() {
        return Ok(body.to_vec());
    }
    // Pointers first: a policy mistake is reported as such, whatever the body.
    let pseudonymize = pseudonymize
        .iter()
        .map(|p| parse_pointer(p))
        .collect::<Result<Vec<_>, _>>()?;
    let redact = redact
        .iter()
        .map(|p| parse_pointer(p))
        .collect::<Result<Vec<_>, _>>()?;

    check_depth(body)?;
    let mut document: Value = serde_json::from_slice(body).map_err(ObligationError::NotJson)?;
    for pointer in &pseudonymize {
        visit(&mut document, pointer, &mut |value| {
            pseudonymize_value(value, pseudonymizer)
        });
    }
    for pointer in &redact {
        if pointer.is_empty() {
            document = Value::Null;
        } else {
            redact_at(&mut document, pointer);
        }
    }
    serde_json::to_vec(&document).map_err(ObligationError::NotJson)
}

/// One step of a pointer.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// `*`: every element or member.
    All,
    /// A member name or array index, unescaped.
    Key(String),
}

fn parse_pointer(pointer: &str) -> Result<Vec<Step>, ObligationError> {
    let invalid = |problem| ObligationError::InvalidPointer {
        pointer: pointer.to_string(),
        problem,
    };
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(invalid("a non-empty pointer must start with '/'"));
    };
    rest.split('/')
        .map(|token| {
            if token == "*" {
                return Ok(Step::All);
            }
            let mut key = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    key.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => key.push('~'),
                    Some('1') => key.push('/'),
                    _ => return Err(invalid("'~' must be followed by '0' or '1'")),
                }
            }
            Ok(Step::Key(key))
        })
        .collect()
}

/// RFC 6901 §4 array index: `0`, or digits without a leading zero.
fn array_index(key: &str) -> Option<usize> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// Calls `apply` on every value `pointer` reaches in `value`. Recursion is
/// bounded by the pointer's length and the document's depth.
fn visit(value: &mut Value, pointer: &[Step], apply: &mut dyn FnMut(&mut Value)) {
    let Some((step, rest)) = pointer.split_first() else {
        apply(value);
        return;
    };
    match (value, step) {
        (Value::Object(map), Step::All) => {
            for child in map.values_mut() {
                visit(child, rest, apply);
            }
        }
        (Value::Array(items), Step::All) => {
            for child in items {
                visit(child, rest, apply);
            }
        }
        (Value::Object(map), Step::Key(key)) => {
            if let Some(child) = map.get_mut(key) {
                visit(child, rest, apply);
            }
        }
        (Value::Array(items), Step::Key(key)) => {
            if let Some(child) = array_index(key).and_then(|i| items.get_mut(i)) {
                visit(child, rest, apply);
            }
        }
        _ => {}
    }
}

/// Removes what a non-empty `pointer` reaches: the parent is visited, then
/// the last step is removed from it.
fn redact_at(document: &mut Value, pointer: &[Step]) {
    let Some((last, parent)) = pointer.split_last() else {
        return;
    };
    visit(document, parent, &mut |container| match (container, last) {
        (Value::Object(map), Step::All) => map.clear(),
        (Value::Array(items), Step::All) => items.iter_mut().for_each(|v| *v = Value::Null),
        (Value::Object(map), Step::Key(key)) => {
            map.shift_remove(key.as_str());
        }
        (Value::Array(items), Step::Key(key)) => {
            if let Some(item) = array_index(key).and_then(|i| items.get_mut(i)) {
                *item = Value::Null;
            }
        }
        _ => {}
    });
}

fn pseudonymize_value(value: &mut Value, pseudonymizer: &Pseudonymizer) {
    let pseudonym = match &*value {
        Value::Null => return,
        Value::String(s) => pseudonymizer.pseudonym(s),
        other => pseudonymizer.pseudonym(&other.to_string()),
    };
    *value = Value::String(pseudonym);
}

/// Refuses bodies nesting deeper than [`MAX_JSON_DEPTH`], by counting
/// brackets outside strings, before any recursive parser sees them.
fn check_depth(body: &[u8]) -> Result<(), ObligationError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &b) in body.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ObligationError::TooDeep { offset });
                }
            }
            // Unbalanced input is the parser's to reject.
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Sets the response headers a decision asks for, replacing any the
/// upstream sent under the same names.
///
/// All names and values are checked before any is set, so a bad entry
/// leaves `headers` untouched. Refused: invalid names or values, hop-by-hop
/// headers (the connection owns them), `content-length` (the body's framing)
/// and `x-jurisgate-*` (only the gateway speaks with that voice, so a policy
/// cannot forge, say, the region a client is told).
///
/// # Errors
/// [`ObligationError::InvalidHeaderName`],
/// [`ObligationError::InvalidHeaderValue`] or
/// [`ObligationError::ForbiddenHeader`] for the first bad entry.
pub fn apply_response_headers(
    headers: &mut HeaderMap,
    set: &BTreeMap<String, String>,
) -> Result<(), ObligationError> {
    let mut checked = Vec::with_capacity(set.len());
    for (name, value) in set {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ObligationError::InvalidHeaderName(name.clone()))?;
        let lower = header.as_str();
        if HOP_BY_HOP.contains(&lower)
            || lower == "content-length"
            || lower.starts_with(GATEWAY_PREFIX)
        {
            return Err(ObligationError::ForbiddenHeader(name.clone()));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| ObligationError::InvalidHeaderValue { name: name.clone() })?;
        checked.push((header, value));
    }
    for (name, value) in checked {
        headers.insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn pseudonymizer() -> Pseudonymizer {
        Pseudonymizer::new(b"obligations-test-key").unwrap()
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    fn apply(body: &Value, pseudonymize: &[&str], redact: &[&str]) -> Value {
        let bytes = serde_json::to_vec(body).unwrap();
        let out = apply_json_obligations(
            &bytes,
            &strings(pseudonymize),
            &strings(redact),
            &pseudonymizer(),
        )
        .unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn pseudonymizes_and_redacts_the_design_example() {
        let p = pseudonymizer();
        let body = json!({"user": {"id": 42, "email": "alice@example.com", "phone": "+1 555 0100", "name": "Alice"}});
        let out = apply(&body, &["/user/email"], &["/user/phone"]);
        assert_eq!(
            out,
            json!({"user": {"id": 42, "email": p.pseudonym("alice@example.com"), "name": "Alice"}})
        );
    }

    #[test]
    fn pointer_escapes_name_slash_and_tilde_members() {
        let p = pseudonymizer();
        let body = json!({"a/b": "slash", "m~n": "tilde", "a": {"b": "nested"}, "~1": "literal"});
        let out = apply(&body, &["/a~1b", "/m~0n"], &["/~01"]);
        assert_eq!(
            out,
            json!({"a/b": p.pseudonym("slash"), "m~n": p.pseudonym("tilde"), "a": {"b": "nested"}})
        );
    }

    #[test]
    fn wildcards_reach_every_element_and_member() {
        let p = pseudonymizer();
        let body = json!({"items": [
            {"email": "a@x", "phone": "1", "keep": true},
            {"email": "b@x", "keep": false},
            {"phone": "3"},
            "not an object"
        ], "by_id": {"k1": {"ssn": "111"}, "k2": {"ssn": "222"}}});
        let out = apply(
            &body,
            &["/items/*/email"],
            &["/items/*/phone", "/by_id/*/ssn"],
        );
        assert_eq!(
            out,
            json!({"items": [
                {"email": p.pseudonym("a@x"), "keep": true},
                {"email": p.pseudonym("b@x"), "keep": false},
                {},
                "not an object"
            ], "by_id": {"k1": {}, "k2": {}}})
        );
    }

    #[test]
    fn nested_arrays_and_indices() {
        let p = pseudonymizer();
        let body = json!({"m": [["a", "b"], ["c", "d", "e"]]});
        let out = apply(
            &body,
            &["/m/*/1"],
            &["/m/1/0", "/m/1/2", "/m/01", "/m/-", "/m/9"],
        );
        assert_eq!(
            out,
            json!({"m": [["a", p.pseudonym("b")], [null, p.pseudonym("d"), null]]})
        );
        let out = apply(&body, &[], &["/m/*/*"]);
        assert_eq!(out, json!({"m": [[null, null], [null, null, null]]}));
    }

    #[test]
    fn non_string_values_become_pseudonyms_of_their_json_text() {
        let p = pseudonymizer();
        let body = json!({"n": 4_155_550_100_u64, "f": 1.5, "b": true, "z": null,
                          "o": {"street": "1 Main St"}, "a": [1, "two"]});
        let out = apply(&body, &["/n", "/f", "/b", "/z", "/o", "/a"], &[]);
        assert_eq!(
            out,
            json!({"n": p.pseudonym("4155550100"), "f": p.pseudonym("1.5"), "b": p.pseudonym("true"),
                   "z": null, "o": p.pseudonym(r#"{"street":"1 Main St"}"#),
                   "a": p.pseudonym(r#"[1,"two"]"#)})
        );
    }

    #[test]
    fn redact_wins_over_pseudonymize_and_root_pointers_work() {
        let body = json!({"email": "a@x", "other": 1});
        assert_eq!(apply(&body, &["/email"], &["/email"]), json!({"other": 1}));
        assert_eq!(apply(&body, &[], &[""]), Value::Null);
        let p = pseudonymizer();
        assert_eq!(apply(&json!("raw"), &[""], &[]), json!(p.pseudonym("raw")));
    }

    #[test]
    fn pointers_that_match_nothing_change_nothing() {
        let body = json!({"user": {"email": "a@x"}, "list": [1, 2]});
        let out = apply(
            &body,
            &["/nope", "/user/email/deeper", "/list/x", "/list/*/y"],
            &["/user/none", "/x/*"],
        );
        assert_eq!(out, body);
    }

    #[test]
    fn member_order_is_kept() {
        let body = br#"{"z":1,"email":"a@x","a":2}"#;
        let out =
            apply_json_obligations(body, &[], &strings(&["/email"]), &pseudonymizer()).unwrap();
        assert_eq!(out, br#"{"z":1,"a":2}"#);
    }

    #[test]
    fn numbers_and_duplicates_outside_pointers() {
        let body = br#"{"a":42,"b":-7,"c":1.5,"d":1e3,"e":"x","e":"y","gone":0}"#;
        let out =
            apply_json_obligations(body, &[], &strings(&["/gone"]), &pseudonymizer()).unwrap();
        assert_eq!(out, br#"{"a":42,"b":-7,"c":1.5,"d":1000.0,"e":"y"}"#);
    }

    #[test]
    fn no_pointers_pass_the_body_through_unparsed() {
        let body = b"<html>not json</html>";
        let out = apply_json_obligations(body, &[], &[], &pseudonymizer()).unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn invalid_json_is_an_error() {
        for body in [
            &b""[..],
            b"<html>",
            b"{\"a\":",
            b"{\"a\":1} trailing",
            b"\xff\xfe",
        ] {
            let err =
                apply_json_obligations(body, &[], &strings(&["/a"]), &pseudonymizer()).unwrap_err();
            assert_eq!(err.reason(), "not_json", "{body:?}: {err}");
        }
    }

    #[test]
    fn deep_json_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = apply_json_obligations(deep.as_bytes(), &[], &strings(&["/0"]), &pseudonymizer())
            .unwrap_err();
        assert!(
            matches!(
                err,
                ObligationError::TooDeep {
                    offset: MAX_JSON_DEPTH
                }
            ),
            "{err}"
        );
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        let out = apply_json_obligations(ok.as_bytes(), &[], &strings(&["/0"]), &pseudonymizer());
        assert!(out.is_ok(), "{out:?}");
        // Brackets inside strings do not count.
        let quoted = format!(r#"{{"a":"{}"}}"#, "[\\\"".repeat(1000));
        apply_json_obligations(quoted.as_bytes(), &[], &strings(&["/a"]), &pseudonymizer())
            .unwrap();
    }

    #[test]
    fn invalid_pointers_are_errors() {
        for pointer in ["email", "/a~", "/a~2", "/~x"] {
            let err = apply_json_obligations(b"{}", &strings(&[pointer]), &[], &pseudonymizer())
                .unwrap_err();
            assert_eq!(err.reason(), "invalid_pointer", "{pointer}: {err}");
            assert!(err.to_string().contains(pointer), "{err}");
        }
    }

    #[test]
    fn response_headers_are_set_and_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert("x-data-class", HeaderValue::from_static("upstream-said"));
        let set = BTreeMap::from([
            ("x-data-class".to_string(), "protected".to_string()),
            ("Cache-Control".to_string(), "no-store".to_string()),
        ]);
        apply_response_headers(&mut headers, &set).unwrap();
        assert_eq!(headers["x-data-class"], "protected");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn forbidden_or_invalid_response_headers_change_nothing() {
        let cases = [
            ("x-jurisgate-region", "eu-west", "forbidden_header"),
            ("X-Jurisgate-Jurisdiction", "US", "forbidden_header"),
            ("connection", "close", "forbidden_header"),
            ("transfer-encoding", "chunked", "forbidden_header"),
            ("content-length", "0", "forbidden_header"),
            ("bad name", "v", "invalid_header_name"),
            ("", "v", "invalid_header_name"),
            ("x-ok", "line\r\nx-injected: 1", "invalid_header_value"),
        ];
        for (name, value, reason) in cases {
            let mut headers = HeaderMap::new();
            let set = BTreeMap::from([
                ("a-first".to_string(), "1".to_string()),
                (name.to_string(), value.to_string()),
            ]);
            let err = apply_response_headers(&mut headers, &set).unwrap_err();
            assert_eq!(err.reason(), reason, "{name}: {err}");
            assert!(
                headers.is_empty(),
                "{name}: a header was set before the error"
            );
        }
    }

    /// JSON values whose leaves are marked strings and numbers.
    fn document() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            "[a-z]{1,6}".prop_map(|s| Value::String(format!("SECRET-{s}"))),
            any::<u32>().prop_map(|n| json!(u64::from(n) + 7_000_000_000)),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Asserts that no leaf of `value` is a raw value: only pseudonyms and nulls.
    fn only_pseudonyms(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::String(s) => s.starts_with("hs256:"),
            Value::Array(items) => items.iter().all(only_pseudonyms),
            Value::Object(map) => map.values().all(only_pseudonyms),
            Value::Bool(_) | Value::Number(_) => false,
        }
    }

    proptest! {
        #[test]
        fn raw_values_never_appear_in_the_output(
            items in prop::collection::vec(document(), 0..4),
            redact in any::<bool>(),
        ) {
            let doc = Value::Array(items);
            // `/*`, `/*/*`, ... reach every value at every depth.
            let pointers: Vec<String> = (1..8).map(|depth| "/*".repeat(depth)).collect();
            let (pseudo, red) = if redact { (vec![], pointers) } else { (pointers, vec![]) };
            let bytes = serde_json::to_vec(&doc).unwrap();
            let out = apply_json_obligations(&bytes, &pseudo, &red, &pseudonymizer()).unwrap();
            let text = String::from_utf8(out).unwrap();
            prop_assert!(!text.contains("SECRET-"), "{text}");
            let parsed: Value = serde_json::from_str(&text).unwrap();
            prop_assert!(only_pseudonyms(&parsed), "{text}");
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = apply_json_obligations(&body, &strings(&["/a/*"]), &strings(&["/*/0"]), &pseudonymizer());
        }
    }
}
