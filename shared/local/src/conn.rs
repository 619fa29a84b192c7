//! The local server's connections: hyper's HTTP/1.1 with the limits a reachable port needs.
//!
//! - A connection must deliver a request head within the header timeout (from accept, or from the
//!   first byte of a later request); between requests it may idle for the idle timeout. A body
//!   has the body timeout (enforced by the handler). A response the client does not read for
//!   the idle timeout ends the connection.
//! - At most `max_connections` are served at once; the others get a 503 and are closed.
//! - A half-closed request (the client shut its sending side) still gets its answer.
//! - hyper answers requests it cannot parse itself (400, 414, 431) with an empty body. The
//!   socket wrapper recognises such an answer — a response no request was handed out for —
//!   and sends a Cognito-style JSON error with the same status instead.

use crate::server::AppState;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::{Instant, Sleep};

/// Connection limits (all settings of `tessera serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request head (request line and headers) must arrive within this.
    pub header_timeout: Duration,
    /// A request body must arrive within this, from the end of its head.
    pub body_timeout: Duration,
    /// A kept-alive connection may wait this long for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// What one connection is doing, shared by its socket wrapper and its request handler.
pub struct Track {
    state: Mutex<TrackState>,
}

struct TrackState {
    phase: Phase,
    /// Requests handed to the handler whose answer has not begun on the wire (true: HEAD).
    unanswered: VecDeque<bool>,
}

#[derive(Clone, Copy)]
enum Phase {
    /// Waiting for a request head; the connection ends at `deadline`.
    Waiting { deadline: Instant, head_started: bool, between_requests: bool },
    /// A request is being handled.
    Busy,
}

