//! Protocol, limits and lifecycle through the real binary: h2c, body size
//! limits (declared, and streamed over HTTP/1.1 chunked and HTTP/2 DATA),
//! refusals on HTTP/2 that leave the connection's other streams alone,
//! hop-by-hop headers, obligations that cannot be met, and a graceful
//! shutdown that finishes the request in flight.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use jurisgate_audit::Event;
use jurisgate_e2e::{Harness, RawConn, Who, point_region};
use serde_json::json;
use tokio::sync::mpsc;

/// What the counting upstream saw of one proxied request's body.
#[derive(Debug, Clone, Default)]
struct SeenBody {
    request_id: String,
    /// Body bytes received so far.
    bytes: usize,
    /// `Some(true)`: the body ended properly (final chunk); `Some(false)`:
    /// the message was cut (connection closed mid-body); `None`: still open.
    complete: Option<bool>,
}

/// A real HTTP/1.1 upstream (hyper) standing in for a region's store: it
/// answers health checks and, for proxied requests, counts the body bytes
/// that arrive frame by frame and whether the message was ever completed.
struct CountingUpstream {
    url: String,
    seen: Arc<Mutex<Vec<SeenBody>>>,
}

impl CountingUpstream {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen: Arc<Mutex<Vec<SeenBody>>> = Arc::default();
        let all = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let all = Arc::clone(&all);
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let all = Arc::clone(&all);
                    async move { Ok::<_, std::convert::Infallible>(count(&all, req).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self { url, seen }
    }

    /// The body seen for `request_id`, if its head arrived.
    fn body_of(&self, request_id: &str) -> Option<SeenBody> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .find(|s| s.request_id == request_id)
            .cloned()
    }

    /// Waits until some request's body reached `bytes` bytes; returns its id.
    async fn wait_for_bytes(&self, bytes: usize) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self
                .seen
                .lock()
                .expect("lock")
                .iter()
                .find(|s| s.bytes >= bytes && s.complete.is_none())
            {
                return s.request_id.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the upstream never received {bytes} body bytes"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until the body of `request_id` has ended one way or the other.
    async fn settled(&self, request_id: &str) -> SeenBody {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.body_of(request_id).filter(|s| s.complete.is_some()) {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the upstream's request {request_id} neither completed nor was cut"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn count(all: &Mutex<Vec<SeenBody>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() == "/healthz" {
        return Response::new(Full::new(Bytes::from_static(b"ok")));
    }
    let request_id = req
        .headers()
        .get("x-jurisgate-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let index = {
        let mut all = all.lock().expect("lock");
        all.push(SeenBody {
            request_id,
            ..SeenBody::default()
        });
        all.len() - 1
    };
    let mut body = req.into_body();
    let complete = loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    all.lock().expect("lock")[index].bytes += data.len();
                }
            }
            Some(Err(_)) => break false,
            None => break true,
        }
    };
    all.lock().expect("lock")[index].complete = Some(complete);
    let mut resp = Response::new(Full::new(Bytes::from_static(b"{\"stored\":true}")));
    *resp.status_mut() = StatusCode::CREATED;
    resp
}

/// A request body fed from a channel: no length is known in advance, so
/// HTTP/2 sends it as DATA frames with no `content-length`.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// The gateway with `max_body_bytes = 16384` and us-east served by a
/// [`CountingUpstream`].
async fn limited_gateway() -> (Harness, CountingUpstream) {
    let upstream = CountingUpstream::start().await;
    let url = upstream.url.clone();
    let h = Harness::start_with(|c| {
        *c = c.replacen(
            "shutdown_grace = \"5s\"",
            &format!("shutdown_grace = \"5s\"\nmax_body_bytes = {LIMIT}"),
            1,
        );
        point_region(c, "us-east", &url, "");
    })
    .await;
    h.wait_for_region("us-east", true).await;
    (h, upstream)
}

const LIMIT: usize = 16 * 1024;
/// Sent before the limit is crossed: well under it.
const BEFORE: usize = 15 * 1024;
/// The piece that crosses the limit.
const CROSSING: usize = 5 * 1024;

/// `n` bytes of a JSON document's middle (no framing meaning).
fn filler(n: usize) -> Bytes {
    Bytes::from(vec![b'x'; n])
}

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
    // The upstream answered, but the answer was withheld: the log says so.
    crate::faults::assert_forward_failure_recorded(
        &h,
        &r.request_id,
        StatusCode::BAD_GATEWAY,
        "obligation_failed",
    );
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

