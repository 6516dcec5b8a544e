//! The listeners: the proxy listener (HTTPS with HTTP/2 by ALPN and
//! HTTP/1.1 when `[server.tls]` is configured; plain HTTP/1.1 and h2c when it
//! is not) and the admin listener (`/healthz`, `/readyz`, `/metrics`), with
//! graceful shutdown that finishes in-flight requests. With
//! `runtime = "per_core"` each runtime serves its own proxy listener, all
//! bound to one address with `SO_REUSEPORT` ([`bind_shared`]).
//!
//! On a TLS listener the verified client certificate, and only a verified
//! one, becomes [`PeerInfo::client_cert`]; a plaintext request is answered
//! with a plain 400 saying the port speaks TLS. Every client connection is
//! closed after `idle_timeout` without traffic. This module does not build
//! TLS configs (`jurisgate-tls` does) or decide anything about requests.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use jurisgate_attribution::PeerInfo;
use jurisgate_config::ClientAuth;
use jurisgate_tls::{ALPN_H2, ALPN_HTTP11, ListenerTls};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

use crate::forward::Upstreams;
use crate::gateway::{Gateway, RuntimeLocal};
use crate::idle::{IdleTimeout, InFlight};
use crate::respond::text;

/// Connection-level settings of the proxy listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnSettings {
    /// Time allowed to send a request head (and to finish a TLS handshake).
    pub header_read_timeout: Duration,
    /// A client connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Largest request head, in bytes.
    pub max_header_bytes: usize,
    /// Most headers on one request.
    pub max_headers: usize,
    /// Time in-flight requests get at shutdown.
    pub shutdown_grace: Duration,
}

/// Binds `addr` with an explicit listen `backlog` (the kernel default of 128
/// overflows under bursts and turns into 1 s SYN retransmits).
///
/// # Errors
/// When the address cannot be bound.
pub fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    TcpListener::from_std(listen_socket(addr, backlog, false)?)
}