impl Track {
    fn new(deadline: Instant) -> Self {
        Track {
            state: Mutex::new(TrackState {
                phase: Phase::Waiting { deadline, head_started: false, between_requests: false },
                unanswered: VecDeque::new(),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut TrackState) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// hyper handed a request to the handler.
    fn request_started(&self, head: bool) {
        self.with(|s| {
            s.unanswered.push_back(head);
            s.phase = Phase::Busy;
        });
    }

    fn bytes_read(&self, header_timeout: Duration) {
        self.with(|s| {
            if let Phase::Waiting { deadline, head_started: head_started @ false, between_requests } =
                &mut s.phase
            {
                *head_started = true;
                if *between_requests {
                    *deadline = Instant::now() + header_timeout;
                }
            }
        });
    }

    /// When reads must stop waiting, and whether a request head had begun.
    fn read_deadline(&self) -> Option<(Instant, bool)> {
        self.with(|s| match s.phase {
            Phase::Waiting { deadline, head_started, .. } => Some((deadline, head_started)),
            Phase::Busy => None,
        })
    }

    fn answer_pending(&self) -> bool {
        self.with(|s| !s.unanswered.is_empty())
    }

    /// A final response head went out: whether it answers a HEAD request (no body follows).
    fn answer_started(&self) -> bool {
        self.with(|s| s.unanswered.pop_front().unwrap_or(false))
    }

    /// A response ended on the wire; with nothing else to answer, the idle timeout starts.
    fn answer_done(&self, idle_timeout: Duration) {
        self.with(|s| {
            if s.unanswered.is_empty() {
                s.phase = Phase::Waiting {
                    deadline: Instant::now() + idle_timeout,
                    head_started: false,
                    between_requests: true,
                };
            }
        });
    }
}

/// Where the outgoing byte stream is: which bytes start a response.
enum Out {
    /// At or inside a response head: its bytes so far.
    Head(Vec<u8>),
    /// Inside a body: bytes left.
    Body(u64),
    /// A response without a length (never sent by this server): stop following.
    Lost,
}

/// The socket as hyper sees it: deadlines on reads and stalled writes, and hyper's own error
/// answers replaced by JSON ones.
pub struct Guarded<S> {
    io: S,
    track: Arc<Track>,
    limits: HttpLimits,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    write_stalled: bool,
    out: Out,
    /// Our own answer, sent instead of hyper's: bytes and how many went out.
    replacement: Vec<u8>,
    sent: usize,
    /// hyper's answer is being dropped (after the replacement took its place).
    swallowing: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Guarded<S> {
    fn new(io: S, track: Arc<Track>, limits: HttpLimits) -> Self {
        Guarded {
            io,
            track,
            limits,
            read_timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            write_timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            write_stalled: false,
            out: Out::Head(Vec::new()),
            replacement: Vec::new(),
            sent: 0,
            swallowing: false,
        }
    }

    /// Writes to the socket; a write blocked for the idle timeout fails.
    fn poll_io_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.write_stalled = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !self.write_stalled {
                    self.write_stalled = true;
                    self.write_timer.as_mut().reset(Instant::now() + self.limits.idle_timeout);
                }
                match self.write_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not read its answer in time",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    /// Sends what is left of our replacement answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.replacement.len() {
            let rest = self.replacement[self.sent..].to_vec();
            let n = std::task::ready!(self.poll_io_write(cx, &rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }

    fn replace_with(&mut self, status: u16) {
        let e = tessera_wire::WireError::http_level(status);
        self.replacement = raw_error_response(&e);
        self.sent = 0;
        self.swallowing = true;
    }

    /// Follows the responses hyper writes: where each head starts, how long each body is.
    fn follow(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.out {
                Out::Lost => return,
                Out::Body(left) => {
                    let k = (*left).min(bytes.len() as u64);
                    *left -= k;
                    bytes = bytes.get(k as usize..).unwrap_or_default();
                    if *left == 0 {
                        self.out = Out::Head(Vec::new());
                        self.track.answer_done(self.limits.idle_timeout);
                    }
                }
                Out::Head(head) => {
                    let before = head.len();
                    head.extend_from_slice(bytes);
                    let from = before.saturating_sub(3);
                    let Some(end) = head.get(from..).and_then(|h| find(h, b"\r\n\r\n")).map(|p| from + p + 4)
                    else {
                        if head.len() > 64 * 1024 {
                            self.out = Out::Lost;
                        }
                        return;
                    };
                    head.truncate(end);
                    bytes = bytes.get(end - before..).unwrap_or_default();
                    let (status, length, chunked) = parse_response_head(head);
                    if status < 200 {
                        // 100 Continue: the final answer follows.
                        head.clear();
                        continue;
                    }
                    let head_request = self.track.answer_started();
                    let body = if head_request || status == 204 || status == 304 {
                        Some(0)
                    } else if chunked {
                        None
                    } else {
                        Some(length.unwrap_or(0))
                    };
                    match body {
                        Some(0) => {
                            self.out = Out::Head(Vec::new());
                            self.track.answer_done(self.limits.idle_timeout);
                        }
                        Some(n) => self.out = Out::Body(n),
                        None => {
                            self.out = Out::Lost;
                            self.track.answer_done(self.limits.idle_timeout);
                        }
                    }
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Status, Content-Length and whether the body is chunked, of a response head hyper wrote.
fn parse_response_head(head: &[u8]) -> (u16, Option<u64>, bool) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(200);
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            } else if name.trim().eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
        }
    }
    (status, length, chunked)
}

/// A complete HTTP/1.1 error answer that closes the connection.
pub fn raw_error_response(e: &tessera_wire::WireError) -> Vec<u8> {
    let body = e.body();
    let reason =
        http::StatusCode::from_u16(e.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-errortype: {}:\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        e.status,
        e.name,
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.track.bytes_read(this.limits.header_timeout);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some((deadline, head_started)) = this.track.read_deadline() else { return Poll::Pending };
                if this.read_timer.deadline() != deadline {
                    this.read_timer.as_mut().reset(deadline);
                }
                if this.read_timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if head_started && !this.swallowing {
                    // A request began and stalled: say why before closing (best effort).
                    this.replace_with(408);
                    let _ = this.poll_drain(cx);
                }
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no request in time")))
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        std::task::ready!(this.poll_drain(cx))?;
        if this.swallowing {
            return Poll::Ready(Ok(buf.len()));
        }
        let at_head_start = matches!(&this.out, Out::Head(h) if h.is_empty());
        if at_head_start && !buf.is_empty() && !this.track.answer_pending() {
            // A response no request was handed out for: hyper's answer to one it could not
            // parse ("HTTP/1.1 431 …"). Send ours with the same status instead.
            let status = buf
                .get(9..12)
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(400);
            this.replace_with(status);
            std::task::ready!(this.poll_drain(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let n = std::task::ready!(this.poll_io_write(cx, buf))?;
        this.follow(buf.get(..n).unwrap_or_default());
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Accepts connections until `shutdown` fires, then waits for the open ones to finish. With
/// `tls`, a connection that opens with a TLS handshake is served over TLS, any other as HTTP.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    limits: HttpLimits,
    shutdown: tokio::sync::oneshot::Receiver<()>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let state = state.clone();
                let stop = stop_rx.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    connection(stream, peer, state, limits, stop, tls).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tokio::spawn(refuse(stream, limits.max_connections));
            }
        }
    }
    let _ = stop_tx.send(true);
    // Every connection holds a slot: all slots back means all connections ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// Over the cap: a 503 the SDKs retry, then close (reading what the client sent, briefly, so
/// the close does not reset the answer away).
async fn refuse(mut stream: TcpStream, max: usize) {
    let e = tessera_wire::WireError::new(
        "ServiceUnavailableException",
        503,
        format!("The server is serving its maximum of {max} connections; try again later."),
    );
    let answer = raw_error_response(&e);
    let budget = Duration::from_secs(1);
    let _ = tokio::time::timeout(budget, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), io::Error>(())
    })
    .await;
}

/// TLS record type 22: a handshake. No HTTP method starts with this byte.
const TLS_HANDSHAKE: u8 = 0x16;

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<AppState>,
    limits: HttpLimits,
    stop: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    // The handshake counts against the header timeout, as a slow request head would.
    let deadline = Instant::now() + limits.header_timeout;
    let track = Arc::new(Track::new(deadline));
    let Some(acceptor) = tls else {
        return http_connection(
            Guarded::new(stream, track.clone(), limits),
            track,
            peer,
            state,
            limits,
            stop,
            false,
        )
        .await;
    };
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE => {}
        Ok(Ok(1)) => {
            return http_connection(
                Guarded::new(stream, track.clone(), limits),
                track,
                peer,
                state,
                limits,
                stop,
                false,
            )
            .await
        }
        _ => return,
    }
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            http_connection(
                Guarded::new(stream, track.clone(), limits),
                track,
                peer,
                state,
                limits,
                stop,
                true,
            )
            .await
        }
        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

async fn http_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: Guarded<S>,
    track: Arc<Track>,
    peer: SocketAddr,
    state: Arc<AppState>,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
    tls: bool,
) {
    let io = hyper_util::rt::TokioIo::new(io);
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        track.request_started(req.method() == http::Method::HEAD);
        let state = state.clone();
        async move {
            let req = req.map(axum::body::Body::new);
            Ok::<_, Infallible>(crate::server::handle(state, peer, limits, req, tls).await)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        // Answer a client that sent its request and shut its sending side.
        .half_close(true)
        // Our own timers (Guarded) do this, with separate header and idle timeouts.
        .header_read_timeout(None)
        .max_headers(100);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, %peer, "connection ended");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_err() || *stop.borrow() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_are_read() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: x\r\nContent-Length: 12\r\n\r\n";
        assert_eq!(parse_response_head(head), (200, Some(12), false));
        let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert_eq!(parse_response_head(head), (200, None, true));
    }

    #[test]
    fn error_answers_are_cognito_style() {
        let raw = raw_error_response(&tessera_wire::WireError::http_level(431));
        let text = String::from_utf8(raw).unwrap_or_default();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{text}");
        assert!(text.contains("x-amzn-errortype: RequestHeaderFieldsTooLargeException:"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(body["__type"], "RequestHeaderFieldsTooLargeException");
    }
}
