//! Forwarding: HTTP/1.1 to upstreams over keep-alive connections
//! ([`crate::connection_pool`]), each pool's TLS settings (its CA, its
//! expected server name, its client certificate) applying to its endpoints
//! only. It receives only requests the router has already placed in an
//! approved region, with their normalised target, and names the chosen
//! endpoint in `Host`.
//!
//! An `https://` endpoint whose certificate does not verify for its pool
//! fails the TLS handshake: a connect failure, reported to the pool's
//! health, with no byte of the request sent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{Request, Response, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use jurisgate_route::Selected;
use jurisgate_tls::{HttpsConnector, UpstreamTls};
use tower::{Service, ServiceExt};

use crate::body::{BoxBody, BoxError};
use crate::connection_pool::{ConnectionPool, Sender, UpstreamBody};
use crate::respond::Refusal;

/// The connectors and idle connections to upstreams. With
/// `runtime = "multi_thread"` one set serves every request; with
/// `per_core` each runtime has its own ([`Self::replica`]), so a request
/// never waits on a connection driven by another thread.
#[derive(Clone, Debug)]
pub struct Upstreams {
    /// For pools without TLS settings (plain `http://` endpoints).
    plain: HttpsConnector,
    /// For pools with TLS settings, by pool name: each pool's CA, server
    /// name and client certificate apply to its own endpoints only.
    by_pool: HashMap<String, HttpsConnector>,
    /// Idle keep-alive connections, by endpoint.
    idle: ConnectionPool,
    /// What the connectors were built from, for [`Self::replica`].
    settings: ClientSettings,
}

/// How the upstream clients are built.
#[derive(Clone, Debug)]
struct ClientSettings {
    connect_timeout: Duration,
    tls: HashMap<String, Arc<UpstreamTls>>,
}

/// What happened when forwarding.
pub enum Forwarded {
    /// The upstream answered (any status).
    Response(Response<UpstreamBody>, Duration),
    /// The upstream could not be reached (including a TLS handshake that failed).
    ConnectFailed(Refusal),
    /// The upstream failed after the connection was made, or timed out.
    Failed(Refusal),
}

/// Why an exchange with an upstream failed.
enum ExchangeError {
    /// No connection could be made (TCP or TLS).
    Connect(BoxError),
    /// The connection failed while the request was sent or answered.
    Send(hyper::Error),
}

impl Upstreams {
    /// Clients with `tls` for the pools it names. Each pool's own
    /// `connect_timeout` and `max_idle_per_endpoint` come with the
    /// [`Selected`] endpoint; `connect_timeout` here bounds the connector.
    #[must_use]
    pub fn new(connect_timeout: Duration, tls: HashMap<String, Arc<UpstreamTls>>) -> Self {
        Self::build(ClientSettings {
            connect_timeout,
            tls,
        })
    }

    /// New clients with the same settings and no idle connections.
    #[must_use]
    pub fn replica(&self) -> Self {
        Self::build(self.settings.clone())
    }

    fn build(settings: ClientSettings) -> Self {
        let connect_timeout = settings.connect_timeout;
        let connector = |tls: Option<Arc<UpstreamTls>>| {
            let mut http = HttpConnector::new();
            http.set_nodelay(true);
            http.set_connect_timeout(Some(connect_timeout));
            HttpsConnector::new(http, tls, connect_timeout)
        };
        let by_pool = settings
            .tls
            .iter()
            .map(|(pool, tls)| (pool.clone(), connector(Some(Arc::clone(tls)))))
            .collect();
        Self {
            plain: connector(None),
            by_pool,
            idle: ConnectionPool::new(),
            settings,
        }
    }

    /// Sends `req` (whose URI holds only the normalised path and query) to
    /// the selected endpoint and waits for the response head.
    pub async fn send(&self, mut req: Request<BoxBody>, to: &Selected) -> Forwarded {
        if let Some(authority) = to.base.authority()
            && let Ok(v) = HeaderValue::from_str(authority.as_str())
        {
            req.headers_mut().insert(header::HOST, v);
        }
        *req.version_mut() = Version::HTTP_11;

        let started = Instant::now();
        match tokio::time::timeout(to.request_timeout, self.exchange(req, to, started)).await {
            Ok(Ok(resp)) => Forwarded::Response(resp, started.elapsed()),
            Ok(Err(ExchangeError::Connect(e))) => {
                tracing::warn!(pool = %to.pool, endpoint = %to.base, error = %root_cause(e.as_ref()), "cannot connect to upstream");
                Forwarded::ConnectFailed(Refusal::BadGateway(format!(
                    "cannot connect to pool {}",
                    to.pool
                )))
            }
            Ok(Err(ExchangeError::Send(e))) => Forwarded::Failed(Refusal::BadGateway(format!(
                "pool {}: {}",
                to.pool,
                root_cause(&e)
            ))),
            Err(_) => Forwarded::Failed(Refusal::GatewayTimeout),
        }
    }

    /// Sends `req` on an idle connection to the endpoint, or a new one.
    /// A request that an idle connection closed before it was written
    /// (the upstream ended the keep-alive) is sent again on the next one;
    /// nothing of it has reached the upstream.
    async fn exchange(
        &self,
        mut req: Request<BoxBody>,
        to: &Selected,
        now: Instant,
    ) -> Result<Response<UpstreamBody>, ExchangeError> {
        loop {
            let (mut sender, reused) = match self.idle.take(&to.endpoint, now) {
                Some(sender) => (sender, true),
                None => (self.connect(to).await?, false),
            };
            if reused && sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = UpstreamBody::new(
                        body,
                        sender,
                        to.endpoint,
                        self.idle.clone(),
                        to.max_idle_per_endpoint,
                    );
                    return Ok(Response::from_parts(parts, body));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(ExchangeError::Send(e.into_error())),
                },
            }
        }
    }

    /// Opens a connection to the selected endpoint (TCP, and TLS for
    /// `https://` with the pool's settings) within the pool's connect
    /// timeout; the connection is driven by a task on this runtime.
    async fn connect(&self, to: &Selected) -> Result<Sender, ExchangeError> {
        let mut connector = self.by_pool.get(&to.pool).unwrap_or(&self.plain).clone();
        let connecting = async {
            let io = connector.ready().await?.call(to.base.clone()).await?;
            let (sender, connection) = hyper::client::conn::http1::handshake(io).await?;
            Ok::<_, BoxError>((sender, connection))
        };
        let (sender, connection) = match tokio::time::timeout(to.connect_timeout, connecting).await
        {
            Ok(connected) => connected.map_err(ExchangeError::Connect)?,
            Err(_) => {
                return Err(ExchangeError::Connect(
                    format!("no connection within {:?}", to.connect_timeout).into(),
                ));
            }
        };
        let endpoint = to.base.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%endpoint, error = %e, "upstream connection ended");
            }
        });
        Ok(sender)
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
