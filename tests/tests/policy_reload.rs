//! Hot policy reload in the running binary, as an operator sees it: a broken
//! policy dropped into the folder changes no decision and counts as
//! refused; a good change takes effect without a restart and is recorded in
//! a `policy_loaded` record; SIGHUP reloads too, and also reads the identity
//! provider's JWKS again (a key rotation without a restart). Every wait
//! polls with a deadline.
//!
//! The change used throughout moves us-west out of the approved US regions.
//! With us-east down, a US user's write fails over to us-west before the
//! change and is refused (503, nowhere) after it.

use std::path::Path;
use std::time::Duration;

use http::{Method, StatusCode};
use jurisgate_audit::Event;
use jurisgate_e2e::{Harness, Who};
use serde_json::json;

const REFUSED: &str = "jurisgate_policy_reloads_total{result=\"refused\"}";
const RELOADED: &str = "jurisgate_policy_reloads_total{result=\"ok\"}";

/// Writes `text` to `dir/name` in one step (a rename), so the folder watcher
/// never sees a half-written file.
fn put(dir: &Path, name: &str, text: &str) {
    let tmp = dir
        .parent()
        .expect("policy folder has a parent")
        .join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join(name)).expect("rename");
}

/// The approved US regions become us-east only. The tests are first made to
/// read the approved set from the data, so no intermediate state of the
/// folder fails its own tests.
fn move_us_west_out(dir: &Path) {
    let tests = std::fs::read_to_string(dir.join("texas_test.rego")).expect("tests");
    assert!(
        tests.contains("d.regions == [\"us-east\", \"us-west\"]"),
        "the shipped tests changed; update this test"
    );
    put(
        dir,
        "texas_test.rego",
        &tests.replace(
            "d.regions == [\"us-east\", \"us-west\"]",
            "d.regions == data.approved_regions.US",
        ),
    );
    let mut data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("data.json")).expect("data")).expect("json");
    data["approved_regions"]["US"] = json!(["us-east"]);
    put(
        dir,
        "data.json",
        &serde_json::to_string_pretty(&data).expect("json"),
    );
}

const BROKEN: &str = "package jurisgate\n\ndecision := {\"allow\": true,, }\n";

/// Polls `/metrics` until `series` reaches `want` (15 s deadline: the
/// watcher polls once a second and a reload runs the policy's tests).
async fn wait_metric(h: &Harness, series: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = h.metric(series).await;
        if now == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} is {now:?}, waited for {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A US user's write with us-east down: (status, regions that received it).
async fn us_write(h: &Harness, id: &str) -> (StatusCode, Vec<String>, String) {
    let r = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            &format!("/v1/messages/{id}"),
            Some(json!({"text": id})),
        )
        .await;
    let seen = h.regions_that_saw(&r.request_id);
    (r.status, seen, r.request_id)
}

fn policy_loaded(records: &[jurisgate_audit::Record]) -> Vec<(String, String)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::PolicyLoaded(p) => Some((p.revision.clone(), p.engine.clone())),
            _ => None,
        })
        .collect()
}

