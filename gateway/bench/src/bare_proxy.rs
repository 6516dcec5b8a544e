//! `jurisgate-bench proxy`: the floor under the gateway. A reverse proxy
//! built from the same parts and laid out the same way as the gateway on
//! its default `runtime = "per_core"` (one current-thread runtime per core,
//! each with its own `SO_REUSEPORT` listener and its own hyper-util
//! upstream client), that does nothing but forward. What the gateway costs
//! above it is the cost of its own work (attribution, policy, audit,
//! routing); what it costs above nginx is the cost of the HTTP stack.

use std::net::SocketAddr;

use http::{Request, Uri};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

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

async fn serve(
    listener: std::net::TcpListener,
    authority: http::uri::Authority,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build(connector);
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = listener.accept().await?;
        let client = client.clone();
        let authority = authority.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |mut req: Request<Incoming>| {
                let client = client.clone();
                let authority = authority.clone();
                async move {
                    let path = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
                    *req.uri_mut() = Uri::builder()
                        .scheme("http")
                        .authority(authority)
                        .path_and_query(path)
                        .build()?;
                    Ok::<_, anyhow::Error>(client.request(req).await?)
                }
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
