//! Faults around the gateway, against the real binary: upstreams that
//! refuse connections, reset mid-response, hang, answer garbage, or whose
//! DNS name does not resolve; a whole region down and back; the policy
//! folder deleted while serving. Each time the gateway answers with its
//! documented status, never forwards to an unapproved region, never
//! forwards without a decision record, and recovers on its own.
//!
//! The misbehaving upstreams are real TCP servers on 127.0.0.1 (a raw
//! tokio listener): they answer health checks properly and are rude only to
//! proxied requests, which is what a half-broken service looks like. The
//! audit disk faults are in `disk_full.rs`, crashes in `crash.rs`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Method, StatusCode};
use jurisgate_audit::Event;
use jurisgate_e2e::{Harness, Who, point_region, raw_upstream, read_request_head};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How a rude upstream treats proxied requests.
#[derive(Debug, Clone, Copy)]
enum Rude {
    /// Never answers (holds the connection).
    Hang,
    /// Answers bytes that are not HTTP, then closes.
    Garbage,
    /// Sends a response head and part of the body, then resets (RST).
    ResetMidResponse,
    /// Resets the connection without answering.
    ResetBeforeAnswer,
}

/// A real, rude upstream server; counts the proxied requests it got.
struct RudeUpstream {
    url: String,
    proxied: Arc<AtomicUsize>,
}

async fn rude_upstream(how: Rude) -> RudeUpstream {
    let proxied = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&proxied);
    let url = raw_upstream(move |mut s| {
        let count = Arc::clone(&count);
        async move {
            while let Some(head) = read_request_head(&mut s).await {
                let text = String::from_utf8_lossy(&head);
                if text.starts_with("GET /healthz ") {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                    continue;
                }
                count.fetch_add(1, Ordering::SeqCst);
                match how {
                    Rude::Hang => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    Rude::Garbage => {
                        let _ = s
                            .write_all(b"\x00\x01NOT HTTP AT ALL\r\n\r\n\xff\xfe")
                            .await;
                    }
                    Rude::ResetMidResponse => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"user\":{\"email\":\"al")
                            .await;
                        let _ = s.flush().await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let _ = s.set_zero_linger();
                    }
                    Rude::ResetBeforeAnswer => {
                        let _ = s.set_zero_linger();
                    }
                }
                return;
            }
        }
    })
    .await;
    RudeUpstream { url, proxied }
}

/// A loopback address nothing listens on, and the socket that keeps it so:
/// bound and never listening, connections to it are refused, and no server
/// another test starts can be given the port while the socket lives.
fn closed_port() -> (tokio::net::TcpSocket, String) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let addr = socket.local_addr().expect("addr");
    (socket, format!("http://{addr}"))
}

/// Every request id any store received has a decision record naming the
/// region it went to (stops the gateway).
fn assert_every_forward_recorded(h: &mut Harness) -> usize {
    assert_eq!(h.stop(), 0, "the gateway did not stop cleanly");
    let decided: HashSet<(String, Option<String>)> = h
        .records()
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Decision(d) => Some((d.request_id, d.region)),
            _ => None,
        })
        .collect();
    let mut seen = 0;
    for store in &h.stores {
        for r in store.received() {
            let id = r.request_id.expect("a forwarded request without an id");
            assert!(
                decided.contains(&(id.clone(), Some(store.region().to_string()))),
                "{id} reached {} with no decision record for it",
                store.region()
            );
            seen += 1;
        }
    }
    let status = jurisgate_audit::verify(&h.files.audit_dir, &h.files.vkey);
    assert!(status.is_ok(), "{status:?}");
    seen
}

