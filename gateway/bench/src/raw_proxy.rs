//! `jurisgate-bench raw-proxy`: how fast a proxy on the gateway's runtime
//! layout can be without hyper. One current-thread runtime per core, each
//! with its own `SO_REUSEPORT` listener; every client connection gets its
//! own upstream connection, and each HTTP/1.1 message is parsed with
//! `httparse` (the parser hyper uses) and copied through as it came, head
//! and `content-length` body, with no header map, no body type, no task
//! per upstream connection. It answers the question the figures of
//! `proxy` (bare hyper) leave: is the floor under the gateway tokio and
//! the kernel, or the HTTP stack? It is a measuring tool, not a proxy to
//! deploy: it refuses chunked bodies and pipelining, and rewrites nothing.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Most headers a message may have here.
const MAX_HEADERS: usize = 64;

/// Forwards every request on `listen` to `upstream` (`host:port`), with
/// one runtime per core.
pub(crate) fn run(listen: SocketAddr, upstream: SocketAddr) -> anyhow::Result<()> {
    crate::bare_proxy::per_core(listen, move |listener| async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        loop {
            let (client, _) = listener.accept().await?;
            tokio::spawn(async move {
                if let Err(e) = relay(client, upstream).await {
                    eprintln!("raw-proxy: {e:#}");
                }
            });
        }
    })
}

/// Relays the requests of one client connection, one at a time, over one
/// upstream connection opened for it.
async fn relay(mut client: TcpStream, upstream: SocketAddr) -> anyhow::Result<()> {
    client.set_nodelay(true)?;
    let mut server = TcpStream::connect(upstream)
        .await
        .context("connect upstream")?;
    server.set_nodelay(true)?;
    let mut request = Vec::with_capacity(4096);
    let mut response = Vec::with_capacity(4096);
    loop {
        if !read_message(&mut client, &mut request, Kind::Request).await? {
            return Ok(());
        }
        server.write_all(&request).await?;
        if !read_message(&mut server, &mut response, Kind::Response).await? {
            bail!("upstream closed before answering");
        }
        client.write_all(&response).await?;
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Request,
    Response,
}

/// Reads one whole message (head and `content-length` body) into `buf`;
/// false when the peer closed cleanly before a message began.
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    kind: Kind,
) -> anyhow::Result<bool> {
    buf.clear();
    let (head, body) = loop {
        if let Some(framed) = parse_head(buf, kind)? {
            break framed;
        }
        if buf.len() >= 64 * 1024 {
            bail!("head over 64 KiB");
        }
        let mut chunk = [0u8; 4096];
        let n = match stream.read(&mut chunk).await {
            // A peer that resets between messages (wrk at the end of a run) has just left.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && buf.is_empty() => 0,
            read => read?,
        };
        if n == 0 {
            if buf.is_empty() {
                return Ok(false);
            }
            bail!("closed mid-message");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let total = head + body;
    while buf.len() < total {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("closed mid-body");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.len() > total {
        bail!("pipelined messages are not relayed");
    }
    Ok(true)
}

/// The head's length and the body's, once the head is complete.
fn parse_head(buf: &[u8], kind: Kind) -> anyhow::Result<Option<(usize, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let framed = match kind {
        Kind::Request => {
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf)? {
                httparse::Status::Complete(head) => Some((head, body_length(req.headers)?)),
                httparse::Status::Partial => None,
            }
        }
        Kind::Response => {
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(buf)? {
                httparse::Status::Complete(head) => Some((head, body_length(resp.headers)?)),
                httparse::Status::Partial => None,
            }
        }
    };
    Ok(framed)
}

/// The `content-length` of a message (0 without one).
fn body_length(headers: &[httparse::Header<'_>]) -> anyhow::Result<usize> {
    let mut body = 0;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("chunked bodies are not relayed");
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            body = std::str::from_utf8(h.value)?.trim().parse()?;
        }
    }
    Ok(body)
}