fn decision_revision(records: &[jurisgate_audit::Record], id: &str) -> Option<String> {
    records.iter().find_map(|r| match &r.event {
        Event::Decision(d) if d.request_id == id => d.policy_revision.clone(),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_policy_changes_nothing_and_a_good_one_takes_effect_without_restart() {
    let mut h = Harness::start().await;
    let dir = h.files.policy_dir.clone();
    h.store("us-east").set_up(false);
    h.wait_for_region("us-east", false).await;
    let before = h.policy_revision().await;
    let (status, seen, _) = us_write(&h, "m1").await;
    assert_eq!(
        (status, seen),
        (StatusCode::CREATED, vec!["us-west".to_string()])
    );
    assert_eq!(h.metric(REFUSED).await, Some(0.0));

    // A broken module dropped into the folder: refused, counted, old policy keeps deciding.
    put(&dir, "broken.rego", BROKEN);
    wait_metric(&h, REFUSED, 1.0).await;
    assert_eq!(h.policy_revision().await, before);
    let (status, seen, _) = us_write(&h, "m2").await;
    assert_eq!(
        (status, seen),
        (StatusCode::CREATED, vec!["us-west".to_string()])
    );

    // The author removes it and ships the real change: it takes effect, no restart.
    std::fs::remove_file(dir.join("broken.rego")).expect("remove");
    move_us_west_out(&dir);
    wait_metric(&h, RELOADED, 1.0).await;
    let after = h.policy_revision().await;
    assert_ne!(after, before);
    let r = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/m3",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.json);
    assert_eq!(r.json["reason"], "no_approved_region_available");
    assert!(h.regions_that_saw(&r.request_id).is_empty());
    assert_eq!(
        h.metric(REFUSED).await,
        Some(1.0),
        "the good change was refused at some point"
    );

    assert_eq!(h.stop(), 0);
    let records = h.records();
    assert_eq!(
        policy_loaded(&records),
        [
            (before, "rego".to_string()),
            (after.clone(), "rego".to_string())
        ]
    );
    assert_eq!(decision_revision(&records, &r.request_id), Some(after));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_good_policy_and_refuses_a_broken_one() {
    // No folder watching: only the signal can make the gateway reload.
    let mut h = Harness::start_with(|config| {
        assert!(config.contains("[policy]\n"));
        *config = config.replace("[policy]\n", "[policy]\nwatch = false\n");
    })
    .await;
    let dir = h.files.policy_dir.clone();
    h.store("us-east").set_up(false);
    h.wait_for_region("us-east", false).await;
    let before = h.policy_revision().await;

    put(&dir, "broken.rego", BROKEN);
    h.signal("HUP");
    wait_metric(&h, REFUSED, 1.0).await;
    assert_eq!(h.policy_revision().await, before);
    let (status, seen, _) = us_write(&h, "h1").await;
    assert_eq!(
        (status, seen),
        (StatusCode::CREATED, vec!["us-west".to_string()])
    );

    std::fs::remove_file(dir.join("broken.rego")).expect("remove");
    move_us_west_out(&dir);
    h.signal("HUP");
    wait_metric(&h, RELOADED, 1.0).await;
    let after = h.policy_revision().await;
    assert_ne!(after, before);
    let (status, seen, id) = us_write(&h, "h2").await;
    assert_eq!((status, seen), (StatusCode::SERVICE_UNAVAILABLE, vec![]));

    assert_eq!(h.stop(), 0);
    let records = h.records();
    assert_eq!(
        policy_loaded(&records),
        [
            (before, "rego".to_string()),
            (after.clone(), "rego".to_string())
        ]
    );
    assert_eq!(decision_revision(&records, &id), Some(after));
}

/// A write as `alice` (US) with the `Authorization` value `bearer`.
async fn write_as(h: &Harness, bearer: &str, id: &str) -> StatusCode {
    h.send(
        Who::RawAuthorization(format!("Bearer {bearer}")),
        Method::POST,
        &format!("/v1/messages/{id}"),
        Some(json!({"text": id})),
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reads_the_identity_providers_rotated_keys() {
    let h = Harness::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = json!({"iss": "https://id.demo.jurisgate", "aud": "app", "sub": "alice",
        "jurisdiction": "US", "kind": "user", "location": "US", "iat": now, "exp": now + 600});
    let old = h.files.idp.sign(&claims);
    assert_eq!(write_as(&h, &old, "k1").await, StatusCode::CREATED);
    let entries = "jurisgate_identity_token_cache_entries";
    let cached = h.metric(entries).await.expect("the cache gauge");
    assert!(cached >= 1.0, "{cached}");

    // Reading the same keys again keeps the verified tokens.
    h.signal("HUP");
    wait_metric(
        &h,
        "jurisgate_identity_key_reloads_total{result=\"unchanged\"}",
        1.0,
    )
    .await;
    assert_eq!(
        h.metric(entries).await,
        Some(cached),
        "an unchanged reload kept the cache"
    );

    // The identity provider rotates: its published JWKS holds only the new key.
    let rotated =
        jurisgate_attribution::dev_idp::DevIdp::generate("https://id.demo.jurisgate", "app");
    let new = rotated.sign(&claims);
    let jwks = h.files.dir.join("keys").join("idp-jwks.json");
    assert!(jwks.exists(), "{}", jwks.display());
    let tmp = jwks.with_extension("tmp");
    std::fs::write(&tmp, rotated.jwks_json()).expect("write");
    std::fs::rename(&tmp, &jwks).expect("rename");
    assert_eq!(
        write_as(&h, &new, "k2").await,
        StatusCode::FORBIDDEN,
        "unverified until the keys are read again"
    );

    h.signal("HUP");
    wait_metric(
        &h,
        "jurisgate_identity_key_reloads_total{result=\"changed\"}",
        1.0,
    )
    .await;
    assert_eq!(
        h.metric(entries).await,
        Some(0.0),
        "tokens verified under the old keys are not kept"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut n = 3;
    while write_as(&h, &new, &format!("k{n}")).await != StatusCode::CREATED {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new key never verified after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        n += 1;
    }
    assert_eq!(
        write_as(&h, &old, "old-after").await,
        StatusCode::FORBIDDEN,
        "the old key's token stops counting, though it was verified before"
    );

    // The log says which identity keys vouched before and after: the
    // startup record and one more, written by the reload, differing only
    // in the identity provider's key-set fingerprint.
    let idp = "jwks:https://id.demo.jurisgate";
    let loaded: Vec<_> = h
        .records()
        .into_iter()
        .filter_map(|r| match r.event {
            Event::ConfigLoaded(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(loaded.len(), 2, "{loaded:?}");
    assert_eq!(loaded[0].config_sha256, loaded[1].config_sha256);
    let (before, after) = (&loaded[0].key_ids, &loaded[1].key_ids);
    assert_ne!(before[idp], after[idp], "{before:?} {after:?}");
    let others = |ids: &std::collections::BTreeMap<String, String>| {
        let mut ids = ids.clone();
        ids.remove(idp);
        ids
    };
    assert_eq!(others(before), others(after));
}
