//! Active health checks against real upstreams on 127.0.0.1: endpoints that
//! answer stay up, ones that fail go down after `unhealthy_after` probes and
//! come back once they answer again. Waits poll the state with a deadline.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Empty;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jurisgate_config::{Dur, HealthCheck, Pool};
use jurisgate_policy::{Decision, Permitted};
use jurisgate_route::{EndpointHealth, Pools};
use tokio::net::TcpListener;
use tokio::time::Instant;
use toml::Spanned;

/// How a test upstream treats the next connection.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Mode {
    /// Answers 200.
    Ok = 0,
    /// Answers 500.
    Error = 1,
    /// Closes the connection without a word.
    Close = 2,
    /// Accepts and never answers.
    Hang = 3,
}

/// A real HTTP upstream whose behaviour the test switches.
struct Upstream {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Connections accepted (each probe opens its own).
    connections: Arc<AtomicUsize>,
}

impl Upstream {
    async fn start(mode: Mode) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(mode as u8));
        let connections = Arc::new(AtomicUsize::new(0));
        let (m, c) = (Arc::clone(&mode), Arc::clone(&connections));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let status = match m.load(Ordering::SeqCst) {
                    0 => StatusCode::OK,
                    1 => StatusCode::INTERNAL_SERVER_ERROR,
                    2 => continue, // dropping the stream closes it
                    _ => {
                        tokio::spawn(async move {
                            let _held = stream;
                            std::future::pending::<()>().await;
                        });
                        continue;
                    }
                };
                let svc = service_fn(move |_req| async move {
                    let mut r = Response::new(Empty::<Bytes>::new());
                    *r.status_mut() = status;
                    Ok::<_, Infallible>(r)
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), svc));
            }
        });
        Upstream {
            addr,
            mode,
            connections,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn pool(name: &str, endpoints: &[String], unhealthy_after: u32, healthy_after: u32) -> Pool {
    let spanned = |s: String| Spanned::new(0..0, s);
    Pool {
        name: spanned(name.into()),
        region: spanned("us-east".into()),
        endpoints: endpoints.iter().cloned().map(spanned).collect(),
        health: HealthCheck {
            path: "/healthz".into(),
            interval: Dur::millis(20),
            timeout: Dur::millis(400),
            unhealthy_after,
            healthy_after,
        },
        max_idle_per_endpoint: 8,
        connect_timeout: Dur::millis(400),
        request_timeout: Dur::secs(1),
        tls: None,
    }
}

/// The health of every endpoint of the first pool.
fn endpoints(pools: &Pools) -> Vec<EndpointHealth> {
    pools.health_snapshot().remove(0).endpoints
}

/// Polls `check` until it holds or ten seconds pass (generous for loaded CI).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn failing_endpoint_goes_down_after_n_probes_and_comes_back() {
    let good = Upstream::start(Mode::Ok).await;
    let bad = Upstream::start(Mode::Error).await;
    let tls = "https://127.0.0.1:1".to_owned();
    let pools =
        Arc::new(Pools::from_config(&[pool("p", &[good.url(), bad.url(), tls], 3, 2)]).unwrap());
    let checks = pools.spawn_health_checks();

    eventually("the 500 endpoint is down", || !endpoints(&pools)[1].healthy).await;
    assert!(
        bad.connections() >= 3,
        "down after {} probes",
        bad.connections()
    );
    eventually("the good endpoint was probed a few times", || {
        good.connections() >= 5
    })
    .await;
    assert!(
        endpoints(&pools)[0].healthy,
        "an endpoint answering 200 went down"
    );

    // Only the healthy endpoints take traffic meanwhile.
    let permitted = Permitted::new(
        (),
        Arc::new(Decision {
            allow: true,
            regions: vec!["us-east".into()],
            ..Decision::deny("test")
        }),
    )
    .unwrap();
    let route = ["p".to_owned()];
    for _ in 0..6 {
        let base = pools.select(&permitted, &route).unwrap().base.to_string();
        assert_ne!(base, format!("{}/", bad.url()));
    }

    bad.set(Mode::Ok);
    eventually("the endpoint is back up", || endpoints(&pools)[1].healthy).await;

    // https endpoints are not probed yet, so they were never marked down.
    let tls = &endpoints(&pools)[2];
    assert!(tls.healthy && !tls.probed);
    checks.shutdown().await;
}

#[tokio::test]
async fn closed_hung_and_refused_connections_are_failures() {
    let closing = Upstream::start(Mode::Close).await;
    let hanging = Upstream::start(Mode::Hang).await;
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let pools = Arc::new(
        Pools::from_config(&[pool("p", &[closing.url(), hanging.url(), refused], 2, 1)]).unwrap(),
    );
    let _checks = pools.spawn_health_checks();

    eventually("all three are down", || {
        endpoints(&pools).iter().all(|e| !e.healthy)
    })
    .await;
    assert!(!pools.health_snapshot()[0].healthy);

    closing.set(Mode::Ok);
    hanging.set(Mode::Ok);
    eventually("the answering two are back", || {
        let e = endpoints(&pools);
        e[0].healthy && e[1].healthy
    })
    .await;
    assert!(pools.health_snapshot()[0].healthy);
}

#[tokio::test]
async fn passive_failure_ejects_and_probes_readmit() {
    let up = Upstream::start(Mode::Ok).await;
    let pools = Arc::new(Pools::from_config(&[pool("p", &[up.url()], 1, 2)]).unwrap());
    let _checks = pools.spawn_health_checks();
    eventually("the first probe ran", || up.connections() >= 1).await;

    let permitted = Permitted::new(
        (),
        Arc::new(Decision {
            allow: true,
            regions: vec!["us-east".into()],
            ..Decision::deny("test")
        }),
    )
    .unwrap();
    let route = ["p".to_owned()];
    let selected = pools.select(&permitted, &route).unwrap();
    pools.report_failure(&selected.endpoint);
    // Two probes, at least one interval apart, are needed to come back.
    assert!(pools.select(&permitted, &route).is_err());
    eventually("probes bring it back", || {
        pools.select(&permitted, &route).is_ok()
    })
    .await;
}

#[tokio::test]
async fn dropping_the_guard_stops_the_probes() {
    let up = Upstream::start(Mode::Ok).await;
    let pools = Arc::new(Pools::from_config(&[pool("p", &[up.url()], 2, 1)]).unwrap());
    let checks = pools.spawn_health_checks();
    eventually("probes run", || up.connections() >= 2).await;
    drop(checks);
    // Each probe task holds the pools; once none does, no probe can run.
    eventually("every probe task ended", || Arc::strong_count(&pools) == 1).await;
}