/// A chunked HTTP/1.1 body that crosses `max_body_bytes` after it started
/// streaming: the client gets 413 `request_body_too_large` and the
/// connection closes; the upstream got the bytes before the limit and no
/// more, and never a complete message. The decision record, durable before
/// the first byte moved, says allowed and sent to us-east, with no status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_the_limit_gets_413_and_the_upstream_never_gets_it_whole() {
    let (mut h, upstream) = limited_gateway().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let auth = auth.expect("token");
    let head = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
    };
    let chunks = |n: usize| -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..n / 1024 {
            out.extend_from_slice(b"400\r\n");
            out.extend_from_slice(&filler(1024));
            out.extend_from_slice(b"\r\n");
        }
        out
    };

    // Control: a chunked body under the limit reaches the upstream whole.
    let mut conn = RawConn::connect(h.addr).await.expect("connect");
    let mut under = head("/v1/messages/chunked-small").into_bytes();
    under.extend_from_slice(&chunks(BEFORE));
    under.extend_from_slice(b"0\r\n\r\n");
    conn.send(&under).await.expect("send");
    let ok = conn.read(Duration::from_secs(10)).await.expect("answer");
    assert_eq!(ok.status, 201);
    let id = ok.header("x-jurisgate-request-id").expect("id").to_string();
    let got = upstream.settled(&id).await;
    assert_eq!((got.bytes, got.complete), (BEFORE, Some(true)));

    // Over: the first 15 KiB stream through; the next 5 KiB cross the limit.
    let mut conn = RawConn::connect(h.addr).await.expect("connect");
    let mut start = head("/v1/messages/chunked-big").into_bytes();
    start.extend_from_slice(&chunks(BEFORE));
    conn.send(&start).await.expect("send");
    let id = upstream.wait_for_bytes(BEFORE).await;
    let mut rest = chunks(CROSSING);
    rest.extend_from_slice(b"0\r\n\r\n");
    conn.send(&rest).await.expect("send");
    let refused = conn.read(Duration::from_secs(10)).await.expect("answer");
    let json: serde_json::Value = serde_json::from_slice(&refused.body).expect("JSON body");
    assert_eq!(refused.status, 413, "{json}");
    assert_eq!(json["reason"], "request_body_too_large");
    assert_eq!(refused.header("x-jurisgate-request-id"), Some(id.as_str()));
    assert_eq!(refused.header("connection"), Some("close"));
    assert!(
        conn.read(Duration::from_secs(2)).await.is_none(),
        "the connection stayed open after the refusal"
    );
    let got = upstream.settled(&id).await;
    assert_eq!(
        got.complete,
        Some(false),
        "the upstream got a complete request"
    );
    // Whole frames up to the limit may pass (the 16th 1 KiB chunk ends
    // exactly at it); the frame that crosses it never does.
    assert!(
        (BEFORE..=LIMIT).contains(&got.bytes),
        "the upstream got {} body bytes with a {LIMIT}-byte limit",
        got.bytes
    );
    let records = h.records();
    let d = jurisgate_e2e::decision(&records, &id);
    assert!(d.decision.allow);
    assert_eq!(d.region.as_deref(), Some("us-east"));
    assert_eq!(d.status, None);
    // The cut is in the log too, after the decision that let the body flow.
    crate::faults::assert_forward_failure_recorded(
        &h,
        &id,
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_body_too_large",
    );

    // Broken: a chunk size that is not hex, after some body has flowed.
    // The client's fault, recorded as such; the upstream stays healthy.
    let mut conn = RawConn::connect(h.addr).await.expect("connect");
    let mut start = head("/v1/messages/chunked-broken").into_bytes();
    start.extend_from_slice(&chunks(2048));
    conn.send(&start).await.expect("send");
    let broken_id = upstream.wait_for_bytes(2048).await;
    conn.send(b"zz\r\nnot a chunk\r\n").await.expect("send");
    let refused = conn.read(Duration::from_secs(10)).await.expect("answer");
    let json: serde_json::Value = serde_json::from_slice(&refused.body).expect("JSON body");
    assert_eq!(refused.status, 400, "{json}");
    assert_eq!(json["reason"], "request_body_error");
    crate::faults::assert_forward_failure_recorded(
        &h,
        &broken_id,
        StatusCode::BAD_REQUEST,
        "request_body_error",
    );
    assert_eq!(
        h.metric("jurisgate_pool_healthy_endpoints{pool=\"us-east\",region=\"us-east\"}")
            .await,
        Some(1.0),
        "a client's broken body counted against the upstream"
    );
    assert_eq!(h.stop(), 0);
    println!(
        "limits: HTTP/1.1 chunked body of {} bytes over a {LIMIT}-byte limit: 413 request_body_too_large, connection closed; upstream got {} bytes, message incomplete",
        BEFORE + CROSSING,
        got.bytes
    );
}

