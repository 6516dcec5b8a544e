//! The request path end to end: the real binary, real sockets, real stores.
//! Each test checks what a user of the gateway would: which region a
//! request reached, the status, the headers the upstream saw, and the audit
//! record.

use http::{Method, StatusCode};
use jurisgate_e2e::decision;
use jurisgate_e2e::{Harness, Who};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_data_stays_in_their_jurisdiction() {
    let mut h = Harness::start().await;
    let us = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/a1",
            Some(json!({"text": "hi"})),
        )
        .await;
    assert_eq!(us.status, StatusCode::CREATED);
    assert_eq!(h.regions_that_saw(&us.request_id), ["us-east"]);

    let eu = h
        .send(
            Who::user("emile", "EU"),
            Method::POST,
            "/v1/messages/e1",
            Some(json!({"text": "salut"})),
        )
        .await;
    assert_eq!(eu.status, StatusCode::CREATED);
    assert_eq!(h.regions_that_saw(&eu.request_id), ["eu-west"]);

    // The upstream learns the verified jurisdiction and its own region from the gateway.
    let seen = h.store("eu-west").received();
    let got = seen
        .iter()
        .find(|r| r.request_id.as_deref() == Some(eu.request_id.as_str()))
        .expect("received");
    assert_eq!(got.jurisdiction.as_deref(), Some("EU"));
    assert_eq!(got.region_header.as_deref(), Some("eu-west"));
    assert_eq!(got.data_class.as_deref(), Some("protected"));
    assert_eq!(got.target, "/v1/messages/e1");

    assert_eq!(h.stop(), 0);
    let records = h.records();
    let d = decision(&records, &us.request_id);
    assert!(d.decision.allow);
    assert_eq!(d.region.as_deref(), Some("us-east"));
    assert_eq!(d.subject.jurisdiction, "US");
    assert!(d.subject.verified);
    // The record names the subject by pseudonym, never by id.
    assert!(
        d.subject
            .pseudonym
            .as_deref()
            .is_some_and(|p| p.starts_with("hs256:"))
    );
    let line = serde_json::to_string(&records).unwrap();
    assert!(
        !line.contains("\"alice\""),
        "raw user id leaked into the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_jurisdiction_headers_change_nothing() {
    let h = Harness::start().await;
    let spoof = [
        ("x-jurisgate-jurisdiction", "US"),
        ("x-jurisgate-region", "us-east"),
        ("x-forwarded-for", "8.8.8.8"),
    ];
    let eu = h
        .send_with(
            Who::user("emile", "EU"),
            Method::POST,
            "/v1/messages/e2",
            Some(json!({})),
            &spoof,
        )
        .await;
    assert_eq!(eu.status, StatusCode::CREATED);
    assert_eq!(h.regions_that_saw(&eu.request_id), ["eu-west"]);
    let got = h
        .store("eu-west")
        .received()
        .into_iter()
        .find(|r| r.request_id.as_deref() == Some(eu.request_id.as_str()))
        .unwrap();
    assert_eq!(got.jurisdiction.as_deref(), Some("EU"));

    let anon = h
        .send_with(Who::Anonymous, Method::GET, "/v1/messages/e2", None, &spoof)
        .await;
    assert_eq!(anon.status, StatusCode::FORBIDDEN);
    assert_eq!(anon.json["error"], "denied");
    assert_eq!(anon.json["request_id"], anon.request_id.as_str());
    assert!(h.regions_that_saw(&anon.request_id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_tokens_are_not_identity() {
    let h = Harness::start().await;
    for who in [
        Who::Forged("alice".into(), "US".into()),
        Who::RawAuthorization("Bearer not.a.token".into()),
        Who::RawAuthorization(
            "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImp1cmlzZGljdGlvbiI6IlVTIn0.".into(),
        ),
        Who::RawAuthorization("Basic YWxpY2U6cGFzcw==".into()),
    ] {
        let r = h
            .send(who.clone(), Method::GET, "/v1/messages/a1", None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who:?} got {:?}", r.json);
        assert!(h.regions_that_saw(&r.request_id).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_stays_inside_the_approved_regions() {
    let h = Harness::start().await;
    h.store("us-east").set_up(false);
    h.wait_for_region("us-east", false).await;
    let r = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/f1",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(h.regions_that_saw(&r.request_id), ["us-west"]);

    h.store("us-west").set_up(false);
    h.wait_for_region("us-west", false).await;
    let r = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/f2",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json["reason"], "no_approved_region_available");
    assert!(
        h.regions_that_saw(&r.request_id).is_empty(),
        "a US write went abroad"
    );

    h.store("us-east").set_up(true);
    h.wait_for_region("us-east", true).await;
    let r = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/f3",
            Some(json!({})),
        )
        .await;
    assert_eq!(h.regions_that_saw(&r.request_id), ["us-east"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_border_read_is_pseudonymised_only_with_an_approval() {
    let h = Harness::start().await;
    let record = json!({"user": {"id": "alice", "email": "alice@example.com"}, "text": "hello"});
    let w = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/p1",
            Some(record),
        )
        .await;
    assert_eq!(w.status, StatusCode::CREATED);

    let denied = h
        .send(
            Who::Employee("eng-1".into(), "SG".into(), false),
            Method::GET,
            "/v1/messages/p1",
            None,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let approved = h
        .send(
            Who::Employee("eng-1".into(), "SG".into(), true),
            Method::GET,
            "/v1/messages/p1",
            None,
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.json);
    let email = approved
        .json
        .pointer("/user/email")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    assert!(
        email.starts_with("hs256:"),
        "email not pseudonymised: {email}"
    );
    assert!(!approved.json.to_string().contains("alice@example.com"));
    assert_eq!(approved.json["text"], "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_routes_are_404_and_recorded() {
    let mut h = Harness::start().await;
    let r = h
        .send(Who::user("alice", "US"), Method::GET, "/nowhere", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["reason"], "no_route");
    h.stop();
    let records = h.records();
    let d = decision(&records, &r.request_id);
    assert!(!d.decision.allow);
    assert_eq!(d.status, Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_report_health_and_metrics() {
    let h = Harness::start().await;
    assert_eq!(h.admin_get("/healthz").await.0, StatusCode::OK);
    let (status, body) = h.admin_get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _ = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/m1",
            Some(json!({})),
        )
        .await;
    let (_, metrics) = h.admin_get("/metrics").await;
    assert!(metrics.contains("jurisgate_requests_total{route=\"messages\",decision=\"allow\",region=\"us-east\",status=\"201\"} 1"), "{metrics}");
    assert!(metrics.contains("jurisgate_decision_seconds_count"));

    // With every US pool down, the messages route still has EU pools, so
    // readiness holds; readiness fails only when a route has no healthy pool.
    for s in &h.stores {
        s.set_up(false);
    }
    for region in jurisgate_e2e::REGIONS {
        h.wait_for_region(region, false).await;
    }
    let (status, body) = h.admin_get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("route messages: no healthy pool"), "{body}");
}