/// Binds `count` listening sockets on `addr`, each with `SO_REUSEPORT`, so
/// the kernel spreads new connections over them (`runtime = "per_core"`).
/// With port 0 they all share the port the first one was given. They are
/// returned as std sockets, non-blocking, for each runtime to adopt: a
/// tokio listener belongs to the runtime it was made in.
///
/// # Errors
/// When the address cannot be bound.
pub fn bind_shared(
    addr: SocketAddr,
    backlog: u32,
    count: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut addr = addr;
    let mut listeners = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let listener = listen_socket(addr, backlog, true)?;
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

fn listen_socket(
    addr: SocketAddr,
    backlog: u32,
    reuse_port: bool,
) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// The HTTP builders: one that detects the protocol (plain listener, or TLS
/// without ALPN), and one per ALPN answer.
struct Builders {
    auto: auto::Builder<TokioExecutor>,
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
}

impl Builders {
    fn new(settings: &ConnSettings) -> Self {
        let mut b = auto::Builder::new(TokioExecutor::new());
        b.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .max_buf_size(settings.max_header_bytes.max(8192))
            .max_headers(settings.max_headers);
        b.http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(256);
        Self {
            h1: b.clone().http1_only(),
            h2: b.clone().http2_only(),
            auto: b,
        }
    }

    /// The builder for what ALPN settled on.
    fn for_alpn(&self, alpn: Option<&[u8]>) -> &auto::Builder<TokioExecutor> {
        match alpn {
            Some(ALPN_H2) => &self.h2,
            Some(ALPN_HTTP11) => &self.h1,
            _ => &self.auto,
        }
    }
}

/// Serves the proxy on `listener` until `shutdown` resolves, then stops
/// accepting and waits up to the grace period for in-flight requests. With
/// `tls`, every connection is TLS, with the config current when it arrived.
/// Requests are forwarded through `upstreams`, and recorded through an
/// audit handle made for this runtime ([`RuntimeLocal`]).
pub async fn serve_proxy(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    upstreams: Upstreams,
    settings: ConnSettings,
    tls: Option<Arc<ListenerTls>>,
    shutdown: impl Future<Output = ()>,
) {
    let builders = Arc::new(Builders::new(&settings));
    let _ticking = AbortOnDrop(tokio::spawn(keep_timer_near()));
    let local = Arc::new(RuntimeLocal {
        upstreams,
        audit: gateway.audit.for_this_runtime(),
    });
    let graceful = GracefulShutdown::new();
    // Every connection task, so the ones still running when the grace
    // period ends are dropped here, while the audit log is open: a request
    // cut off then records that it was not answered.
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, remote_addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = Conn {
                    gateway: Arc::clone(&gateway),
                    local: Arc::clone(&local),
                    builders: Arc::clone(&builders),
                    watcher: graceful.watcher(),
                    remote_addr,
                };
                match &tls {
                    None => {
                        connections.spawn(conn.serve_plain(stream, settings));
                    }
                    Some(tls) => {
                        connections.spawn(conn.serve_tls(stream, settings, Arc::clone(tls)));
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections finished"),
        () = tokio::time::sleep(settings.shutdown_grace) => tracing::warn!("shutdown grace period over; closing remaining connections"),
    }
    connections.shutdown().await;
}

/// Keeps the runtime's timer driver waking at least every 100 ms.
///
/// Every request starts timers (hyper's header-read timeout, the upstream
/// time-out), and tokio unparks its driver, a system call on an eventfd,
/// whenever a timer is registered with a deadline before the driver's
/// planned wake-up. With this tick the planned wake-up is never more than
/// 100 ms away, so the per-request timers (seconds long) register without
/// waking anything: ten cheap wake-ups a second instead of one per request.
async fn keep_timer_near() {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One accepted client connection.
struct Conn {
    gateway: Arc<Gateway>,
    local: Arc<RuntimeLocal>,
    builders: Arc<Builders>,
    watcher: Watcher,
    remote_addr: SocketAddr,
}

impl Conn {
    async fn serve_plain(self, stream: TcpStream, settings: ConnSettings) {
        let in_flight = InFlight::default();
        let io = IdleTimeout::new(stream, settings.idle_timeout, in_flight.clone());
        let peer = PeerInfo {
            remote_addr: self.remote_addr,
            client_cert: None,
        };
        let builders = Arc::clone(&self.builders);
        self.serve(&builders.auto, io, peer, in_flight).await;
    }

    async fn serve_tls(self, stream: TcpStream, settings: ConnSettings, tls: Arc<ListenerTls>) {
        let remote_addr = self.remote_addr;
        if is_plaintext_http(&stream, settings.header_read_timeout).await {
            refuse_plaintext(stream).await;
            return;
        }
        let in_flight = InFlight::default();
        let io = IdleTimeout::new(stream, settings.idle_timeout, in_flight.clone());
        let accepted =
            tokio::time::timeout(settings.header_read_timeout, tls.acceptor().accept(io)).await;
        let stream = match accepted {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, %remote_addr, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote_addr, "TLS handshake timed out");
                return;
            }
        };
        let session = stream.get_ref().1;
        // rustls exposes peer certificates only after verifying them against
        // client_ca; with client_auth = "none" it never asks for any.
        let client_cert = match tls.client_auth() {
            ClientAuth::None => None,
            ClientAuth::Optional | ClientAuth::Required => session
                .peer_certificates()
                .and_then(<[_]>::first)
                .and_then(jurisgate_tls::client_identity),
        };
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let peer = PeerInfo {
            remote_addr,
            client_cert,
        };
        let builders = Arc::clone(&self.builders);
        self.serve(builders.for_alpn(alpn.as_deref()), stream, peer, in_flight)
            .await;
    }

    async fn serve<I>(
        self,
        builder: &auto::Builder<TokioExecutor>,
        io: I,
        peer: PeerInfo,
        in_flight: InFlight,
    ) where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let gateway = self.gateway;
        let local = self.local;
        let peer = Arc::new(peer);
        let service = service_fn(move |req: Request<Incoming>| {
            let gateway = Arc::clone(&gateway);
            let local = Arc::clone(&local);
            let peer = Arc::clone(&peer);
            let answering = in_flight.enter();
            async move {
                let response = gateway.handle(req, &peer, &local).await;
                drop(answering);
                Ok::<_, Infallible>(response)
            }
        });
        let conn = builder.serve_connection(TokioIo::new(io), service);
        if let Err(e) = self.watcher.watch(conn).await {
            tracing::debug!(error = %e, remote_addr = %self.remote_addr, "connection ended with an error");
        }
    }
}

/// Whether the first bytes on a TLS port are an HTTP request line rather
/// than a TLS record (which starts with 0x16, a handshake).
async fn is_plaintext_http(stream: &TcpStream, wait: Duration) -> bool {
    let mut first = [0u8; 1];
    match tokio::time::timeout(wait, stream.peek(&mut first)).await {
        Ok(Ok(1)) => first[0].is_ascii_uppercase(),
        _ => false,
    }
}

/// A plain-text 400 instead of a TLS alert, so a person who typed http://
/// learns why. Nothing of the request is read or forwarded.
async fn refuse_plaintext(mut stream: TcpStream) {
    use tokio::io::AsyncReadExt as _;
    // Read the request head first: closing with unread bytes would reset the
    // connection and the client might never see the answer.
    let mut head = vec![0u8; 16 * 1024];
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut head)).await;
    let body = "this port speaks HTTPS: use https://\n";
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while matches!(stream.read(&mut head).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Serves the admin endpoints on `listener` until `shutdown` resolves.
pub async fn serve_admin(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let gateway = Arc::clone(&gateway);
                let service = service_fn(move |req: Request<Incoming>| {
                    let gateway = Arc::clone(&gateway);
                    async move { Ok::<_, Infallible>(crate::admin::handle(&gateway, req.uri().path())) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
}

/// A 404 for unknown admin paths.
pub(crate) fn not_found() -> http::Response<crate::body::BoxBody> {
    text(StatusCode::NOT_FOUND, "not found\n", "text/plain")
}
