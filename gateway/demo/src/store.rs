//! A demo regional store: a tiny HTTP service in one region that stores
//! JSON records by path and returns them, reports its region, and remembers
//! what the gateway sent it (request ids and the x-jurisgate-* headers), so
//! the demo and the end-to-end tests can check where each request went.
//!
//! It is a real HTTP server on a real loopback socket. An outage is
//! simulated by a switch: while down, its health check fails and every
//! request on it has its connection closed without an answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request as the store received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `x-jurisgate-request-id`.
    pub request_id: Option<String>,
    /// Method.
    pub method: String,
    /// Path and query, exactly as received.
    pub target: String,
    /// `x-jurisgate-jurisdiction`.
    pub jurisdiction: Option<String>,
    /// `x-jurisgate-region`.
    pub region_header: Option<String>,
    /// `x-jurisgate-data-class`.
    pub data_class: Option<String>,
}

#[derive(Debug)]
struct State {
    region: String,
    up: AtomicBool,
    records: Mutex<BTreeMap<String, serde_json::Value>>,
    received: Mutex<Vec<Received>>,
}

/// A running regional store.
#[derive(Debug)]
pub struct RegionalStore {
    state: Arc<State>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RegionalStore {
    /// Starts a store for `region` on a free loopback port.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(region: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            region: region.to_string(),
            up: AtomicBool::new(true),
            records: Mutex::new(BTreeMap::new()),
            received: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(Self { state, addr, task })
    }

    /// The store's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store's base URL, for a pool's `endpoints`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store's region.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.state.region
    }

    /// Takes the store down (`false`) or brings it back (`true`).
    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
    }

    /// Every request the store received (health checks excluded).
    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Whether a request with `request_id` reached this store.
    #[must_use]
    pub fn saw(&self, request_id: &str) -> bool {
        self.received().iter().any(|r| r.request_id.as_deref() == Some(request_id))
    }
}

impl Drop for RegionalStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let state = Arc::clone(&state);
        let service = service_fn(move |req| {
            let state = Arc::clone(&state);
            async move { handle(&state, req).await }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// The error that makes hyper drop the connection: how a store "goes down"
/// for connections the gateway already holds.
#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("store is down")
    }
}

impl std::error::Error for Down {}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(value.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

async fn handle(state: &State, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Down> {
    let up = state.up.load(Ordering::SeqCst);
    let path = req.uri().path().to_string();
    if path == "/healthz" {
        let status = if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        return Ok(json(status, &serde_json::json!({ "region": state.region, "up": up })));
    }
    if !up {
        return Err(Down);
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from);
    let received = Received {
        request_id: header("x-jurisgate-request-id"),
        method: req.method().to_string(),
        target: req.uri().path_and_query().map_or_else(|| path.clone(), |pq| pq.to_string()),
        jurisdiction: header("x-jurisgate-jurisdiction"),
        region_header: header("x-jurisgate-region"),
        data_class: header("x-jurisgate-data-class"),
    };
    if let Ok(mut r) = state.received.lock() {
        r.push(received);
    }
    let method = req.method().clone();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let response = match method.as_str() {
        "POST" | "PUT" => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(value) => {
                if let Ok(mut records) = state.records.lock() {
                    records.insert(path.clone(), value);
                }
                json(StatusCode::CREATED, &serde_json::json!({ "stored": path, "region": state.region }))
            }
            Err(e) => json(StatusCode::BAD_REQUEST, &serde_json::json!({ "error": format!("body is not JSON: {e}") })),
        },
        "GET" => {
            let found = state.records.lock().ok().and_then(|r| r.get(&path).cloned());
            match found {
                Some(mut value) => {
                    if let Some(obj) = value.as_object_mut() {
                        obj.insert("region".into(), state.region.clone().into());
                    }
                    json(StatusCode::OK, &value)
                }
                None => json(StatusCode::NOT_FOUND, &serde_json::json!({ "error": "not found", "region": state.region })),
            }
        }
        _ => json(StatusCode::METHOD_NOT_ALLOWED, &serde_json::json!({ "error": "method not allowed" })),
    };
    Ok(response)
}

