//! Runs every fuzz target over its committed seed corpus with the ordinary
//! test harness, so the targets and their seeds are checked on stable Rust
//! without libFuzzer (`cargo test --manifest-path gateway/fuzz/Cargo.toml`).

use std::path::PathBuf;

/// Feeds every file in `corpus/<target>/` to `run`; returns how many.
fn run_corpus(target: &str, run: fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("{target}: {}", path.display());
        run(&data);
        count += 1;
    }
    count
}

#[test]
fn normalize_path_seeds() {
    assert!(run_corpus("normalize_path", jurisgate_fuzz::normalize_path) >= 5);
}

#[test]
fn json_obligations_seeds() {
    assert!(run_corpus("json_obligations", jurisgate_fuzz::json_obligations) >= 5);
}

#[test]
fn config_parse_seeds() {
    assert!(run_corpus("config_parse", jurisgate_fuzz::config_parse) >= 3);
}

#[test]
fn bearer_jwt_seeds() {
    assert!(run_corpus("bearer_jwt", jurisgate_fuzz::bearer_jwt) >= 5);
}

#[test]
fn jwks_seeds() {
    assert!(run_corpus("jwks", jurisgate_fuzz::jwks) >= 5);
}

#[test]
fn signed_header_seeds() {
    assert!(run_corpus("signed_header", jurisgate_fuzz::signed_header) >= 5);
}

#[test]
fn forwarded_for_seeds() {
    assert!(run_corpus("forwarded_for", jurisgate_fuzz::forwarded_for) >= 4);
}

#[test]
fn audit_record_seeds() {
    assert!(run_corpus("audit_record", jurisgate_fuzz::audit_record) >= 6);
}

#[test]
fn checkpoint_seeds() {
    assert!(run_corpus("checkpoint", jurisgate_fuzz::checkpoint) >= 5);
}
