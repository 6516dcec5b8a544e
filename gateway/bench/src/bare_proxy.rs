//! `jurisgate-bench proxy`: the floor under the gateway. A reverse proxy
//! built from the same parts and laid out the same way as the gateway on
//! its default `runtime = "per_core"` (one current-thread runtime per core,
//! each with its own `SO_REUSEPORT` listener and its own pool of hyper
//! HTTP/1 connections to the upstream), that does nothing but forward. What the gateway costs
//! above it is the cost of its own work (attribution, policy, audit,
//! routing); what it costs above nginx is the cost of the HTTP stack.

use std::net::SocketAddr;

use std::time::Instant;

use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use jurisgate_proxy::body::BoxError;
use jurisgate_proxy::connection_pool::{ConnectionPool, Sender, UpstreamBody};

/// Forwards every request on `listen` to `upstream` (an `http://` base URL),
/// with one runtime per core.
pub(crate) fn run(listen: SocketAddr, upstream: &Uri) -> anyhow::Result<()> {
    let authority = upstream
        .authority()
        .ok_or_else(|| anyhow::anyhow!("--upstream needs a host and port"))?
        .clone();
    per_core(listen, move |listener| serve(listener, authority.clone()))
}

/// Binds `listen` once per core (`SO_REUSEPORT`) and runs `serve` on each
/// listener in its own current-thread runtime, as the gateway's
/// `runtime = "per_core"` does; returns when every runtime has stopped.
pub(crate) fn per_core<F, Fut>(listen: SocketAddr, serve: F) -> anyhow::Result<()>
where
    F: Fn(std::net::TcpListener) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let listeners = jurisgate_proxy::server::bind_shared(listen, 4096, cores)?;
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let serve = serve.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(serve(listener))
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a proxy thread panicked"))??;
    }
    Ok(())
}

/// Idle upstream connections kept: more than the load generator's connections.
const MAX_IDLE: usize = 1024;

async fn serve(
    listener: std::net::TcpListener,
    authority: http::uri::Authority,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let pool = ConnectionPool::<()>::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = listener.accept().await?;
        let pool = pool.clone();
        let authority = authority.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                forward(req, pool.clone(), authority.clone())
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Sends `req` to the upstream on an idle connection or a new one.
async fn forward(
    req: Request<Incoming>,
    pool: ConnectionPool<()>,
    authority: http::uri::Authority,
) -> anyhow::Result<Response<UpstreamBody<()>>> {
    let (mut parts, body) = req.into_parts();
    parts.uri = Uri::from(
        parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    let req = Request::from_parts(parts, body.map_err(BoxError::from).boxed());
    let mut sender = match pool.take(&(), Instant::now()) {
        Some(mut idle) => match idle.ready().await {
            Ok(()) => idle,
            Err(_) => connect(&authority).await?,
        },
        None => connect(&authority).await?,
    };
    let (parts, body) = sender.send_request(req).await?.into_parts();
    Ok(Response::from_parts(
        parts,
        UpstreamBody::new(body, sender, (), pool, MAX_IDLE),
    ))
}

async fn connect(authority: &http::uri::Authority) -> anyhow::Result<Sender> {
    let tcp = tokio::net::TcpStream::connect(authority.as_str()).await?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    Ok(sender)
}
