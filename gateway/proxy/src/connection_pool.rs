//! Idle keep-alive connections to upstream endpoints, kept by the gateway
//! itself over hyper's HTTP/1 client connections.
//!
//! A request takes the most recently used idle connection of its endpoint
//! (or the forwarder opens one), sends on it, and the connection comes back
//! when the response body has been read to its end, the way nginx's
//! `keepalive` does. A response body dropped before its end closes its
//! connection (HTTP/1 cannot abandon a response and reuse the connection).
//! Each runtime has its own pool ([`crate::forward::Upstreams::replica`]), so
//! the lock is never contended under `runtime = "per_core"`.
//!
//! hyper-util's general-purpose client did this before; keeping the pool
//! here saved about 2 µs of CPU per request (see BENCHMARKS.md).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use jurisgate_route::EndpointId;

use crate::body::BoxBody;

/// A keep-alive connection unused for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How often, at most, every endpoint's idle list is swept of connections
/// past [`IDLE_TIMEOUT`] (a sweep runs on the way to a connection, so an
/// endpoint no request goes to any more is still swept).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One side of an HTTP/1 connection to an upstream: send requests with it.
pub type Sender = SendRequest<BoxBody>;

/// The idle connections of one runtime, by endpoint (named by `K`).
#[derive(Debug)]
pub struct ConnectionPool<K = EndpointId> {
    inner: Arc<Mutex<Idle<K>>>,
}

impl<K> Clone for ConnectionPool<K> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: Hash + Eq> Default for ConnectionPool<K> {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
struct Idle<K> {
    by_endpoint: HashMap<K, VecDeque<IdleConnection>>,
    last_sweep: Instant,
}

#[derive(Debug)]
struct IdleConnection {
    sender: Sender,
    since: Instant,
}

impl<K: Hash + Eq> ConnectionPool<K> {
    /// An empty pool.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Idle {
                by_endpoint: HashMap::new(),
                last_sweep: Instant::now(),
            })),
        }
    }

    /// The most recently used idle connection to `endpoint` that is still
    /// open, if any. It may still be closed by the upstream before a request
    /// is written to it: the forwarder then tries again.
    pub fn take(&self, endpoint: &K, now: Instant) -> Option<Sender> {
        let mut idle = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_duration_since(idle.last_sweep) >= SWEEP_EVERY {
            idle.last_sweep = now;
            for list in idle.by_endpoint.values_mut() {
                while list
                    .front()
                    .is_some_and(|c| now.saturating_duration_since(c.since) >= IDLE_TIMEOUT)
                {
                    list.pop_front();
                }
            }
        }
        let list = idle.by_endpoint.get_mut(endpoint)?;
        while let Some(conn) = list.pop_back() {
            if !conn.sender.is_closed() {
                return Some(conn.sender);
            }
        }
        None
    }

    /// Keeps `sender` for the next request to `endpoint`, unless it is
    /// closed or the endpoint already has `max_idle` idle connections (then
    /// the connection closes as `sender` drops).
    pub fn give_back(&self, endpoint: K, sender: Sender, max_idle: usize) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.by_endpoint.entry(endpoint).or_default();
        if list.len() < max_idle {
            list.push_back(IdleConnection {
                sender,
                since: Instant::now(),
            });
        }
    }
}

/// An upstream's response body. When it has been read to its end, its
/// connection goes back to the pool for the next request.
#[derive(Debug)]
pub struct UpstreamBody<K: Hash + Eq = EndpointId> {
    body: Incoming,
    lease: Option<Lease<K>>,
}

#[derive(Debug)]
struct Lease<K> {
    sender: Sender,
    endpoint: K,
    pool: ConnectionPool<K>,
    /// The endpoint's pool keeps at most this many idle connections.
    max_idle: usize,
}

impl<K: Hash + Eq> Lease<K> {
    fn give_back(self) {
        self.pool
            .give_back(self.endpoint, self.sender, self.max_idle);
    }
}

impl<K: Hash + Eq> UpstreamBody<K> {
    /// `body`, read from the connection `sender` to `endpoint`, which goes
    /// back to `pool` once the body has ended, unless `endpoint` already
    /// has `max_idle` idle connections there.
    #[must_use]
    pub fn new(
        body: Incoming,
        sender: Sender,
        endpoint: K,
        pool: ConnectionPool<K>,
        max_idle: usize,
    ) -> Self {
        let mut this = Self {
            body,
            lease: Some(Lease {
                sender,
                endpoint,
                pool,
                max_idle,
            }),
        };
        this.give_back_if_ended();
        this
    }

    fn give_back_if_ended(&mut self) {
        if self.body.is_end_stream()
            && let Some(lease) = self.lease.take()
        {
            lease.give_back();
        }
    }
}

impl<K: Hash + Eq + Unpin> Body for UpstreamBody<K> {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                if let Some(lease) = self.lease.take() {
                    lease.give_back();
                }
            }
            Poll::Ready(Some(Ok(_))) => self.give_back_if_ended(),
            // A failed body leaves its connection unusable.
            Poll::Ready(Some(Err(_))) => self.lease = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<K: Hash + Eq> Drop for UpstreamBody<K> {
    fn drop(&mut self) {
        // A body whose end was never polled (an empty body, one the server
        // knew the length of) still ended; one dropped half-read did not,
        // and its connection closes with it.
        self.give_back_if_ended();
    }
}
