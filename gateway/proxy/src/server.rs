//! The listeners: the proxy listener (HTTP/1.1 and h2c on one port) and the
//! admin listener (`/healthz`, `/readyz`, `/metrics`), with graceful shutdown
//! that finishes in-flight requests.

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
use hyper_util::server::graceful::GracefulShutdown;
use jurisgate_attribution::PeerInfo;
use tokio::net::TcpListener;

use crate::gateway::Gateway;
use crate::respond::text;

/// Connection-level settings of the proxy listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnSettings {
    /// Time allowed to send a request head.
    pub header_read_timeout: Duration,
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
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    TcpListener::from_std(socket.into())
}

fn builder(settings: &ConnSettings) -> auto::Builder<TokioExecutor> {
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
    b
}

/// Serves the proxy on `listener` until `shutdown` resolves, then stops
/// accepting and waits up to the grace period for in-flight requests.
pub async fn serve_proxy(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    settings: ConnSettings,
    shutdown: impl Future<Output = ()>,
) {
    let builder = builder(&settings);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
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
                let gateway = Arc::clone(&gateway);
                let peer = Arc::new(PeerInfo { remote_addr, client_cert: None });
                let service = service_fn(move |req: Request<Incoming>| {
                    let gateway = Arc::clone(&gateway);
                    let peer = Arc::clone(&peer);
                    async move { Ok::<_, Infallible>(gateway.handle(req, &peer).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, %remote_addr, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections finished"),
        () = tokio::time::sleep(settings.shutdown_grace) => tracing::warn!("shutdown grace period over; closing remaining connections"),
    }
}

/// Serves the admin endpoints on `listener` until `shutdown` resolves.
pub async fn serve_admin(listener: TcpListener, gateway: Arc<Gateway>, shutdown: impl Future<Output = ()>) {
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
