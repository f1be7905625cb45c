//! The HTTP server: axum's router on hyper, with the edges a server facing a city's network
//! needs — a request head must arrive within a time (a client that sends its head slowly, or
//! opens connections and says nothing, is cut off instead of holding a task for ever), a
//! request body must keep coming and be complete within a time, and on shutdown the requests
//! under way finish first.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::ServiceExt;

/// How long a client may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the connection (or the end of the previous answer) to the end of a request head.
    pub head: Duration,
    /// The longest wait for the next piece of a request body.
    pub body_idle: Duration,
    /// From the request head to the end of its body (a 64 MiB upload on a slow lab line fits).
    pub body_total: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            head: Duration::from_secs(10),
            body_idle: Duration::from_secs(15),
            body_total: Duration::from_secs(300),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes; the connections' requests under way
/// finish first (new ones are refused by closing idle connections).
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> anyhow::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let activity = std::sync::Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(|body| Body::new(Timed::new(body, limits)));
                req.extensions_mut().insert(ConnectInfo(peer));
                let busy = Busy::new(activity.clone());
                let answer = app.clone().oneshot(req);
                async move {
                    let answered = answer.await;
                    drop(busy);
                    answered
                }
            })
        };
        let io = Watched {
            io,
            activity: activity.clone(),
        };
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let conn = graceful.watch(conn);
        let head = limits.head;
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut look = tokio::time::interval(head / 4);
            loop {
                tokio::select! {
                    ended = conn.as_mut() => {
                        if let Err(e) = ended {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        return;
                    }
                    _ = look.tick() => {
                        if activity.quiet_for(head) {
                            // Nothing asked and nothing moved: let the connection go.
                            tracing::debug!(%peer, "connection idle past the head limit; closed");
                            return;
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// What a connection is doing, for its watch: when bytes last moved either way, and how many
/// requests are being answered (a long import moves no bytes while it is worked on).
struct Activity {
    since: std::time::Instant,
    /// Milliseconds from `since` to the last byte read or written.
    last: std::sync::atomic::AtomicU64,
    answering: std::sync::atomic::AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            since: std::time::Instant::now(),
            last: Default::default(),
            answering: Default::default(),
        }
    }

    fn touch(&self) {
        let now = self.since.elapsed().as_millis() as u64;
        self.last.store(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// No request being answered, and no byte moved for `limit`: a connection that says
    /// nothing, stays silent after an answer, or reads an answer too slowly.
    fn quiet_for(&self, limit: Duration) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let last = Duration::from_millis(self.last.load(Relaxed));
        self.answering.load(Relaxed) == 0 && self.since.elapsed().saturating_sub(last) >= limit
    }
}

/// A request being answered, for as long as it lives.
struct Busy(std::sync::Arc<Activity>);

impl Busy {
    fn new(activity: std::sync::Arc<Activity>) -> Self {
        activity
            .answering
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0
            .answering
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A connection's stream that notes every byte moved.
struct Watched<I> {
    io: I,
    activity: std::sync::Arc<Activity>,
}

impl<I: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl<I: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A request body that must keep coming ([`Limits::body_idle`]) and end in time
/// ([`Limits::body_total`]); otherwise reading it fails, and the handler answers as for a
/// broken body.
struct Timed<B> {
    inner: B,
    idle: Duration,
    /// Whether the handler began reading (the idle wait counts from then: a handler may look
    /// things up before it reads the body).
    reading: bool,
    next: Pin<Box<tokio::time::Sleep>>,
    end: Pin<Box<tokio::time::Sleep>>,
}

impl<B> Timed<B> {
    fn new(inner: B, limits: Limits) -> Self {
        Self {
            inner,
            idle: limits.body_idle,
            reading: false,
            next: Box::pin(tokio::time::sleep(limits.body_idle)),
            end: Box::pin(tokio::time::sleep(limits.body_total)),
        }
    }
}

/// Why a request body was cut off.
#[derive(Debug)]
pub struct BodyTimeout(&'static str);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BodyTimeout {}

impl<B> http_body::Body for Timed<B>
where
    B: http_body::Body<Data = axum::body::Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if !this.reading {
            this.reading = true;
            let deadline = tokio::time::Instant::now() + this.idle;
            this.next.as_mut().reset(deadline);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            let deadline = tokio::time::Instant::now() + this.idle;
            this.next.as_mut().reset(deadline);
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.end.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(
                "the request body did not arrive in time",
            )))));
        }
        if this.next.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(
                "the request body stopped coming",
            )))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
