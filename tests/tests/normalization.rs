//! Hostile request targets against the real binary over raw TCP: each is
//! either refused with 400, or classified and forwarded as exactly its
//! canonical form, so the path that was classified is the path forwarded.

use jurisgate_e2e::{Harness, Who};

fn get(path: &str, auth: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n").into_bytes()
}

fn status(reply: &str) -> u16 {
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_paths_are_refused() {
    let h = Harness::start().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let auth = auth.unwrap();
    let refused = [
        "/v1/messages/%2f..%2f..%2fadmin",
        "/v1/messages/a%2Fb",
        "/v1/messages/a%5cb",
        "/v1/messages/a\\b",
        "/v1/messages/a%00b",
        "/v1/messages/../../../etc/passwd",
        "/v1/messages/%2e%2e/%2e%2e/%2e%2e/etc",
        "/v1/messages/%C0%AE%C0%AE/x",
        "/v1/messages/..;/x",
        "/v1/messages/%zz",
        "/v1/messages/%",
    ];
    for path in refused {
        let reply = h.raw(&get(path, &auth)).await;
        assert_eq!(status(&reply), 400, "{path} was not refused: {reply}");
        assert!(
            reply.contains("\"error\":\"bad_request\""),
            "{path}: {reply}"
        );
    }
    for store in &h.stores {
        assert!(
            store.received().is_empty(),
            "{} received a refused request",
            store.region()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equivalent_paths_are_classified_and_forwarded_canonically() {
    let h = Harness::start().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let auth = auth.unwrap();
    // Each of these is the protected messages route in disguise. Classified
    // by its canonical form, it needs the verified US identity and goes to
    // us-east with the canonical path, never to the public route's region.
    let disguised = [
        "/v1/%6Dessages/a1",
        "/v1/messages/./a1",
        "/v1/public/../messages/a1",
        "/v1/public/%2e%2e/messages/a1",
        "/v1/messages/%61%31",
    ];
    for path in disguised {
        let reply = h.raw(&get(path, &auth)).await;
        // The store has no record a1, so it answers 404 itself: what matters is where it went.
        assert!(
            reply.contains("\"region\":\"us-east\""),
            "{path} did not reach us-east: {reply}"
        );
    }
    let targets: Vec<String> = h
        .store("us-east")
        .received()
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(targets.len(), disguised.len());
    assert!(
        targets.iter().all(|t| t == "/v1/messages/a1"),
        "forwarded targets: {targets:?}"
    );
    assert!(h.store("ap-southeast").received().is_empty());
}