/// The log holds the request's decision (allowed, to us-east) and, after
/// it, a `forward_failed` record with the status and reason the client got.
pub(crate) fn assert_forward_failure_recorded(
    h: &Harness,
    request_id: &str,
    status: StatusCode,
    reason: &str,
) {
    let records = h.records();
    let decision = records.iter().position(|r| {
        matches!(&r.event, Event::Decision(d) if d.request_id == request_id && d.decision.allow)
    });
    let failed = records
        .iter()
        .position(|r| matches!(&r.event, Event::ForwardFailed(f) if f.request_id == request_id));
    let (Some(decision), Some(failed)) = (decision, failed) else {
        panic!("{request_id}: decision at {decision:?}, forward_failed at {failed:?}");
    };
    assert!(
        decision < failed,
        "the failure is recorded after the decision"
    );
    let Event::ForwardFailed(f) = &records[failed].event else {
        unreachable!()
    };
    assert_eq!(f.status, status.as_u16(), "{f:?}");
    assert!(f.reason.starts_with(reason), "{f:?}");
    assert_eq!(f.region, "us-east", "{f:?}");
}

fn us_user() -> Who {
    Who::user("alice", "US")
}

fn abroad(h: &Harness) -> usize {
    ["eu-west", "ap-southeast"]
        .iter()
        .map(|r| {
            h.store(r)
                .received()
                .iter()
                .filter(|x| x.jurisdiction.as_deref() == Some("US"))
                .count()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rude_upstreams_get_documented_statuses() {
    let mut survived = 0;
    for (how, status, reason) in [
        (Rude::Hang, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
        (Rude::Garbage, StatusCode::BAD_GATEWAY, "upstream_error"),
        (
            Rude::ResetBeforeAnswer,
            StatusCode::BAD_GATEWAY,
            "upstream_error",
        ),
    ] {
        let rude = rude_upstream(how).await;
        let url = rude.url.clone();
        let mut h = Harness::start_with(|c| {
            point_region(c, "us-east", &url, "request_timeout = \"700ms\"")
        })
        .await;
        h.wait_for_region("us-east", true).await;
        let r = h
            .send(us_user(), Method::GET, "/v1/messages/f1", None)
            .await;
        assert_eq!(r.status, status, "{how:?}: {:?}", r.json);
        assert!(
            r.json["reason"]
                .as_str()
                .unwrap_or_default()
                .starts_with(reason),
            "{how:?}: {:?}",
            r.json
        );
        assert!(
            rude.proxied.load(Ordering::SeqCst) >= 1,
            "{how:?}: the rude upstream was never asked"
        );
        assert_forward_failure_recorded(&h, &r.request_id, status, reason);
        assert_eq!(abroad(&h), 0, "{how:?}: US data went abroad");
        // The gateway still serves: another jurisdiction, and the same one once us-east is replaced by failover.
        let eu = h
            .send(
                Who::user("emile", "EU"),
                Method::POST,
                "/v1/messages/e1",
                Some(json!({"t": 1})),
            )
            .await;
        assert_eq!(
            eu.status,
            StatusCode::CREATED,
            "{how:?}: the gateway stopped serving others"
        );
        assert_every_forward_recorded(&mut h);
        survived += 1;
        println!("faults: upstream {how:?} -> {status} {reason}");
    }

    // Reset after the head: the status is already on its way, so the client
    // must see a broken body, never a clean, complete response.
    let rude = rude_upstream(Rude::ResetMidResponse).await;
    let url = rude.url.clone();
    let mut h = Harness::start_with(|c| point_region(c, "us-east", &url, "")).await;
    h.wait_for_region("us-east", true).await;
    let (auth, _) = h.credentials(&us_user());
    let reply = h
        .raw(format!("GET /v1/messages/f2 HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {}\r\nConnection: close\r\n\r\n", auth.unwrap()).as_bytes())
        .await;
    let complete = reply
        .split_once("\r\n\r\n")
        .is_some_and(|(_, body)| body.len() >= 1000);
    assert!(
        !complete,
        "a reset response was passed on as complete: {reply}"
    );
    assert_eq!(abroad(&h), 0);
    assert_eq!(
        h.send(
            Who::user("emile", "EU"),
            Method::POST,
            "/v1/messages/e2",
            Some(json!({}))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_every_forward_recorded(&mut h);
    survived += 1;
    println!("faults: upstream reset mid-response -> body cut short, never completed");
    println!(
        "faults (upstreams): {survived} faults, {survived} survived, 0 forwarded abroad, 0 records lost"
    );
}

/// Sends `GET path` over a raw HTTP/1.1 connection and returns the
/// connection without reading the answer (the caller decides when to leave).
async fn hold_request(h: &Harness, auth: &str, path: &str) -> tokio::net::TcpStream {
    let mut client = tokio::net::TcpStream::connect(h.addr)
        .await
        .expect("connect");
    client
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {auth}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("send");
    client
}

/// Waits (up to 10 s) until the rude upstream holds `n` proxied requests.
async fn wait_proxied(rude: &RudeUpstream, n: usize) {
    for _ in 0..500 {
        if rude.proxied.load(Ordering::SeqCst) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        rude.proxied.load(Ordering::SeqCst),
        n,
        "the upstream never got the request"
    );
}

/// The request id of the decision record for `path` (polling the log).
async fn decided_request_id(h: &Harness, path: &str) -> String {
    for _ in 0..100 {
        let found = h.records().into_iter().find_map(|r| match r.event {
            Event::Decision(d) if d.path == path => Some(d.request_id),
            _ => None,
        });
        if let Some(id) = found {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no decision record for {path}");
}

/// Polls the log until request `id` has a `forward_failed` record.
async fn wait_for_forward_failed(h: &Harness, id: &str) {
    for _ in 0..100 {
        let found = h
            .records()
            .iter()
            .any(|r| matches!(&r.event, Event::ForwardFailed(f) if f.request_id == id));
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id}: no forward_failed record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_mid_forward_leaves_a_record_saying_so() {
    // The upstream holds the request; the client gives up first.
    let rude = rude_upstream(Rude::Hang).await;
    let url = rude.url.clone();
    let mut h =
        Harness::start_with(|c| point_region(c, "us-east", &url, "request_timeout = \"30s\""))
            .await;
    h.wait_for_region("us-east", true).await;
    let (auth, _) = h.credentials(&us_user());
    let auth = auth.expect("a token");
    let status = StatusCode::from_u16(499).expect("status");

    // HTTP/1.1: the client closes its connection.
    let client = hold_request(&h, &auth, "/v1/messages/gone").await;
    wait_proxied(&rude, 1).await;
    drop(client);
    let id = decided_request_id(&h, "/v1/messages/gone").await;
    wait_for_forward_failed(&h, &id).await;
    assert_forward_failure_recorded(&h, &id, status, "not_answered");

    // HTTP/2: the client resets the stream; its connection stays open.
    let stream = tokio::net::TcpStream::connect(h.addr)
        .await
        .expect("connect");
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2c handshake");
    let connection = tokio::spawn(conn);
    let request = http::Request::get("http://api.demo.jurisgate/v1/messages/gone-h2")
        .header("authorization", auth.as_str())
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let pending = tokio::spawn(send.send_request(request));
    wait_proxied(&rude, 2).await;
    pending.abort();
    let id = decided_request_id(&h, "/v1/messages/gone-h2").await;
    wait_for_forward_failed(&h, &id).await;
    assert_forward_failure_recorded(&h, &id, status, "not_answered");
    // The connection lives on: another stream on it is answered.
    let (eu, _) = h.credentials(&Who::user("emile", "EU"));
    let request = http::Request::post("http://api.demo.jurisgate/v1/messages/after-reset")
        .header("authorization", eu.expect("a token"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .expect("request");
    let answer = send
        .send_request(request)
        .await
        .expect("the connection is still open");
    assert_eq!(answer.status(), StatusCode::CREATED);
    assert!(!connection.is_finished(), "the h2 connection was closed");

    assert_every_forward_recorded(&mut h);
    println!(
        "faults: client gone mid-forward (HTTP/1.1 close, HTTP/2 reset) -> forward_failed 499 not_answered"
    );
}

/// A request still waiting on its upstream when the shutdown grace period
/// ends is recorded as not answered, before the log's shutdown record,
/// with either runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_off_by_shutdown_is_recorded_before_the_log_closes() {
    for runtime in ["per_core", "multi_thread"] {
        let rude = rude_upstream(Rude::Hang).await;
        let url = rude.url.clone();
        let mut h = Harness::start_with(|c| {
            point_region(c, "us-east", &url, "request_timeout = \"30s\"");
            *c = c.replacen(
                "shutdown_grace = \"5s\"",
                &format!("shutdown_grace = \"500ms\"\nruntime = \"{runtime}\""),
                1,
            );
        })
        .await;
        h.wait_for_region("us-east", true).await;
        let (auth, _) = h.credentials(&us_user());
        let client = hold_request(&h, &auth.expect("a token"), "/v1/messages/cut").await;
        wait_proxied(&rude, 1).await;
        let id = decided_request_id(&h, "/v1/messages/cut").await;
        assert_eq!(h.stop(), 0, "{runtime}: the gateway did not stop cleanly");
        let records = h.records();
        let failed = records
            .iter()
            .position(|r| matches!(&r.event, Event::ForwardFailed(f) if f.request_id == id && f.status == 499 && f.reason == "not_answered"));
        let shutdown = records
            .iter()
            .position(|r| matches!(r.event, Event::Shutdown(_)));
        assert!(
            matches!((failed, shutdown), (Some(f), Some(s)) if f < s),
            "{runtime}: forward_failed at {failed:?}, shutdown at {shutdown:?}"
        );
        let status = jurisgate_audit::verify(&h.files.audit_dir, &h.files.vkey);
        assert!(status.is_ok(), "{runtime}: {status:?}");
        drop(client);
        println!(
            "faults: {runtime}: request cut off by the shutdown grace period -> forward_failed 499 before the shutdown record"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_stops_listening_between_health_checks_is_recorded() {
    // A real upstream that passes its first health check, then closes its
    // listener; health checks are far apart, so the next request is the
    // first to find the port closed. A second socket bound to the same
    // port, never listening, keeps it this test's own: a server another
    // test starts meanwhile cannot be given it and answer in its place.
    let reserve = reuse_port_socket();
    reserve
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let addr = reserve.local_addr().expect("addr");
    let socket = reuse_port_socket();
    socket.bind(addr).expect("bind the same port");
    let listener = socket.listen(64).expect("listen");
    let url = format!("http://{addr}");
    let answered = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&answered);
    let serving = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                if let Ok(1..) = s.read(&mut buf).await
                    && s.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await
                    .is_ok()
                {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    let mut h = Harness::start_with(|c| {
        point_region(c, "us-east", &url, "");
        *c = c.replace("interval = \"100ms\"", "interval = \"1h\"");
    })
    .await;
    // An endpoint counts as healthy until a probe says otherwise, so wait
    // for the first probe to have been answered, and for the gateway to
    // have read that answer (already in its socket), before closing:
    // otherwise a slow first probe fails against the closed port and
    // takes us-east down before the request is sent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while answered.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no health probe arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.wait_for_region("us-east", true).await;
    serving.abort();
    let _ = serving.await;

    let r = h
        .send(us_user(), Method::GET, "/v1/messages/closed", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{:?}", r.json);
    assert_forward_failure_recorded(&h, &r.request_id, StatusCode::BAD_GATEWAY, "upstream_error");
    assert_eq!(abroad(&h), 0);
    // The failed connect counts against the endpoint at once.
    h.wait_for_region("us-east", false).await;
    assert_every_forward_recorded(&mut h);
    drop(reserve);
    println!(
        "faults: connection refused after a passed health check -> 502, forward_failed recorded"
    );
}

/// A TCP socket that shares its port with others that set the same option.
fn reuse_port_socket() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_reuseport(true).expect("SO_REUSEPORT");
    socket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_unresolvable_upstreams_fail_over_inside_the_jurisdiction() {
    // us-east refuses connections, us-west's name does not resolve.
    let (_kept_closed, closed) = closed_port();
    let mut h = Harness::start_with(|c| {
        point_region(c, "us-east", &closed, "");
        point_region(c, "us-west", "http://no-such-host.invalid:80", "");
    })
    .await;
    h.wait_for_region("us-east", false).await;
    h.wait_for_region("us-west", false).await;
    for i in 0..5 {
        let r = h
            .send(
                us_user(),
                Method::POST,
                &format!("/v1/messages/r{i}"),
                Some(json!({"t": i})),
            )
            .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.json);
        assert_eq!(r.json["reason"], "no_approved_region_available");
        assert!(h.regions_that_saw(&r.request_id).is_empty());
    }
    assert_eq!(
        abroad(&h),
        0,
        "US data went abroad while its regions were unreachable"
    );
    let eu = h
        .send(
            Who::user("emile", "EU"),
            Method::POST,
            "/v1/messages/e3",
            Some(json!({})),
        )
        .await;
    assert_eq!(eu.status, StatusCode::CREATED);
    assert_every_forward_recorded(&mut h);
    println!(
        "faults: connection refused + DNS failure -> 503 no_approved_region_available, 0 forwarded abroad"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_goes_down_and_comes_back() {
    let mut h = Harness::start().await;
    let send = |n: u32| {
        let h = &h;
        async move {
            h.send(
                us_user(),
                Method::POST,
                &format!("/v1/messages/d{n}"),
                Some(json!({"n": n})),
            )
            .await
        }
    };
    let r = send(0).await;
    assert_eq!(h.regions_that_saw(&r.request_id), ["us-east"]);

    h.store("us-east").set_up(false);
    h.wait_for_region("us-east", false).await;
    let r = send(1).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        h.regions_that_saw(&r.request_id),
        ["us-west"],
        "no failover inside the US"
    );

    h.store("us-west").set_up(false);
    h.wait_for_region("us-west", false).await;
    let r = send(2).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json["reason"], "no_approved_region_available");
    assert_eq!(
        abroad(&h),
        0,
        "US data left the US while both US regions were down"
    );

    // Back, without any restart.
    h.store("us-east").set_up(true);
    h.store("us-west").set_up(true);
    h.wait_for_region("us-east", true).await;
    let r = send(3).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(h.regions_that_saw(&r.request_id), ["us-east"]);
    let forwarded = assert_every_forward_recorded(&mut h);
    println!(
        "faults: region down and back -> failover to us-west, then 503, then recovered; {forwarded} forwarded, all recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_policy_folder_keeps_the_loaded_policy() {
    let mut h = Harness::start().await;
    let before = h.policy_revision().await;
    let backup = tempfile::tempdir().expect("temp dir");
    copy_dir(&h.files.policy_dir, backup.path());
    std::fs::remove_dir_all(&h.files.policy_dir).expect("removing the policy folder");
    h.signal("HUP");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h
        .metric("jurisgate_policy_reloads_total{result=\"refused\"}")
        .await
        .unwrap_or(0.0)
        < 1.0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reload of a missing policy folder was not refused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Still deciding with the loaded policy: US data to the US, anonymous denied.
    assert_eq!(h.policy_revision().await, before);
    let r = h
        .send(us_user(), Method::POST, "/v1/messages/p1", Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(h.regions_that_saw(&r.request_id), ["us-east"]);
    let anon = h
        .send(Who::Anonymous, Method::GET, "/v1/messages/p1", None)
        .await;
    assert_eq!(anon.status, StatusCode::FORBIDDEN);
    let (ready, body) = h.admin_get("/readyz").await;
    println!(
        "faults: policy folder deleted -> reload refused, old policy serves; /readyz {ready}: {}",
        body.trim()
    );

    // Put it back (with a trailing newline, so its revision is new and the
    // swap shows in the metrics): the next reload is accepted.
    copy_dir(backup.path(), &h.files.policy_dir);
    let data = h.files.policy_dir.join("data.json");
    let text = std::fs::read_to_string(&data).expect("data.json");
    std::fs::write(&data, format!("{text}\n")).expect("data.json");
    h.signal("HUP");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while h
        .metric("jurisgate_policy_reloads_total{result=\"ok\"}")
        .await
        .unwrap_or(0.0)
        < 1.0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restored policy was not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_every_forward_recorded(&mut h);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
