//! Active health checks: one task per endpoint sends `GET health.path` every
//! interval; a 2xx within the time-out is a success, anything else a failure.
//!
//! Probes open a fresh connection each time (no idle pool), so a listener
//! that stopped accepting is noticed even while an old connection lingers.
//! https endpoints are probed over TLS with the pool's settings, so an
//! upstream whose certificate does not verify for the pool (another
//! region's, say) fails every probe and stays down; https endpoints of a
//! pool without TLS settings keep passive health only. This module does not decide what a result means
//! (see `health`) and does not forward traffic.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jurisgate_tls::{HttpsConnector, UpstreamTls};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::health::Event;
use crate::pools::{EndpointId, Pools, ProbeSettings};

type ProbeClient = Client<HttpsConnector, Empty<Bytes>>;

/// The running health checks. Dropping it stops them; so does
/// [`HealthChecks::shutdown`], which also waits for the tasks to end.
#[derive(Debug)]
#[must_use = "dropping HealthChecks stops the health checks"]
pub struct HealthChecks {
    tasks: JoinSet<()>,
}

impl HealthChecks {
    /// Stops every probe and waits until none is running.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

impl Pools {
    /// Starts the active health checks on the current tokio runtime. The
    /// first probe of each endpoint is sent at once, then one per interval.
    ///
    /// # Panics
    /// When called outside a tokio runtime (as `tokio::spawn` does).
    pub fn spawn_health_checks(self: &Arc<Self>) -> HealthChecks {
        let mut tasks = JoinSet::new();
        for (p, pool) in self.pools.iter().enumerate() {
            let client = probe_client(&pool.probe, pool.tls.clone());
            for (e, endpoint) in pool.endpoints.iter().enumerate() {
                let Some(uri) = endpoint.probe.clone() else {
                    tracing::warn!(
                        pool = %pool.name, endpoint = %endpoint.base.uri,
                        "https endpoint of a pool without tls settings is not actively health-checked; passive health only"
                    );
                    continue;
                };
                let id = EndpointId::new(p, e);
                let task = probe_loop(
                    Arc::clone(self),
                    id,
                    client.clone(),
                    uri,
                    pool.probe.clone(),
                );
                tasks.spawn(task);
            }
        }
        HealthChecks { tasks }
    }
}

/// One client per pool: its connect time-out is the pool's, capped by the
/// probe time-out, and it keeps no idle connections (see the module doc).
fn probe_client(settings: &ProbeSettings, tls: Option<Arc<UpstreamTls>>) -> ProbeClient {
    let mut connector = HttpConnector::new();
    let connect_timeout = settings.connect_timeout.min(settings.timeout);
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(HttpsConnector::new(connector, tls, settings.timeout))
}

async fn probe_loop(
    pools: Arc<Pools>,
    id: EndpointId,
    client: ProbeClient,
    uri: Uri,
    settings: ProbeSettings,
) {
    let mut ticker = tokio::time::interval(settings.interval);
    // After a stall, probe once and carry on rather than firing a burst.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let event = match probe(&client, &uri, settings.timeout).await {
            Ok(()) => Event::ProbeOk,
            Err(why) => {
                tracing::debug!(endpoint = %uri, %why, "health probe failed");
                Event::ProbeFailed
            }
        };
        pools.record(id, event);
    }
}

/// One probe: `Ok` for a 2xx response head within `timeout`.
async fn probe(client: &ProbeClient, uri: &Uri, timeout: Duration) -> Result<(), String> {
    let request = Request::get(uri.clone())
        .header(header::USER_AGENT, "jurisgate-health-check")
        .body(Empty::new())
        .map_err(|e| format!("cannot build request: {e}"))?;
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
        .map_err(|e| format!("request failed: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("status {}", response.status()))
    }
}
