//! Forwarding: the keep-alive client to upstreams. It receives only
//! requests the router has already placed in an approved region, rewrites
//! the target to the chosen endpoint, and sets the gateway's own headers.

use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jurisgate_route::Selected;

use crate::body::BoxBody;
use crate::respond::Refusal;

/// The upstream client, shared by every request.
#[derive(Clone, Debug)]
pub struct Upstreams {
    client: Client<HttpConnector, BoxBody>,
}

/// What happened when forwarding.
pub enum Forwarded {
    /// The upstream answered (any status).
    Response(Response<Incoming>, Duration),
    /// The upstream could not be reached.
    ConnectFailed(Refusal),
    /// The upstream failed after the connection was made, or timed out.
    Failed(Refusal),
}

impl Upstreams {
    /// A client keeping up to `max_idle_per_host` idle connections per endpoint.
    #[must_use]
    pub fn new(max_idle_per_host: usize, connect_timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        connector.enforce_http(false);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Self { client }
    }

    /// Sends `req` (whose URI holds only the normalised path and query) to
    /// the selected endpoint and waits for the response head.
    pub async fn send(&self, mut req: Request<BoxBody>, to: &Selected) -> Forwarded {
        let path_and_query = req.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_string();
        let uri = match Uri::builder()
            .scheme(to.base.scheme_str().unwrap_or("http"))
            .authority(to.base.authority().map_or("", |a| a.as_str()))
            .path_and_query(path_and_query)
            .build()
        {
            Ok(uri) => uri,
            Err(e) => return Forwarded::Failed(Refusal::BadGateway(format!("bad upstream uri: {e}"))),
        };
        if let Some(authority) = uri.authority()
            && let Ok(v) = HeaderValue::from_str(authority.as_str())
        {
            req.headers_mut().insert(header::HOST, v);
        }
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;

        let started = Instant::now();
        match tokio::time::timeout(to.request_timeout, self.client.request(req)).await {
            Ok(Ok(resp)) => Forwarded::Response(resp, started.elapsed()),
            Ok(Err(e)) if e.is_connect() => Forwarded::ConnectFailed(Refusal::BadGateway(format!("cannot connect to pool {}", to.pool))),
            Ok(Err(e)) => Forwarded::Failed(Refusal::BadGateway(format!("pool {}: {}", to.pool, root_cause(&e)))),
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
