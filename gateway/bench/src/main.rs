//! `jurisgate-bench`: the pieces `scripts/bench.sh` needs that are not the
//! gateway itself.
//!
//! - `upstream`: a minimal, fast hyper server (the upstream every target
//!   proxies to, and the "direct" baseline), over TLS when given a
//!   certificate.
//! - `proxy`: a bare reverse proxy from the gateway's own parts and layout,
//!   forwarding only (the floor under the gateway's figures).
//! - `raw-proxy`: the same layout without hyper (`httparse` and copies),
//!   to tell the HTTP stack's cost from the runtime's and the kernel's.
//! - `audit`: durable appends per second (group commit vs one fsync per
//!   record) and `verify` speed against SHA-256.
//! - `setup`: writes a gateway config, keys and the Texas policy whose pools
//!   all point at one upstream, and prints a bearer token for a US user, so
//!   every benchmarked request is attributed, decided, audited and routed;
//!   with `--tls-dir` (a `jurisgate certs dev` folder) the gateway listens
//!   over TLS and reaches the upstream over TLS, pinned to that folder's CA;
//!   `--runtime multi_thread` sets the gateway's `server.runtime` (default `per_core`),
//!   `--writer-scheduling normal` its `audit.writer_scheduling` (default `batch`).

mod audit_bench;
mod bare_proxy;
mod raw_proxy;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::{Response, header};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use jurisgate_config::{ClientAuth, ServerTls, TlsVersion};
use jurisgate_tls::ListenerTls;

#[derive(Parser)]
#[command(about = "Benchmark helpers for scripts/bench.sh")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a small JSON answer to every request.
    Upstream {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// Serve TLS with this certificate chain (PEM); needs `--tls-key`.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Forward every request to UPSTREAM and do nothing else, laid out like
    /// the gateway on `runtime = "per_core"`.
    Proxy {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// The upstream's base URL (`http://host:port`).
        #[arg(long)]
        upstream: http::Uri,
    },
    /// Forward every request to UPSTREAM without hyper (see `raw_proxy`).
    RawProxy {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// The upstream's address (`host:port`).
        #[arg(long)]
        upstream: SocketAddr,
    },
    /// Measure the audit log: durable appends/s and verify records/s.
    Audit {
        /// Scale factor for the record counts (1 = a few seconds).
        #[arg(long, default_value_t = 1)]
        scale: u64,
    },
    /// Write a gateway config (and keys, policy) in DIR proxying to UPSTREAM; print a token.
    Setup {
        /// Folder to write into.
        #[arg(long)]
        dir: PathBuf,
        /// The upstream's base URL.
        #[arg(long)]
        upstream: String,
        /// The gateway's listen address.
        #[arg(long)]
        listen: SocketAddr,
        /// Audit durability: fsync or none.
        #[arg(long, default_value = "fsync")]
        durability: String,
        /// A `jurisgate certs dev` folder: listen over TLS with its server
        /// certificate, and trust only its CA for the (https) upstream.
        #[arg(long)]
        tls_dir: Option<PathBuf>,
        /// The gateway's `server.runtime`: multi_thread or per_core.
        #[arg(long, default_value = "per_core")]
        runtime: String,
        /// The gateway's `audit.writer_scheduling`: batch or normal.
        #[arg(long, default_value = "batch")]
        writer_scheduling: String,
    },
}

const BODY: &[u8] = br#"{"id":"bench","text":"hello","region":"us-east"}"#;

async fn upstream(listen: SocketAddr, tls: Option<ListenerTls>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let service = service_fn(|_req| async {
            let mut resp = Response::new(Full::new(Bytes::from_static(BODY)));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok::<_, Infallible>(resp)
        });
        let builder = builder.clone();
        match &tls {
            None => {
                tokio::spawn(async move {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(tls) => {
                let acceptor = tls.acceptor();
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                });
            }
        }
    }
}

/// The listener TLS settings for a certificate and key, no client certificates.
fn server_tls(cert: PathBuf, key: PathBuf) -> ServerTls {
    ServerTls {
        cert,
        key,
        client_ca: None,
        client_auth: ClientAuth::None,
        min_version: TlsVersion::default(),
        sni: Vec::new(),
        watch: false,
    }
}

fn setup(
    dir: &std::path::Path,
    upstream: &str,
    listen: SocketAddr,
    durability: &str,
    tls_dir: Option<&std::path::Path>,
    runtime: &str,
    writer_scheduling: &str,
) -> anyhow::Result<()> {
    let stores: Vec<(String, String)> = ["us-east", "us-west", "eu-west", "ap-southeast"]
        .iter()
        .map(|r| ((*r).to_string(), upstream.to_string()))
        .collect();
    let files = jurisgate_demo::write_demo_files(dir, &stores)?;
    let text = std::fs::read_to_string(&files.config)?
        .replace(
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"",
            &format!(
                "listen = \"{listen}\"\nadmin_listen = \"127.0.0.1:0\"\nruntime = \"{runtime}\""
            ),
        )
        .replace(
            "checkpoint_every = \"500ms\"",
            &format!(
                "checkpoint_every = \"1s\"\ndurability = \"{durability}\"\nwriter_scheduling = \"{writer_scheduling}\""
            ),
        )
        .replace("interval = \"100ms\"", "interval = \"2s\"");
    let text = match tls_dir {
        None => text,
        Some(certs) => {
            let certs = std::fs::canonicalize(certs)?;
            let path = |name: &str| certs.join(name).display().to_string();
            let pinned = format!(
                "endpoints = [\"{upstream}\"]\ntls = {{ ca = \"{}\", server_name = \"localhost\" }}",
                path("ca.pem")
            );
            text.replace(&format!("endpoints = [\"{upstream}\"]"), &pinned)
                + &format!(
                    "\n[server.tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_auth = \"none\"\n",
                    path("server.pem"),
                    path("server-key.pem")
                )
        }
    };
    std::fs::write(&files.config, text)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let token = files.idp.sign(&serde_json::json!({
        "iss": jurisgate_demo::ISSUER, "aud": jurisgate_demo::AUDIENCE, "sub": "alice", "jurisdiction": "US",
        "kind": "user", "location": "US", "iat": now, "exp": now + 86_400,
    }));
    println!("{}", files.config.display());
    println!("{token}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Upstream {
            listen,
            tls_cert,
            tls_key,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(ListenerTls::load(&server_tls(cert, key))?),
                _ => None,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(upstream(listen, tls))
        }
        Command::Proxy { listen, upstream } => bare_proxy::run(listen, &upstream),
        Command::RawProxy { listen, upstream } => raw_proxy::run(listen, upstream),
        Command::Audit { scale } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(audit_bench::run(scale))
        }
        Command::Setup {
            dir,
            upstream,
            listen,
            durability,
            tls_dir,
            runtime,
            writer_scheduling,
        } => setup(
            &dir,
            &upstream,
            listen,
            &durability,
            tls_dir.as_deref(),
            &runtime,
            &writer_scheduling,
        ),
    }
}
