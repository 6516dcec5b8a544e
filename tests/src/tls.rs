//! TLS helpers for the end-to-end tests: dev certificates made by the real
//! `jurisgate certs dev` (or by `jurisgate_tls::dev` when a test needs a
//! certificate that command does not make, such as an expired one), a
//! rustls client that reports what the handshake settled on, and a TLS
//! front for a regional store so a pool can have real `https://` upstreams.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Method, Request, Version};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use jurisgate_tls::dev::DevCert;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::{Harness, Reply, Who, binary};

/// Runs `jurisgate certs dev --out DIR/certs`; returns that folder.
#[must_use]
pub fn certs_dev(dir: &Path) -> PathBuf {
    let out = dir.join("certs");
    let status = std::process::Command::new(binary())
        .args(["certs", "dev", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("certs dev");
    assert!(status.success(), "jurisgate certs dev failed");
    out
}

/// Writes `cert` as `DIR/NAME.pem` and `DIR/NAME-key.pem`; returns both paths.
#[must_use]
pub fn write_cert(dir: &Path, name: &str, cert: &DevCert) -> (PathBuf, PathBuf) {
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&c, &cert.cert_pem).expect("cert");
    std::fs::write(&k, &cert.key_pem).expect("key");
    (c, k)
}

/// A `[server.tls]` section (with `client_auth` and, unless it is "none", `client_ca`).
#[must_use]
pub fn server_tls_section(cert: &Path, key: &Path, client_auth: &str, client_ca: &Path) -> String {
    let ca = if client_auth == "none" {
        String::new()
    } else {
        format!("client_ca = \"{}\"\n", client_ca.display())
    };
    format!(
        "\n[server.tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_auth = \"{client_auth}\"\n{ca}",
        cert.display(),
        key.display()
    )
}

/// A rustls client for the gateway's TLS listener.
#[derive(Clone)]
pub struct TlsClient {
    roots: Vec<CertificateDer<'static>>,
    alpn: Vec<Vec<u8>>,
    identity: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    server_name: String,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

impl TlsClient {
    /// Trusts the CA in `ca_pem` (a file); offers ALPN `h2` and `http/1.1`; SNI `localhost`.
    #[must_use]
    pub fn new(ca_pem: &Path) -> Self {
        let roots = CertificateDer::pem_file_iter(ca_pem)
            .expect("ca file")
            .collect::<Result<_, _>>()
            .expect("ca pem");
        Self {
            roots,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            identity: None,
            server_name: "localhost".into(),
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
        }
    }

    /// Offers exactly these ALPN protocols (none: no ALPN extension).
    #[must_use]
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// Presents the client certificate in `cert` with the key in `key` (files).
    #[must_use]
    pub fn client_cert(mut self, cert: &Path, key: &Path) -> Self {
        let chain = CertificateDer::pem_file_iter(cert)
            .expect("cert file")
            .collect::<Result<_, _>>()
            .expect("cert pem");
        let key = PrivateKeyDer::from_pem_file(key).expect("key pem");
        self.identity = Some((chain, Arc::new(key)));
        self
    }

    /// Sends `name` as SNI (and expects the certificate to carry it).
    #[must_use]
    pub fn server_name(mut self, name: &str) -> Self {
        self.server_name = name.into();
        self
    }

    /// Speaks TLS 1.2 only.
    #[must_use]
    pub fn tls12_only(mut self) -> Self {
        self.versions = vec![&rustls::version::TLS12];
        self
    }

    fn config(&self) -> Arc<ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for r in &self.roots {
            roots.add(r.clone()).expect("root");
        }
        let builder = ClientConfig::builder_with_provider(jurisgate_tls::provider())
            .with_protocol_versions(&self.versions)
            .expect("versions")
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .expect("client cert"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols.clone_from(&self.alpn);
        Arc::new(config)
    }

    /// Connects and completes the handshake.
    ///
    /// # Errors
    /// The handshake's error (a refused certificate, no common version…).
    pub async fn handshake(&self, addr: SocketAddr) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from(self.server_name.clone()).expect("server name");
        TlsConnector::from(self.config()).connect(name, tcp).await
    }

    /// Connects, completes the handshake and starts HTTP/2 or HTTP/1.1 as ALPN says.
    ///
    /// # Errors
    /// The handshake's or the HTTP handshake's error.
    pub async fn connect(
        &self,
        addr: SocketAddr,
    ) -> Result<TlsConn, Box<dyn std::error::Error + Send + Sync>> {
        let stream = self.handshake(addr).await?;
        let (_, session) = stream.get_ref();
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let peer_cert = session
            .peer_certificates()
            .and_then(|c| c.first())
            .cloned()
            .expect("server certificate");
        let io = TokioIo::new(stream);
        let sender = if alpn.as_deref() == Some(b"h2") {
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Sender::H2(sender)
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
            tokio::spawn(conn);
            Sender::H1(sender)
        };
        Ok(TlsConn {
            sender,
            alpn,
            peer_cert,
        })
    }
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// One TLS connection to the gateway, reused for several requests.
pub struct TlsConn {
    sender: Sender,
    /// The ALPN protocol the server chose.
    pub alpn: Option<Vec<u8>>,
    /// The certificate the server presented.
    pub peer_cert: CertificateDer<'static>,
}

impl TlsConn {
    /// Sends `req` on this connection; the reply and the HTTP version it came in.
    ///
    /// # Errors
    /// When the connection failed (closed, refused by the server…).
    pub async fn send(
        &mut self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<(Reply, Version), hyper::Error> {
        let resp = match &mut self.sender {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            Sender::H2(s) => {
                // HTTP/2 carries the host in :authority, from an absolute URI.
                let authority = req
                    .headers()
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost")
                    .to_string();
                let path = req
                    .uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                *req.uri_mut() = format!("https://{authority}{path}").parse().expect("uri");
                req.headers_mut().remove("host");
                *req.version_mut() = Version::HTTP_2;
                s.ready().await?;
                s.send_request(req).await?
            }
        };
        let version = resp.version();
        Ok((read_reply(resp).await, version))
    }
}

async fn read_reply(resp: http::Response<hyper::body::Incoming>) -> Reply {
    use http_body_util::BodyExt as _;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let request_id = headers
        .get("x-jurisgate-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Reply {
        status,
        headers,
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        request_id,
    }
}

impl Harness {
    /// The request `who` would send (credentials included), for a [`TlsConn`].
    #[must_use]
    pub fn tls_request(
        &self,
        who: &Who,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Request<Full<Bytes>> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "api.demo.jurisgate");
        let (auth, approval) = self.credentials(who);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(a) = approval {
            req = req.header("x-access-approval", a);
        }
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        req.body(Full::new(bytes)).expect("request")
    }
}

/// A TLS terminator in front of a plain regional store: it completes the
/// handshake with its own certificate (and can require a client
/// certificate), then relays bytes to the store. It counts the bytes it
/// relayed, so a test can show that nothing reached the store.
pub struct TlsFront {
    /// Where it listens.
    pub addr: SocketAddr,
    relayed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    /// Serves TLS per `settings` on a free loopback port, relaying to `store`.
    pub async fn start(settings: &jurisgate_config::ServerTls, store: SocketAddr) -> Self {
        let tls = Arc::new(jurisgate_tls::ListenerTls::load(settings).expect("front tls"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let relayed = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&relayed);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = tls.acceptor();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let Ok(mut client) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut upstream) = TcpStream::connect(store).await else {
                        return;
                    };
                    if let Ok((to_store, _)) =
                        tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                    {
                        counter.fetch_add(
                            usize::try_from(to_store).unwrap_or(usize::MAX),
                            Ordering::SeqCst,
                        );
                    }
                });
            }
        });
        Self {
            addr,
            relayed,
            task,
        }
    }

    /// Bytes relayed to the store so far (from connections that have ended).
    #[must_use]
    pub fn relayed(&self) -> usize {
        self.relayed.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
