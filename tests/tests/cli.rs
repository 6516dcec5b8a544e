//! The command line as a user meets it: `check` names the key and line of a
//! config error, `demo` runs and verifies itself, exit codes mean what the
//! README says.

use jurisgate_e2e::run_cli;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const BASE: &str = r#"
[server]
listen = "127.0.0.1:0"

[policy]
dir = "."

[audit]
dir = "audit"
signing_key = "k"
subject_key = "k"

[[route]]
name = "messages"
match = { path_prefix = "/v1/messages" }
data_class = "protected"
pools = ["us-east"]

[[pool]]
name = "us-east"
region = "us-east"
endpoints = ["http://127.0.0.1:9"]
"#;

#[test]
fn check_accepts_a_valid_config() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "k", "0123456789abcdef0123456789abcdef");
    let cfg = write(dir.path(), "ok.toml", BASE);
    let (code, out, err) = run_cli(&["check", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok (1 routes, 1 pools"), "{out}");
}

#[test]
fn check_names_the_key_and_line_of_each_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "k", "0123456789abcdef0123456789abcdef");
    let cases: &[(&str, &str, &str, &str)] = &[
        // (what, replace, with, expected in the message)
        (
            "unknown pool",
            "pools = [\"us-east\"]",
            "pools = [\"us-esat\"]",
            ":17:10: `route[0].pools[0]`: no pool is named `us-esat`",
        ),
        (
            "unknown data class",
            "data_class = \"protected\"",
            "data_class = \"secret\"",
            ":16:14: `route[0].data_class`: `secret` is not a data class",
        ),
        (
            "route without pools",
            "pools = [\"us-east\"]",
            "pools = []",
            "`route[0].pools`: route `messages` has no pools",
        ),
        (
            "typo in a key",
            "data_class =",
            "data_clas =",
            ":16:1: `data_clas`: unknown field `data_clas`, expected one of",
        ),
        (
            "bad endpoint",
            "http://127.0.0.1:9",
            "127.0.0.1:9",
            "`pool[0].endpoints[0]`: `127.0.0.1:9` must start with http://",
        ),
        (
            "bad duration",
            "[server]",
            "[server]\nidle_timeout = \"soon\"",
            "`soon` is not a duration",
        ),
        (
            "missing key file",
            "signing_key = \"k\"",
            "signing_key = \"nope.key\"",
            "`audit.signing_key`: signing key",
        ),
        (
            "bad region",
            "region = \"us-east\"",
            "region = \"US East\"",
            "`pool[0].region`: `US East` is not a region name",
        ),
        (
            "duplicate pool",
            "[[pool]]",
            "[[pool]]\nname = \"us-east\"\nregion = \"us-east\"\nendpoints = [\"http://127.0.0.1:9\"]\n\n[[pool]]",
            "pool `us-east` is defined twice",
        ),
    ];
    for (what, from, to, expected) in cases {
        assert!(BASE.contains(from), "{what}: bad test case");
        let cfg = write(dir.path(), "bad.toml", &BASE.replacen(from, to, 1));
        let (code, out, err) = run_cli(&["check", "--config", &cfg]);
        assert_eq!(code, 2, "{what}: exit code; out={out} err={err}");
        assert!(err.contains("bad.toml"), "{what}: file not named: {err}");
        assert!(
            err.contains(expected),
            "{what}: expected {expected:?} in {err:?}"
        );
    }
}

#[test]
fn the_demo_runs_and_verifies_its_own_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("demo");
    let (code, out, err) = run_cli(&["demo", "--keep", &keep.display().to_string()]);
    assert_eq!(code, 0, "demo failed:\n{out}\n{err}");
    assert!(out.contains("every expectation held"), "{out}");
    assert!(out.contains("audit log: verified"), "{out}");
    // What --keep leaves behind works with the auditor's tools.
    let audit = keep.join("audit").display().to_string();
    let vkey = keep.join("audit.vkey").display().to_string();
    let (code, out, err) = run_cli(&["audit", "verify", &audit, "--key", &vkey]);
    assert_eq!(code, 0, "verify failed: {out}{err}");
}
