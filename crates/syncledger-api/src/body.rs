//! Every request body, as the handlers see it: bounded in time, and drained when left unread.
//!
//! [`Guarded`] wraps the body hyper reads from the socket:
//!
//! - **Read deadline.** The whole body must arrive within `server.body_read_timeout_secs` of the
//!   request's headers. Past it, reading fails with [`BodyTimeout`] (a handler answers 408) and
//!   the connection is closed. A sender that trickles one byte a second cannot hold a handler.
//! - **Lingering close.** A handler that answers without reading the whole body (an early 413 on a
//!   declared length, a 413 past the limit, a 401) drops it unread. Closing the socket then, with
//!   the client still writing, makes the kernel reset the connection, and a client that writes its
//!   whole body before reading (Python's `urllib`, most webhook senders) gets `EPIPE` or
//!   `ECONNRESET` instead of the answer, and retries a permanent refusal forever. So a dropped body
//!   is read to its end and discarded in the background while the answer goes out, as nginx's
//!   lingering close does: up to [`LINGER_MAX_BYTES`] and within the same read deadline. A client
//!   that sent `Expect: 100-continue` and was not told to continue has sent no body: nothing to
//!   drain, and the connection closes after the answer.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use syncledger_graphql::limits::BodyTimeout;
use tokio::time::{Instant, Sleep};

/// Most bytes read and discarded after a body was dropped unread; past it the connection is
/// closed as it stands. A body declared longer is not drained at all.
pub const LINGER_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The body of one request: see the module documentation.
pub struct Guarded {
    /// `None` once handed to the drain.
    inner: Option<Incoming>,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    /// `Expect: 100-continue` was sent: the body comes only once it is read.
    awaits_continue: bool,
    polled: bool,
    ended: bool,
    timed_out: bool,
}

impl Guarded {
    pub fn new(inner: Incoming, timeout: Duration, awaits_continue: bool) -> Guarded {
        Guarded {
            inner: Some(inner),
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
            awaits_continue,
            polled: false,
            ended: false,
            timed_out: false,
        }
    }
}

impl Body for Guarded {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if this.ended {
            return Poll::Ready(None);
        }
        this.polled = true;
        if this.timed_out || this.deadline.as_mut().poll(cx).is_ready() {
            this.timed_out = true;
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout)))));
        }
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => Poll::Ready(Some(frame.map_err(Into::into))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let unsent = self.awaits_continue && !self.polled;
        let too_long = inner.size_hint().lower() > LINGER_MAX_BYTES;
        if self.ended || self.timed_out || unsent || too_long || inner.is_end_stream() {
            return;
        }
        // Dropped outside a runtime (never in the server): nothing to drain with.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let deadline = self.deadline.deadline();
        runtime.spawn(drain(inner, deadline));
    }
}

/// Reads and discards what is left of a body, bounded in bytes and time; dropping it then lets
/// hyper close the connection (or keep it, when the body ended).
async fn drain(mut body: Incoming, deadline: Instant) {
    use http_body_util::BodyExt;
    let mut read = 0u64;
    let discard = async {
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |d| d.len() as u64);
            if read > LINGER_MAX_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline, discard).await;
}
