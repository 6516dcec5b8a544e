//! Three replicas behind a round-robin client, as a Deployment of three
//! behind a Service: three audit logs, each verifying on its own with its
//! own origin, and one merged view in `audit query` where every request
//! appears once, labelled with the replica that handled it.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use jurisgate_e2e::{Harness, Who, run_cli};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_verify_alone_and_merge_in_query() {
    let mut h = Harness::start().await;
    let mut r2 = h.start_replica(2).await;
    let mut r3 = h.start_replica(3).await;
    let replicas = [
        (h.addr, "jurisgate.demo/replica-1".to_string()),
        (r2.addr, r2.origin.clone()),
        (r3.addr, r3.origin.clone()),
    ];

    // Round robin, as a load balancer would: request i goes to replica i % 3.
    let mut sent: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..30 {
        let (addr, origin) = &replicas[i % 3];
        let who = if i % 2 == 0 {
            Who::user("alice", "US")
        } else {
            Who::user("emile", "EU")
        };
        let r = h
            .send_to(
                *addr,
                who,
                Method::POST,
                &format!("/v1/messages/rr{i}"),
                Some(json!({"n": i})),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
        sent.insert(r.request_id, origin.clone());
    }
    assert_eq!(h.stop(), 0);
    assert_eq!(r2.stop(), 0);
    assert_eq!(r3.stop(), 0);

    let dirs = [
        h.files.audit_dir.display().to_string(),
        r2.audit_dir.display().to_string(),
        r3.audit_dir.display().to_string(),
    ];
    let key = h.files.vkey_file.display().to_string();

    // Each log verifies on its own, and names its own origin.
    let (code, out, err) = run_cli(&[
        "audit", "verify", &dirs[0], &dirs[1], &dirs[2], "--key", &key,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    for (dir, (_, origin)) in dirs.iter().zip(&replicas) {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("OK: {dir}: "))
                    && l.contains(&format!(" of {origin}"))),
            "{dir} {origin}:\n{out}"
        );
    }

    // The merged view: every request exactly once, from the replica that
    // handled it, in time order.
    let (code, out, err) = run_cli(&[
        "audit", "query", &dirs[0], &dirs[1], &dirs[2], "--format", "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records.iter().filter(|r| r["kind"] == "decision") {
        seen.entry(r["request_id"].as_str().unwrap().to_string())
            .or_default()
            .push(r["replica"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), sent.len(), "decisions in the merged view");
    for (id, origin) in &sent {
        assert_eq!(seen.get(id), Some(&vec![origin.clone()]), "request {id}");
    }
    let times: Vec<&str> = records.iter().map(|r| r["ts"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "merged records are not in time order"
    );
    // Each replica's startup and shutdown are there too, labelled.
    for (_, origin) in &replicas {
        assert!(
            records
                .iter()
                .any(|r| r["kind"] == "shutdown" && r["replica"] == origin.as_str()),
            "{origin}"
        );
    }

    // The table names the replica on every row.
    let (code, table, _) = run_cli(&[
        "audit",
        "query",
        &dirs[0],
        &dirs[1],
        &dirs[2],
        "--decision",
        "allow",
    ]);
    assert_eq!(code, 0);
    assert!(
        table.lines().next().unwrap().starts_with("REPLICA"),
        "{table}"
    );
    assert_eq!(
        table
            .lines()
            .skip(1)
            .filter(|l| l.starts_with("jurisgate.demo/replica-"))
            .count(),
        sent.len(),
        "{table}"
    );

    // Two folders of one origin (a replica configured twice) fail, naming both.
    let (code, out, _) = run_cli(&["audit", "verify", &dirs[1], &dirs[1], "--key", &key]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED") && out.contains("each replica needs its own audit.origin"),
        "{out}"
    );
}