/// The same over HTTP/2 (h2c, DATA frames, no `content-length`), on one
/// connection: the refused stream gets 413 with no connection-specific
/// header, and the connection goes on serving other streams, after this
/// refusal and after the 400 and declared-length 413 refusals too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_body_over_the_limit_gets_413_and_the_connection_lives_on() {
    let (mut h, upstream) = limited_gateway().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let auth = auth.expect("token");
    let stream = tokio::net::TcpStream::connect(h.addr)
        .await
        .expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    let connection = tokio::spawn(conn);
    let request = |path: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("http://api.demo.jurisgate{path}"))
            .header("authorization", auth.as_str())
            .header("content-type", "application/json")
    };

    // A DATA stream that crosses the limit once it is flowing.
    let (tx, rx) = mpsc::channel(64);
    let big = send.send_request(
        request("/v1/messages/h2-big")
            .body(http_body_util::Either::Right(ChannelBody(rx)))
            .expect("request"),
    );
    let feed = async {
        for _ in 0..BEFORE / 1024 {
            tx.send(filler(1024)).await.expect("feed");
        }
        let id = upstream.wait_for_bytes(BEFORE).await;
        for _ in 0..CROSSING / 1024 {
            if tx.send(filler(1024)).await.is_err() {
                break;
            }
        }
        id
    };
    let (resp, id) = tokio::join!(big, feed);
    let resp = resp.expect("an answer on the stream");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(resp.headers().get("connection").is_none());
    assert_eq!(resp.headers()["x-jurisgate-request-id"], id.as_str());
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(json["reason"], "request_body_too_large");
    drop(tx);
    let got = upstream.settled(&id).await;
    assert_eq!(
        got.complete,
        Some(false),
        "the upstream got a complete request"
    );
    assert!(
        (BEFORE..=LIMIT).contains(&got.bytes),
        "the upstream got {} body bytes with a {LIMIT}-byte limit",
        got.bytes
    );

    // The other refusals that end an HTTP/1.1 connection: each on its own
    // stream, then a normal request on the same connection.
    let refusals = [
        (
            "400 NUL in the path",
            request("/v1/messages/a%00b").body(full(Bytes::from_static(b"{}"))),
            StatusCode::BAD_REQUEST,
        ),
        (
            "413 declared length",
            request("/v1/messages/h2-declared")
                .header("content-length", (LIMIT + 1).to_string())
                .body(full(filler(LIMIT + 1))),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    let mut served = 0;
    for (name, req, status) in refusals {
        let resp = send
            .send_request(req.expect("request"))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(resp.status(), status, "{name}");
        assert!(resp.headers().get("connection").is_none(), "{name}");
        let ok = send
            .send_request(
                request("/v1/messages/h2-after")
                    .body(full(Bytes::from_static(b"{\"ok\":true}")))
                    .expect("request"),
            )
            .await
            .unwrap_or_else(|e| panic!("after {name}: the connection is gone: {e}"));
        assert_eq!(ok.status(), StatusCode::CREATED, "after {name}");
        served += 1;
    }
    assert!(!connection.is_finished(), "the HTTP/2 connection ended");
    let records = h.records();
    let d = jurisgate_e2e::decision(&records, &id);
    assert_eq!(d.region.as_deref(), Some("us-east"));
    assert_eq!(h.stop(), 0);
    println!(
        "limits: HTTP/2 DATA body of {} bytes over a {LIMIT}-byte limit: 413 on its stream, upstream got {} bytes, message incomplete; 400 and 413 refusals on the same connection, {served} requests served after them",
        BEFORE + CROSSING,
        got.bytes
    );
}

/// A whole body for a request on a hand-made HTTP/2 connection.
fn full(bytes: Bytes) -> http_body_util::Either<Full<Bytes>, ChannelBody> {
    http_body_util::Either::Left(Full::new(bytes))
}
