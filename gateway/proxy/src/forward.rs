//! Forwarding: the keep-alive clients to upstreams, one per pool so each
//! pool's TLS settings (its CA, its expected server name, its client
//! certificate) apply to its endpoints only. It receives only requests the
//! router has already placed in an approved region, rewrites the target to
//! the chosen endpoint, and sets the gateway's own headers.
//!
//! An `https://` endpoint whose certificate does not verify for its pool
//! fails the TLS handshake: a connect failure, reported to the pool's
//! health, with no byte of the request sent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jurisgate_route::Selected;
use jurisgate_tls::{HttpsConnector, UpstreamTls};

use crate::body::BoxBody;
use crate::respond::Refusal;

type UpstreamClient = Client<HttpsConnector, BoxBody>;

/// The upstream clients and their connection pools. With
/// `runtime = "multi_thread"` one set serves every request; with
/// `per_core` each runtime has its own ([`Self::replica`]), so a request
/// never waits on a connection driven by another thread.
#[derive(Clone, Debug)]
pub struct Upstreams {
    /// For pools without TLS settings (plain `http://` endpoints).
    plain: UpstreamClient,
    /// For pools with TLS settings, by pool name.
    by_pool: HashMap<String, UpstreamClient>,
    /// What the clients were built from, for [`Self::replica`].
    settings: ClientSettings,
}

/// How the upstream clients are built.
#[derive(Clone, Debug)]
struct ClientSettings {
    max_idle_per_host: usize,
    connect_timeout: Duration,
    tls: HashMap<String, Arc<UpstreamTls>>,
}

/// What happened when forwarding.
pub enum Forwarded {
    /// The upstream answered (any status).
    Response(Response<Incoming>, Duration),
    /// The upstream could not be reached (including a TLS handshake that failed).
    ConnectFailed(Refusal),
    /// The upstream failed after the connection was made, or timed out.
    Failed(Refusal),
}

impl Upstreams {
    /// Clients keeping up to `max_idle_per_host` idle connections per
    /// endpoint, with `tls` for the pools it names.
    #[must_use]
    pub fn new(
        max_idle_per_host: usize,
        connect_timeout: Duration,
        tls: HashMap<String, Arc<UpstreamTls>>,
    ) -> Self {
        Self::build(ClientSettings {
            max_idle_per_host,
            connect_timeout,
            tls,
        })
    }

    /// New clients with the same settings and empty connection pools.
    #[must_use]
    pub fn replica(&self) -> Self {
        Self::build(self.settings.clone())
    }

    fn build(settings: ClientSettings) -> Self {
        let ClientSettings {
            max_idle_per_host,
            connect_timeout,
            ..
        } = settings;
        let client = |tls: Option<Arc<UpstreamTls>>| {
            let mut http = HttpConnector::new();
            http.set_nodelay(true);
            http.set_connect_timeout(Some(connect_timeout));
            Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(max_idle_per_host)
                .pool_idle_timeout(Duration::from_secs(90))
                .build(HttpsConnector::new(http, tls, connect_timeout))
        };
        let by_pool = settings
            .tls
            .iter()
            .map(|(pool, tls)| (pool.clone(), client(Some(Arc::clone(tls)))))
            .collect();
        Self {
            plain: client(None),
            by_pool,
            settings,
        }
    }

    /// Sends `req` (whose URI holds only the normalised path and query) to
    /// the selected endpoint and waits for the response head.
    pub async fn send(&self, mut req: Request<BoxBody>, to: &Selected) -> Forwarded {
        let path_and_query = req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_string();
        let uri = match Uri::builder()
            .scheme(to.base.scheme_str().unwrap_or("http"))
            .authority(to.base.authority().map_or("", |a| a.as_str()))
            .path_and_query(path_and_query)
            .build()
        {
            Ok(uri) => uri,
            Err(e) => {
                return Forwarded::Failed(Refusal::BadGateway(format!("bad upstream uri: {e}")));
            }
        };
        if let Some(authority) = uri.authority()
            && let Ok(v) = HeaderValue::from_str(authority.as_str())
        {
            req.headers_mut().insert(header::HOST, v);
        }
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;

        let client = self.by_pool.get(&to.pool).unwrap_or(&self.plain);
        let started = Instant::now();
        match tokio::time::timeout(to.request_timeout, client.request(req)).await {
            Ok(Ok(resp)) => Forwarded::Response(resp, started.elapsed()),
            Ok(Err(e)) if e.is_connect() => {
                tracing::warn!(pool = %to.pool, endpoint = %to.base, error = %root_cause(&e), "cannot connect to upstream");
                Forwarded::ConnectFailed(Refusal::BadGateway(format!(
                    "cannot connect to pool {}",
                    to.pool
                )))
            }
            Ok(Err(e)) => Forwarded::Failed(Refusal::BadGateway(format!(
                "pool {}: {}",
                to.pool,
                root_cause(&e)
            ))),
            Err(_) => Forwarded::Failed(Refusal::GatewayTimeout),
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
