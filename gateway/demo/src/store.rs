//! A demo regional store: a tiny HTTP service in one region that stores
//! JSON records by path and returns them, reports its region, and remembers
//! what the gateway sent it (request ids and the x-jurisgate-* headers), so
//! the demo and the end-to-end tests can check where each request went.
//!
//! Records posted as `application/json` come back as JSON with the store's
//! `region` added; anything else comes back as it was sent, with its content
//! type. `?delay_ms=N` delays the answer (for shutdown and time-out tests).
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
    /// Every header name received, lower-case.
    pub header_names: Vec<String>,
}

#[derive(Debug)]
struct State {
    region: String,
    up: AtomicBool,
    records: Mutex<BTreeMap<String, Stored>>,
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
        self.state
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Whether a request with `request_id` reached this store.
    #[must_use]
    pub fn saw(&self, request_id: &str) -> bool {
        self.received()
            .iter()
            .any(|r| r.request_id.as_deref() == Some(request_id))
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
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        let service = service_fn(move |req| {
            let state = Arc::clone(&state);
            async move { handle(&state, req).await }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// A stored record: JSON, or raw bytes with their content type.
#[derive(Debug, Clone)]
enum Stored {
    Json(serde_json::Value),
    Raw(String, Bytes),
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
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn handle(state: &State, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Down> {
    let up = state.up.load(Ordering::SeqCst);
    let path = req.uri().path().to_string();
    if path == "/healthz" {
        let status = if up {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return Ok(json(
            status,
            &serde_json::json!({ "region": state.region, "up": up }),
        ));
    }
    if !up {
        return Err(Down);
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let received = Received {
        request_id: header("x-jurisgate-request-id"),
        method: req.method().to_string(),
        target: req
            .uri()
            .path_and_query()
            .map_or_else(|| path.clone(), |pq| pq.to_string()),
        jurisdiction: header("x-jurisgate-jurisdiction"),
        region_header: header("x-jurisgate-region"),
        data_class: header("x-jurisgate-data-class"),
        header_names: req
            .headers()
            .keys()
            .map(|k| k.as_str().to_string())
            .collect(),
    };
    if let Ok(mut r) = state.received.lock() {
        r.push(received);
    }
    // `?delay_ms=N` makes the store answer slowly, for shutdown and timeout tests.
    let delay_ms = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("delay_ms=")))
        .and_then(|v| v.parse::<u64>().ok());
    let method = req.method().clone();
    let content_type = header("content-type").unwrap_or_default();
    // A body cut short (the client or the gateway gave up mid-stream) is
    // never stored as if it were whole.
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return Ok(json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "error": "the request body was cut short" }),
        ));
    };
    if let Some(ms) = delay_ms {
        tokio::time::sleep(std::time::Duration::from_millis(ms.min(10_000))).await;
    }
    let response = match method.as_str() {
        "POST" | "PUT" => {
            let stored = if content_type.starts_with("application/json") {
                match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(value) => Some(Stored::Json(value)),
                    Err(_) => None,
                }
            } else {
                Some(Stored::Raw(content_type, body))
            };
            match stored {
                Some(stored) => {
                    if let Ok(mut records) = state.records.lock() {
                        records.insert(path.clone(), stored);
                    }
                    json(
                        StatusCode::CREATED,
                        &serde_json::json!({ "stored": path, "region": state.region }),
                    )
                }
                None => json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({ "error": "body is not JSON" }),
                ),
            }
        }
        "GET" => {
            let found = state
                .records
                .lock()
                .ok()
                .and_then(|r| r.get(&path).cloned());
            match found {
                Some(Stored::Json(mut value)) => {
                    if let Some(obj) = value.as_object_mut() {
                        obj.insert("region".into(), state.region.clone().into());
                    }
                    json(StatusCode::OK, &value)
                }
                Some(Stored::Raw(content_type, bytes)) => {
                    let mut resp = Response::new(Full::new(bytes));
                    if let Ok(v) = http::HeaderValue::from_str(&content_type) {
                        resp.headers_mut().insert(header::CONTENT_TYPE, v);
                    }
                    resp
                }
                None => json(
                    StatusCode::NOT_FOUND,
                    &serde_json::json!({ "error": "not found", "region": state.region }),
                ),
            }
        }
        _ => json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({ "error": "method not allowed" }),
        ),
    };
    Ok(response)
}
