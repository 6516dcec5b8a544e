//! Checking the shape of what `data.jurisgate.decision` returned and turning
//! it into a [`Decision`]. Pure: no engine, no I/O.
//!
//! The check is strict on purpose. Unknown keys are refused rather than
//! ignored, because a typo such as `obligation` would otherwise silently drop
//! a pseudonymisation the author meant to impose. Whatever fails here becomes
//! a `policy_error` deny at the gateway.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::{Decision, Obligations};

/// What is wrong with a decision value. The message names the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ShapeError {
    /// The key at fault, as a path such as `obligations.pseudonymize[1]`.
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

fn err(key: impl Into<String>, problem: impl Into<String>) -> ShapeError {
    ShapeError {
        key: key.into(),
        problem: problem.into(),
    }
}

const DECISION_KEYS: [&str; 4] = ["allow", "regions", "reason", "obligations"];
const OBLIGATION_KEYS: [&str; 3] = ["pseudonymize", "redact", "response_headers"];

/// Checks `value` against the policy contract and builds the [`Decision`].
///
/// # Errors
/// A [`ShapeError`] naming the first key that is missing, unknown or of the
/// wrong type; `allow: true` with no region is an error too.
pub fn decision_from_json(value: &Value) -> Result<Decision, ShapeError> {
    let obj = value.as_object().ok_or_else(|| {
        err(
            "decision",
            format!("expected an object, got {}", kind(value)),
        )
    })?;
    refuse_unknown_keys(obj, &DECISION_KEYS, "")?;
    let allow = match obj.get("allow") {
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(err(
                "allow",
                format!("expected a boolean, got {}", kind(other)),
            ));
        }
        None => return Err(err("allow", "missing (it is required)")),
    };
    let regions = match obj.get("regions") {
        Some(v) => strings(v, "regions")?,
        None => Vec::new(),
    };
    if allow && regions.is_empty() {
        return Err(err(
            "regions",
            "must name at least one region when allow is true",
        ));
    }
    if let Some((i, _)) = regions.iter().enumerate().find(|(_, r)| r.is_empty()) {
        return Err(err(format!("regions[{i}]"), "empty region name"));
    }
    let reason = match obj.get("reason") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(err(
                "reason",
                format!("expected a string, got {}", kind(other)),
            ));
        }
        None => String::new(),
    };
    let obligations = match obj.get("obligations") {
        Some(v) => obligations(v)?,
        None => Obligations::default(),
    };
    Ok(Decision {
        allow,
        // A denial carries no regions, whatever the policy listed, so nothing
        // downstream can mistake a deny for a destination list.
        regions: if allow { regions } else { Vec::new() },
        reason,
        obligations,
    })
}

fn obligations(value: &Value) -> Result<Obligations, ShapeError> {
    let obj = value.as_object().ok_or_else(|| {
        err(
            "obligations",
            format!("expected an object, got {}", kind(value)),
        )
    })?;
    refuse_unknown_keys(obj, &OBLIGATION_KEYS, "obligations.")?;
    let pointers = |name: &str| -> Result<Vec<String>, ShapeError> {
        let key = format!("obligations.{name}");
        let list = match obj.get(name) {
            Some(v) => strings(v, &key)?,
            None => Vec::new(),
        };
        for (i, p) in list.iter().enumerate() {
            // The proxy applies these as RFC 6901 pointers; one it cannot
            // apply would leave a field in the clear.
            if !p.starts_with('/') {
                return Err(err(
                    format!("{key}[{i}]"),
                    format!("{p:?} is not a JSON pointer (it must start with '/')"),
                ));
            }
        }
        Ok(list)
    };
    let pseudonymize = pointers("pseudonymize")?;
    let redact = pointers("redact")?;
    let mut response_headers = BTreeMap::new();
    if let Some(v) = obj.get("response_headers") {
        let headers = v.as_object().ok_or_else(|| {
            err(
                "obligations.response_headers",
                format!("expected an object, got {}", kind(v)),
            )
        })?;
        for (name, value) in headers {
            let key = format!("obligations.response_headers.{name}");
            if !is_header_name(name) {
                return Err(err(key, "not a valid lower-case HTTP header name"));
            }
            let Value::String(value) = value else {
                return Err(err(key, format!("expected a string, got {}", kind(value))));
            };
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(err(key, "header value contains CR, LF or NUL"));
            }
            response_headers.insert(name.clone(), value.clone());
        }
    }
    Ok(Obligations {
        pseudonymize,
        redact,
        response_headers,
    })
}

