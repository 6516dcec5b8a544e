//! A hyper-util connector for a pool's endpoints: plain TCP for `http://`,
//! TCP then a rustls handshake for `https://`, verified with the pool's
//! [`UpstreamTls`]. An `https://` endpoint without TLS settings is an error,
//! never a plaintext fallback.
//!
//! It does not pool connections or retry; the hyper client does pooling and
//! the route crate decides what a failure means.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::UpstreamTls;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to `http://` and `https://` endpoints of one pool.
#[derive(Debug, Clone)]
pub struct HttpsConnector {
    http: HttpConnector,
    tls: Option<Arc<UpstreamTls>>,
    handshake_timeout: Duration,
}

impl HttpsConnector {
    /// A connector with TCP settings from `http` (its connect time-out,
    /// nodelay…), TLS from `tls`, and at most `handshake_timeout` for the
    /// TLS handshake.
    #[must_use]
    pub fn new(
        mut http: HttpConnector,
        tls: Option<Arc<UpstreamTls>>,
        handshake_timeout: Duration,
    ) -> Self {
        // The scheme is ours to check: let https URIs reach `call`.
        http.enforce_http(false);
        Self {
            http,
            tls,
            handshake_timeout,
        }
    }
}

/// A connection to an upstream, with or without TLS.
#[derive(Debug)]
pub enum MaybeTlsStream {
    /// `http://`.
    Plain(TokioIo<TcpStream>),
    /// `https://`, verified. Boxed: a TLS session is a kilobyte, a TCP stream a few words.
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl tower::Service<Uri> for HttpsConnector {
    type Response = MaybeTlsStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<MaybeTlsStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let tls = self.tls.clone();
        let handshake_timeout = self.handshake_timeout;
        let connecting = self.http.call(uri.clone());
        Box::pin(async move {
            if !https {
                return Ok(MaybeTlsStream::Plain(connecting.await?));
            }
            let tls = tls
                .ok_or_else(|| format!("{uri}: an https endpoint needs the pool's tls settings"))?;
            let name = match &tls.server_name {
                Some(name) => name.clone(),
                None => {
                    let host = uri
                        .host()
                        .unwrap_or_default()
                        .trim_start_matches('[')
                        .trim_end_matches(']');
                    ServerName::try_from(host.to_string())
                        .map_err(|e| format!("{uri}: host is not a TLS server name: {e}"))?
                }
            };
            let tcp = connecting.await?.into_inner();
            let handshake = TlsConnector::from(Arc::clone(&tls.config)).connect(name, tcp);
            let stream = tokio::time::timeout(handshake_timeout, handshake)
                .await
                .map_err(|_| {
                    format!("{uri}: TLS handshake took longer than {handshake_timeout:?}")
                })??;
            Ok(MaybeTlsStream::Tls(Box::new(TokioIo::new(stream))))
        })
    }
}

impl Connection for MaybeTlsStream {
    fn connected(&self) -> Connected {
        match self {
            Self::Plain(s) => s.connected(),
            Self::Tls(s) => s.inner().get_ref().0.connected(),
        }
    }
}

impl Read for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
