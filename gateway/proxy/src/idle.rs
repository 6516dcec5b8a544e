//! Closes client connections that have gone quiet: an IO wrapper that fails
//! with `TimedOut` once no byte has moved either way for `server.idle_timeout`.
//!
//! It sits under TLS, on the TCP stream, so a TLS connection and a plain one
//! time out alike, and TLS records count as movement. The deadline is checked
//! only when the connection is polled; hyper polls an idle keep-alive
//! connection's read side, which is the case this exists for. It does not
//! limit how long a request may take (that is `request_timeout`): while a
//! request on the connection is waiting for its answer ([`InFlight`]), a
//! quiet connection is not idle.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The requests of one connection that the gateway has not answered yet.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

/// One request counted in [`InFlight`] until dropped.
#[derive(Debug)]
pub struct Answering(Arc<AtomicUsize>);

impl InFlight {
    /// Counts a request until the returned guard is dropped.
    #[must_use]
    pub fn enter(&self) -> Answering {
        self.0.fetch_add(1, Ordering::Relaxed);
        Answering(Arc::clone(&self.0))
    }

    fn busy(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `S`, closed after `timeout` without traffic while no request waits.
#[derive(Debug)]
pub struct IdleTimeout<S> {
    inner: S,
    timeout: Duration,
    last_activity: Instant,
    // Reset lazily: only when it fires early, never on every read or write.
    timer: Pin<Box<Sleep>>,
    in_flight: InFlight,
}

impl<S> IdleTimeout<S> {
    /// Wraps `inner`; the clock starts now. Requests counted in
    /// `in_flight` keep the connection open however long they wait.
    pub fn new(inner: S, timeout: Duration, in_flight: InFlight) -> Self {
        let now = Instant::now();
        Self {
            inner,
            timeout,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + timeout)),
            in_flight,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Ready with an error once the connection has been idle for the whole timeout.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            ready!(self.timer.as_mut().poll(cx));
            let deadline = self.last_activity + self.timeout;
            let now = Instant::now();
            if now >= deadline && self.in_flight.busy() {
                // Waiting on an upstream is not idleness: look again later.
                self.last_activity = now;
                self.timer.as_mut().reset(now + self.timeout);
                continue;
            }
            if now >= deadline {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no traffic for {:?}", self.timeout),
                ));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.last_activity = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.last_activity = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // A peer that stops reading our response is idle too.
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    /// A real socket pair: the server side wrapped with a 200 ms idle timeout.
    async fn pair() -> (IdleTimeout<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (
            IdleTimeout::new(server, Duration::from_millis(200), InFlight::default()),
            client,
        )
    }

    #[tokio::test]
    async fn a_connection_with_a_request_waiting_is_not_idle() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let in_flight = InFlight::default();
        let mut server = IdleTimeout::new(server, Duration::from_millis(200), in_flight.clone());
        let waiting = in_flight.enter();
        let mut buf = [0u8; 16];
        // Quiet for three timeouts while the request waits: still open.
        let read = tokio::time::timeout(Duration::from_millis(600), server.read(&mut buf)).await;
        assert!(read.is_err(), "closed while a request waited: {read:?}");
        // Answered: the next quiet stretch closes it.
        drop(waiting);
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_quiet_connection_times_out_and_traffic_keeps_one_open() {
        let (mut server, mut client) = pair().await;
        let started = Instant::now();
        // Traffic every 50 ms for 600 ms: three timeouts' worth, never idle.
        let writer = tokio::spawn(async move {
            for _ in 0..12 {
                client.write_all(b"x").await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            client
        });
        let mut got = 0;
        let mut buf = [0u8; 16];
        let err = loop {
            match server.read(&mut buf).await {
                Ok(0) => panic!("unexpected end of stream"),
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        let _client = writer.await.unwrap();
        assert_eq!(got, 12, "every byte arrived before the timeout");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(750) && took < Duration::from_secs(3),
            "closed after {took:?}"
        );
    }
}
