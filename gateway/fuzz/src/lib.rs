//! The bodies of jurisgate's fuzz targets, one function per target.
//!
//! Each function takes the fuzzer's bytes, feeds them to one parser of
//! untrusted input, and panics only when a property that must hold for every
//! input fails (a panic inside the parser is a finding too). The
//! `fuzz_targets/` binaries are three-line wrappers for libFuzzer, and
//! `tests/seed_corpus.rs` runs the same functions over the committed seed
//! corpus on stable Rust, so the targets are exercised on every CI run even
//! where libFuzzer is not.

use std::path::Path;

use jurisgate_attribution::Pseudonymizer;
use jurisgate_proxy::normalize;
use jurisgate_proxy::obligations;

/// `normalize_path`: never panics; an accepted target is canonical (starts
/// with `/`, no dot-segments, no `//`, no encoded or raw separators), is a
/// valid `http` path-and-query, and normalises to itself.
pub fn normalize_path(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(target) = normalize::normalize_path(raw) else {
        return;
    };
    let path = &target.path;
    assert!(path.starts_with('/'), "{raw:?} gave {path:?}");
    for bad in ["/../", "/./", "//", "%2F", "%5C", "%00", "\\", "?", "#"] {
        assert!(
            !path.contains(bad),
            "{raw:?} gave {path:?}, containing {bad:?}"
        );
    }
    assert!(
        !path.ends_with("/..") && !path.ends_with("/."),
        "{raw:?} gave {path:?}"
    );

    let mut again = path.clone();
    if let Some(query) = &target.query {
        again.push('?');
        again.push_str(query);
    }
    assert!(
        http::uri::PathAndQuery::try_from(again.as_str()).is_ok(),
        "{raw:?} gave {again:?}, which is not a valid URI path and query"
    );
    assert_eq!(
        normalize::normalize_path(&again),
        Ok(target),
        "{raw:?} is not idempotent"
    );
}

/// `json_obligations`: the input is three lines and a body: pointers to
/// pseudonymise (space-separated), pointers to redact, then the JSON body.
/// Never panics; an accepted body is rewritten to valid JSON, and redacting
/// the output again changes nothing but, possibly, the last digit of a float
/// (serde_json's default float parsing is not exact), so numbers are left
/// out of that comparison.
pub fn json_obligations(data: &[u8]) {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let (Some(pseudonymize), Some(redact), Some(body)) = (lines.next(), lines.next(), lines.next())
    else {
        return;
    };
    let pointers = |line: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(line)
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (pseudonymize, redact) = (pointers(pseudonymize), pointers(redact));
    let pseudonymizer = match Pseudonymizer::new(b"jurisgate-fuzz-pseudonym-key") {
        Ok(p) => p,
        Err(e) => panic!("the fixed fuzz key is rejected: {e}"),
    };

    let Ok(out) = obligations::apply_json_obligations(body, &pseudonymize, &redact, &pseudonymizer)
    else {
        return;
    };
    if pseudonymize.is_empty() && redact.is_empty() {
        assert_eq!(out, body, "a body without obligations was changed");
        return;
    }
    assert!(
        serde_json::from_slice::<serde_json::Value>(&out).is_ok(),
        "the output is not JSON: {:?}",
        String::from_utf8_lossy(&out)
    );
    if !redact.is_empty() {
        let twice = obligations::apply_json_obligations(&out, &[], &redact, &pseudonymizer);
        let twice = twice.unwrap_or_else(|e| panic!("the rewritten body is refused: {e}"));
        assert_eq!(
            without_numbers(&twice),
            without_numbers(&out),
            "redaction is not idempotent"
        );
    }
}

/// The JSON document in `bytes` with every number replaced by `null`.
fn without_numbers(bytes: &[u8]) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Number(_) => *value = serde_json::Value::Null,
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            serde_json::Value::Object(map) => map.values_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null);
    strip(&mut value);
    value
}

/// `config_parse`: `jurisgate_config::parse` never panics, whatever the text.
pub fn config_parse(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = jurisgate_config::parse(text, Path::new("fuzz.toml"));
    }
}