fn refuse_unknown_keys(
    obj: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
) -> Result<(), ShapeError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(err(
            format!("{prefix}{k}"),
            format!("unknown key (expected one of: {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn strings(value: &Value, key: &str) -> Result<Vec<String>, ShapeError> {
    let items = value.as_array().ok_or_else(|| {
        err(
            key,
            format!("expected an array of strings, got {}", kind(value)),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(err(
                format!("{key}[{i}]"),
                format!("expected a string, got {}", kind(other)),
            )),
        })
        .collect()
}

/// RFC 9110 token characters, lower case only (HTTP/2 requires it).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_full_decision_is_accepted() {
        let d = decision_from_json(&json!({
            "allow": true, "regions": ["us-east", "us-west"], "reason": "ok",
            "obligations": {"pseudonymize": ["/user/email"], "redact": ["/user/phone"],
                            "response_headers": {"x-data-class": "protected"}}
        }))
        .unwrap();
        assert!(d.allow);
        assert_eq!(d.regions, ["us-east", "us-west"]);
        assert_eq!(d.obligations.pseudonymize, ["/user/email"]);
        assert_eq!(d.obligations.response_headers["x-data-class"], "protected");
    }

    #[test]
    fn a_deny_needs_only_allow_and_drops_regions() {
        let d = decision_from_json(&json!({"allow": false, "regions": ["us-east"]})).unwrap();
        assert!(!d.allow);
        assert!(d.regions.is_empty());
    }

    #[test]
    fn wrong_shapes_name_the_key() {
        let cases = [
            (json!([]), "decision"),
            (json!({"regions": ["us-east"]}), "allow"),
            (json!({"allow": "yes", "regions": ["us-east"]}), "allow"),
            (json!({"allow": true}), "regions"),
            (json!({"allow": true, "regions": []}), "regions"),
            (json!({"allow": true, "regions": [""]}), "regions[0]"),
            (json!({"allow": true, "regions": "us-east"}), "regions"),
            (json!({"allow": true, "regions": ["a", 1]}), "regions[1]"),
            (json!({"allow": false, "reason": 3}), "reason"),
            (json!({"allow": false, "obligation": {}}), "obligation"),
            (
                json!({"allow": false, "obligations": {"pseudonymise": []}}),
                "obligations.pseudonymise",
            ),
            (
                json!({"allow": false, "obligations": {"redact": ["user.email"]}}),
                "obligations.redact[0]",
            ),
            (
                json!({"allow": false, "obligations": {"response_headers": {"X-Up": "a"}}}),
                "obligations.response_headers.X-Up",
            ),
            (
                json!({"allow": false, "obligations": {"response_headers": {"x": "a\r\nb: c"}}}),
                "obligations.response_headers.x",
            ),
            (
                json!({"allow": false, "obligations": {"response_headers": {"x": 1}}}),
                "obligations.response_headers.x",
            ),
        ];
        for (value, key) in cases {
            let e = decision_from_json(&value).unwrap_err();
            assert_eq!(e.key, key, "for {value}");
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z/_-]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("allow".to_string()),
                        Just("regions".to_string()),
                        Just("reason".to_string()),
                        Just("obligations".to_string()),
                        Just("pseudonymize".to_string()),
                        Just("response_headers".to_string()),
                        "[a-z]{1,5}"
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        // Whatever a policy returns, the checker never panics and never
        // lets an allow through without a region.
        #[test]
        fn hostile_values_never_allow_without_region(v in arb_json()) {
            if let Ok(d) = decision_from_json(&v) {
                prop_assert!(!d.allow || !d.regions.is_empty());
            }
        }
    }
}
