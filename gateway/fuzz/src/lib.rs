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

/// A fixed moment for the time checks of the attribution targets, so a run
/// is reproducible.
fn fuzz_now() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)
}

/// The verifier the `bearer_jwt` target checks tokens with: an Ed25519 key
/// generated once per run, so no fuzzer input can carry a valid signature.
fn jwt_verifier() -> &'static jurisgate_attribution::JwtVerifier {
    static VERIFIER: std::sync::OnceLock<jurisgate_attribution::JwtVerifier> =
        std::sync::OnceLock::new();
    VERIFIER.get_or_init(|| {
        let idp = jurisgate_attribution::dev_idp::DevIdp::generate("https://id.fuzz", "app");
        let keys = jurisgate_attribution::parse_jwks(idp.jwks_json().as_bytes())
            .unwrap_or_else(|e| panic!("the generated JWKS is refused: {e}"));
        let algorithms = jurisgate_attribution::parse_algorithms(&[
            "EdDSA".to_string(),
            "RS256".to_string(),
            "ES256".to_string(),
        ])
        .unwrap_or_else(|e| panic!("the fixed algorithm list is refused: {e}"));
        jurisgate_attribution::JwtVerifier::new(
            keys,
            "https://id.fuzz",
            "app",
            algorithms,
            std::time::Duration::from_secs(30),
        )
    })
}

/// `bearer_jwt`: the bytes as an `Authorization` value. `extract_bearer`,
/// `decode_jwt_header` and the full verifier never panic, an extracted
/// token is only base64url and dots, and nothing verifies (the key is
/// generated per run, so a success would be a forgery: `alg: none`, an
/// HMAC keyed with the public key, a `kid` pointing elsewhere).
pub fn bearer_jwt(data: &[u8]) {
    let _ = jurisgate_attribution::decode_jwt_header(data);
    let Ok(token) = jurisgate_attribution::extract_bearer(data) else {
        return;
    };
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
        "extracted token {token:?} has other bytes"
    );
    let _ = jurisgate_attribution::decode_jwt_header(token.as_bytes());
    let verified = jwt_verifier().verify(token, fuzz_now());
    assert!(
        verified.is_err(),
        "a token verified without the key: {token:?}"
    );
}

/// `jwks`: `parse_jwks` never panics, whatever the document.
pub fn jwks(data: &[u8]) {
    let _ = jurisgate_attribution::parse_jwks(data);
}

/// `signed_header`: `parse_signed_header` never panics; an accepted value
/// is exactly its canonical form (`signed_text` then `;sig=`), so one
/// identity has one spelling; and nothing verifies under a key the input
/// cannot know.
pub fn signed_header(data: &[u8]) {
    let Ok(identity) = jurisgate_attribution::parse_signed_header(data) else {
        return;
    };
    let prefix = format!("{};sig=", identity.signed_text());
    assert!(
        data.starts_with(prefix.as_bytes()),
        "{:?} parsed as {identity:?}, whose canonical form differs",
        String::from_utf8_lossy(data)
    );
    let verifier = jurisgate_attribution::SignedHeaderVerifier::new(
        b"jurisgate-fuzz-hmac-key-0123456789",
        std::time::Duration::from_secs(60),
    );
    // A timestamp past what SystemTime can hold cannot be "now"; the verifier
    // itself never builds a time from the header.
    let Some(now) = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(identity.ts))
    else {
        return;
    };
    assert!(
        verifier.verify(data, now).is_err() || is_signed_with_fuzz_key(data),
        "a signed header verified without the key"
    );
}

/// Whether `data` is the fuzz key's own signature (a seed may carry one).
fn is_signed_with_fuzz_key(data: &[u8]) -> bool {
    let Ok(identity) = jurisgate_attribution::parse_signed_header(data) else {
        return false;
    };
    jurisgate_attribution::sign_identity_header(
        b"jurisgate-fuzz-hmac-key-0123456789",
        &identity.user,
        identity.jurisdiction.as_deref(),
        identity.ts,
    )
    .as_bytes()
        == data
}

/// `forwarded_for`: the bytes as `X-Forwarded-For` header lines (split at
/// `\n`). `parse_forwarded_for` never panics and never returns more than
/// `MAX_FORWARDED_ENTRIES` addresses.
pub fn forwarded_for(data: &[u8]) {
    if let Ok(chain) = jurisgate_attribution::parse_forwarded_for(data.split(|b| *b == b'\n')) {
        assert!(chain.len() <= jurisgate_attribution::MAX_FORWARDED_ENTRIES);
    }
}

/// `audit_record`: `Record::from_line` never panics; a parsed record
/// serialises to a line that parses back to the same record, and that
/// line is stable (the leaf hash of a record does not depend on how it was
/// read).
pub fn audit_record(data: &[u8]) {
    let Ok(record) = jurisgate_audit::Record::from_line(data) else {
        return;
    };
    let line = record
        .to_line()
        .unwrap_or_else(|e| panic!("a parsed record does not serialise: {e}"));
    let again = jurisgate_audit::Record::from_line(&line).unwrap_or_else(|e| {
        panic!(
            "{:?} does not parse back: {e}",
            String::from_utf8_lossy(&line)
        )
    });
    let line_again = again
        .to_line()
        .unwrap_or_else(|e| panic!("a parsed record does not serialise: {e}"));
    assert_eq!(line, line_again, "serialising a record is not stable");
}

/// The note signer and verifier of the `checkpoint` target (a fixed seed).
fn note_keys() -> &'static (
    jurisgate_audit_tlog::NoteSigner,
    jurisgate_audit_tlog::NoteVerifier,
) {
    static KEYS: std::sync::OnceLock<(
        jurisgate_audit_tlog::NoteSigner,
        jurisgate_audit_tlog::NoteVerifier,
    )> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let signer = jurisgate_audit_tlog::NoteSigner::from_seed("fuzz.jurisgate/log", [7; 32])
            .unwrap_or_else(|e| panic!("the fixed note key is refused: {e}"));
        let verifier = signer.verifier();
        (signer, verifier)
    })
}

/// `checkpoint`: the bytes as checkpoint text and as a signed note.
/// `Checkpoint::parse`, `NoteVerifier::open` and `NoteVerifier::parse`
/// never panic; a parsed checkpoint's text parses back to it; text the
/// fixed key signs opens to exactly that text; and a note whose body is
/// altered after signing does not open.
pub fn checkpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (signer, verifier) = note_keys();
    let _ = jurisgate_audit_tlog::NoteVerifier::parse(text);
    let _ = verifier.open(text);
    if let Ok(cp) = jurisgate_audit_tlog::Checkpoint::parse(text) {
        let again = jurisgate_audit_tlog::Checkpoint::parse(&cp.to_text());
        assert_eq!(
            again.as_ref(),
            Ok(&cp),
            "checkpoint text does not round-trip"
        );
        if let Ok(note) = signer.sign(&cp.to_text()) {
            assert_eq!(
                verifier.open(&note),
                Ok(cp.to_text().as_str()),
                "a signed checkpoint does not open"
            );
            let tampered = note.replacen(&cp.origin, &format!("{}x", cp.origin), 1);
            assert!(verifier.open(&tampered).is_err(), "a tampered note opened");
        }
    }
}
