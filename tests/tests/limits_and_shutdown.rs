//! Protocol, limits and lifecycle through the real binary: h2c, body size
//! limits, hop-by-hop headers, obligations that cannot be met, and a
//! graceful shutdown that finishes the request in flight.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jurisgate_audit::Event;
use jurisgate_e2e::{Harness, Who};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_cleartext_is_served() {
    let h = Harness::start().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new());
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/v1/messages/h2", h.addr))
        .header("authorization", auth.unwrap())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"text\":\"over h2c\"}")))
        .unwrap();
    let resp = client.request(req).await.expect("h2c answer");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.headers()["x-jurisgate-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    // The gateway speaks HTTP/1.1 to the upstream whatever the client spoke.
    assert_eq!(h.regions_that_saw(&id), ["us-east"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_before_anything_is_forwarded() {
    let h = Harness::start_with(|c| {
        *c = c.replacen(
            "shutdown_grace = \"5s\"",
            "shutdown_grace = \"5s\"\nmax_body_bytes = 1024",
            1,
        )
    })
    .await;
    let big = json!({ "text": "x".repeat(4096) });
    let r = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/big",
            Some(big),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json["reason"], "request_body_too_large");
    assert!(h.stores.iter().all(|s| s.received().is_empty()));
    let small = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/small",
            Some(json!({"text": "ok"})),
        )
        .await;
    assert_eq!(small.status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_and_gateway_headers_from_clients_never_reach_upstreams() {
    let h = Harness::start().await;
    let r = h
        .send_with(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/hop",
            Some(json!({})),
            &[
                ("connection", "x-internal-secret"),
                ("x-internal-secret", "1"),
                ("x-jurisgate-data-class", "public"),
                ("proxy-connection", "keep-alive"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let got = h
        .store("us-east")
        .received()
        .into_iter()
        .find(|x| x.request_id.as_deref() == Some(r.request_id.as_str()))
        .unwrap();
    assert!(
        !got.header_names
            .iter()
            .any(|n| n == "x-internal-secret" || n == "proxy-connection"),
        "{:?}",
        got.header_names
    );
    assert_eq!(got.data_class.as_deref(), Some("protected"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_cannot_be_pseudonymised_is_refused_not_passed_through() {
    let h = Harness::start().await;
    // Stored as plain text, so the pseudonymise obligation cannot be applied to it.
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let raw = format!(
        "POST /v1/messages/raw HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {}\r\nContent-Type: text/plain\r\nContent-Length: 17\r\nConnection: close\r\n\r\nalice@example.com",
        auth.unwrap()
    );
    assert!(h.raw(raw.as_bytes()).await.starts_with("HTTP/1.1 201"));
    let r = h
        .send(
            Who::Employee("eng-1".into(), "SG".into(), true),
            Method::GET,
            "/v1/messages/raw",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(
        r.json["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("obligation_failed"),
        "{:?}",
        r.json
    );
    assert!(!r.json.to_string().contains("alice@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_and_closes_the_log() {
    let mut h = Harness::start().await;
    let slow = h.send(
        Who::user("alice", "US"),
        Method::POST,
        "/v1/messages/slow?delay_ms=700",
        Some(json!({"text": "slow"})),
    );
    let stop = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while h.store("us-east").received().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the slow request never reached the store"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        h.terminate();
    };
    let (reply, ()) = tokio::join!(slow, stop);
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "the in-flight request was cut off"
    );
    assert_eq!(h.stop(), 0);
    let records = h.records();
    assert!(
        matches!(records.last().map(|r| &r.event), Some(Event::Shutdown(_))),
        "the log does not end with a shutdown record"
    );
    let status = jurisgate_audit::verify(&h.files.audit_dir, &h.files.vkey);
    assert!(status.is_ok(), "{status:?}");
}
