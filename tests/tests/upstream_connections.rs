//! The gateway's keep-alive connections to upstreams, against the real
//! binary and a real upstream (a raw tokio listener that counts the TCP
//! connections it accepts): requests share connections, each pool keeps
//! as many idle connections as its own `max_idle_per_endpoint` says, and an
//! upstream that ends idle keep-alive connections costs no request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Method, StatusCode};
use jurisgate_e2e::{Harness, Who, point_region, raw_upstream, read_request_head};
use tokio::io::AsyncWriteExt as _;

/// How the counting upstream treats a connection after each answer.
#[derive(Debug, Clone, Copy)]
enum AfterAnswer {
    /// Keeps it open for the next request.
    KeepAlive,
    /// Closes it this long after answering, without saying so in the
    /// response (as a server whose keep-alive timeout ran out does).
    CloseAfter(Duration),
}

/// A real upstream counting its connections and the proxied requests on them.
struct CountingUpstream {
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

async fn counting_upstream(after: AfterAnswer) -> CountingUpstream {
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (conns, reqs) = (Arc::clone(&connections), Arc::clone(&requests));
    let url = raw_upstream(move |mut s| {
        let (conns, reqs) = (Arc::clone(&conns), Arc::clone(&reqs));
        async move {
            let mut counted = false;
            while let Some(head) = read_request_head(&mut s).await {
                let health = head.starts_with(b"GET /healthz ");
                if !health {
                    reqs.fetch_add(1, Ordering::SeqCst);
                    if !counted {
                        counted = true;
                        conns.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let body = b"{\"items\":[]}";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if s.write_all(answer.as_bytes()).await.is_err()
                    || s.write_all(body).await.is_err()
                {
                    return;
                }
                if let (AfterAnswer::CloseAfter(wait), false) = (after, health) {
                    tokio::time::sleep(wait).await;
                    return;
                }
            }
        }
    })
    .await;
    CountingUpstream {
        url,
        connections,
        requests,
    }
}

fn us_user() -> Who {
    Who::user("u-keepalive", "US")
}

/// Starts the gateway with `upstream` serving us-east, with
/// `us_east_settings` added to the us-east pool, and `us_west` serving
/// us-west (the same upstream, so failover cannot hide a failed request,
/// unless a test tells them apart).
async fn gateway_for(
    upstream: &CountingUpstream,
    us_east_settings: &'static str,
    us_west: &CountingUpstream,
) -> Harness {
    let (east, west) = (upstream.url.clone(), us_west.url.clone());
    let h = Harness::start_with(move |c| {
        point_region(c, "us-east", &east, us_east_settings);
        point_region(c, "us-west", &west, "");
    })
    .await;
    h.wait_for_region("us-east", true).await;
    h
}

/// Sends `sent` requests one after another, `pause` after each; every one
/// must be answered 200.
async fn send_in_turn(h: &Harness, sent: usize, tag: &str, pause: Duration) {
    for i in 0..sent {
        let r = h
            .send(
                us_user(),
                Method::GET,
                &format!("/v1/messages/{tag}{i}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "request {i}: {:?}", r.json);
        tokio::time::sleep(pause).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_share_keep_alive_connections_to_the_upstream() {
    let upstream = counting_upstream(AfterAnswer::KeepAlive).await;
    let h = gateway_for(&upstream, "", &upstream).await;
    let sent = 40;
    send_in_turn(&h, sent, "k", Duration::ZERO).await;
    let connections = upstream.connections.load(Ordering::SeqCst);
    let requests = upstream.requests.load(Ordering::SeqCst);
    assert_eq!(requests, sent);
    // One connection per runtime at most (each runtime keeps its own).
    assert!(
        connections <= 4,
        "{sent} sequential requests opened {connections} upstream connections"
    );
    println!("upstream_connections: {sent} requests over {connections} upstream connection(s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_keeps_no_more_idle_connections_than_its_own_setting() {
    // us-east keeps none, while us-west keeps the default: each pool's own
    // setting applies, not the largest over all pools. us-west has an
    // upstream of its own, so a request that failed over is told apart.
    let upstream = counting_upstream(AfterAnswer::KeepAlive).await;
    let west = counting_upstream(AfterAnswer::KeepAlive).await;
    let h = gateway_for(&upstream, "max_idle_per_endpoint = 0", &west).await;
    let sent = 10;
    send_in_turn(&h, sent, "n", Duration::ZERO).await;
    assert_eq!(
        west.requests.load(Ordering::SeqCst),
        0,
        "us-east was never down: no request may fail over"
    );
    assert_eq!(upstream.requests.load(Ordering::SeqCst), sent);
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        sent,
        "a pool with max_idle_per_endpoint = 0 must open a connection per request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_ending_idle_keep_alive_connections_costs_no_request() {
    let upstream = counting_upstream(AfterAnswer::CloseAfter(Duration::from_millis(20))).await;
    let h = gateway_for(&upstream, "", &upstream).await;
    let sent = 12;
    // Each pause is long enough for the upstream to have closed the connection.
    send_in_turn(&h, sent, "c", Duration::from_millis(60)).await;
    assert_eq!(upstream.requests.load(Ordering::SeqCst), sent);
    assert_eq!(upstream.connections.load(Ordering::SeqCst), sent);
    // No failed forward anywhere in the log, no endpoint marked down.
    let failed = h
        .records()
        .iter()
        .filter(|r| matches!(r.event, jurisgate_audit::Event::ForwardFailed(_)))
        .count();
    assert_eq!(failed, 0);
    assert_eq!(
        h.metric("jurisgate_pool_healthy_endpoints{pool=\"us-east\",region=\"us-east\"}")
            .await,
        Some(1.0)
    );
    println!(
        "upstream_connections: {sent} requests after the upstream closed each idle connection -> all 200"
    );
}
