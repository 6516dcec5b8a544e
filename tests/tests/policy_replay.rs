//! `jurisgate policy replay` over a real recorded log, as a policy team
//! uses it before a rollout: the demo records its scripted traffic
//! (`demo --keep`), a candidate policy moves us-west out of the approved US
//! regions, and the replay must report exactly the decisions that change.
//! The expected changes are computed here from the records alone (a
//! recorded allow that included us-west for protected data loses us-west),
//! not by running a policy engine.

use std::collections::BTreeMap;
use std::path::Path;

use jurisgate_audit::Event;
use jurisgate_e2e::run_cli;
use serde_json::{Value, json};

/// Copies the policy folder `from` (its files and `samples/`) to `to`.
fn copy_policy(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, dest).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

fn summary(allow: bool, regions: &[String], reason: &str) -> String {
    if allow {
        let mut r = regions.to_vec();
        r.sort();
        r.dedup();
        format!("allow [{}]", r.join(", "))
    } else {
        format!("deny: {reason}")
    }
}

#[test]
fn replay_reports_exactly_the_decisions_a_region_change_affects() {
    let tmp = tempfile::tempdir().unwrap();
    let keep = tmp.path().join("demo");
    let (code, out, err) = run_cli(&["demo", "--keep", keep.to_str().unwrap()]);
    assert_eq!(code, 0, "demo failed:\n{out}\n{err}");
    let audit = keep.join("audit");

    // The candidate: us-west leaves the approved US regions.
    let candidate = tmp.path().join("candidate");
    copy_policy(&keep.join("policies/texas"), &candidate);
    let mut data: Value =
        serde_json::from_slice(&std::fs::read(candidate.join("data.json")).unwrap()).unwrap();
    assert_eq!(
        data["approved_regions"]["US"],
        json!(["us-east", "us-west"])
    );
    data["approved_regions"]["US"] = json!(["us-east"]);
    std::fs::write(candidate.join("data.json"), data.to_string()).unwrap();

    // Expected, from the records: (route, jurisdiction, before, after) → request ids.
    let mut expected: BTreeMap<(String, String, String, String), Vec<String>> = BTreeMap::new();
    let (mut with_input, mut without_input) = (0u64, 0u64);
    for record in jurisgate_audit::read_records(&audit).unwrap() {
        let Event::Decision(d) = record.unwrap().event else {
            continue;
        };
        if d.policy_input().is_none() {
            without_input += 1;
            continue;
        }
        with_input += 1;
        let protected = d.data_class.as_deref() == Some("protected");
        if !(d.decision.allow && protected && d.decision.regions.iter().any(|r| r == "us-west")) {
            continue;
        }
        let after: Vec<String> = d
            .decision
            .regions
            .iter()
            .filter(|r| *r != "us-west")
            .cloned()
            .collect();
        let key = (
            d.route.clone().unwrap_or_else(|| "-".into()),
            d.subject.jurisdiction.clone(),
            summary(true, &d.decision.regions, &d.decision.reason),
            summary(true, &after, ""),
        );
        expected.entry(key).or_default().push(d.request_id.clone());
    }
    let expected_changed: usize = expected.values().map(Vec::len).sum();
    assert!(
        expected_changed >= 3,
        "the demo should record several US protected allows: {expected:?}"
    );
    assert!(
        with_input > expected_changed as u64,
        "some recorded decisions must stay unchanged"
    );

    let (code, out, err) = run_cli(&[
        "policy",
        "replay",
        "--policy",
        candidate.to_str().unwrap(),
        "--audit",
        audit.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["replayed"], with_input, "{report:#}");
    assert_eq!(report["skipped"], without_input, "{report:#}");
    assert_eq!(report["changed"], expected_changed as u64, "{report:#}");
    let mut got = BTreeMap::new();
    for g in report["groups"].as_array().unwrap() {
        let key = (
            g["route"].as_str().unwrap().to_string(),
            g["jurisdiction"].as_str().unwrap().to_string(),
            g["before"].as_str().unwrap().to_string(),
            g["after"].as_str().unwrap().to_string(),
        );
        let ids = expected
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected change group {key:?} in {report:#}"));
        assert_eq!(g["count"], ids.len() as u64, "{key:?}");
        for example in g["examples"].as_array().unwrap() {
            assert!(
                ids.iter().any(|id| example == id),
                "{example} is not a changed request of {key:?}"
            );
        }
        got.insert(key, ());
    }
    assert_eq!(got.len(), expected.len(), "groups missing from {report:#}");

    // The unchanged policy re-decides every recorded decision the same way.
    let (code, out, err) = run_cli(&[
        "policy",
        "replay",
        "--policy",
        keep.join("policies/texas").to_str().unwrap(),
        "--audit",
        audit.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on-change",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let same: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (same["changed"].as_u64(), same["replayed"].as_u64()),
        (Some(0), Some(with_input))
    );

    // As a CI gate, the candidate fails; the table names the change.
    let (code, out, _) = run_cli(&[
        "policy",
        "replay",
        "--policy",
        candidate.to_str().unwrap(),
        "--audit",
        audit.to_str().unwrap(),
        "--fail-on-change",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("allow [us-east, us-west]") && out.contains("allow [us-east]"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{expected_changed} would change")),
        "{out}"
    );
}
