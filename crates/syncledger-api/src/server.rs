//! Accepting connections, and what bounds each one: the service's own accept loop over hyper's
//! HTTP/1 connection, rather than `axum::serve`, which has no timeouts, no cap and no deadline.
//!
//! - **Header-read timeout** (`server.header_read_timeout_secs`): a request's headers must arrive
//!   within it, counted from when the connection is ready for a request; so an idle connection,
//!   new or kept alive, is closed after it too.
//! - **Body-read timeout** (`server.body_read_timeout_secs`), and the lingering close of an unread
//!   body: see [`crate::body`].
//! - **Connection cap** (`server.max_connections`): every open connection holds a slot, a
//!   WebSocket for as long as it lives. A connection arriving at the cap makes room: the one idle
//!   the longest (between requests, or not yet sending one) is closed, and the newcomer takes its
//!   slot. So idle clients cannot lock out a webhook or a liveness probe; only requests in
//!   progress and WebSockets can fill the cap, each bounded by its timeouts. When no connection
//!   is idle (or the freed slot does not come within [`RESERVE_TIMEOUT`]), the newcomer, one of
//!   [`RESERVE`] more, is served by a router that answers `GET /healthz` and refuses everything
//!   else with `503`, `Retry-After: 1` and `Connection: close`. Past the reserve too, a
//!   connection gets the same `503` written at once, unread, and is closed.
//! - **Shutdown deadline** (`server.shutdown_timeout_secs`): once the shutdown signal resolves,
//!   the listener closes, idle connections close, and requests in progress are answered; a
//!   connection still open at the deadline (a client holding half its headers, say) is dropped.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use syncledger_core::config::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::body::Guarded;
use crate::slots::{Counted, Registered, Registry};

/// Connections past `server.max_connections` still read: for `/healthz`, or a clear refusal.
pub const RESERVE: usize = 8;
/// How long a connection past the cap waits for a slot to free, and how long a reserve
/// connection may take to send its request's headers, and its body.
pub const RESERVE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection asked to make room may take to finish the request it is sending.
const EVICT_GRACE: Duration = Duration::from_secs(1);

/// The bounds of [`serve`], from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub shutdown_timeout: Duration,
}

impl Limits {
    pub fn from_config(server: &ServerConfig) -> Limits {
        Limits {
            max_connections: server.max_connections,
            header_read_timeout: server.header_read_timeout(),
            body_read_timeout: server.body_read_timeout(),
            shutdown_timeout: server.shutdown_timeout(),
        }
    }
}

/// How one connection is served.
#[derive(Clone)]
struct Serving {
    app: Router,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    keep_alive: bool,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains within the deadline.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let reserve = Arc::new(Semaphore::new(RESERVE));
    let full = Serving {
        app,
        header_read_timeout: limits.header_read_timeout,
        body_read_timeout: limits.body_read_timeout,
        keep_alive: true,
    };
    let busy = Serving {
        app: busy_router(limits.max_connections),
        header_read_timeout: limits.header_read_timeout.min(RESERVE_TIMEOUT),
        body_read_timeout: limits.body_read_timeout.min(RESERVE_TIMEOUT),
        keep_alive: false,
    };
    let (tracker, registry) = (TaskTracker::new(), Arc::new(Registry::default()));
    let ends = Ends {
        registry: registry.clone(),
        stop: CancellationToken::new(),
        force: CancellationToken::new(),
    };
    let canned = canned_refusal(limits.max_connections);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                metrics::counter!("syncledger_http_connections_over_limit_total").increment(1);
                let Ok(held) = reserve.clone().try_acquire_owned() else {
                    refuse_at_once(&stream, &canned);
                    continue;
                };
                // Room is made by closing the connection idle the longest; this one waits for
                // the slot that frees. With none idle (every slot busy, or a WebSocket), it is
                // served by the reserve at once, so the reserve is never held by waiting.
                let made_room = registry.evict_oldest_idle();
                let (slots, full, busy, ends) =
                    (slots.clone(), full.clone(), busy.clone(), ends.clone());
                tracker.spawn(async move {
                    let freed = if made_room {
                        let wait = tokio::time::timeout(RESERVE_TIMEOUT, slots.acquire_owned());
                        wait.await.ok().and_then(Result::ok)
                    } else {
                        None
                    };
                    let registered = ends.registry.register();
                    match freed {
                        Some(slot) => {
                            drop(held);
                            connection(stream, slot, registered, full, ends).await;
                        }
                        None => connection(stream, held, registered, busy, ends).await,
                    }
                });
                continue;
            }
        };
        // Registered here, in the order of arrival, which is the order idle ones make room in.
        let registered = registry.register();
        tracker.spawn(connection(
            stream,
            slot,
            registered,
            full.clone(),
            ends.clone(),
        ));
    }
    drop(listener);
    ends.stop.cancel();
    tracker.close();
    if tokio::time::timeout(limits.shutdown_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = tracker.len(),
            deadline = ?limits.shutdown_timeout,
            "shutdown deadline reached: closing the connections still open"
        );
        ends.force.cancel();
        tracker.wait().await;
    }
}

/// What ends connections: the shutdown (gracefully, then by force at the deadline) and the
/// registry's eviction of the idle ones when the cap is reached.
#[derive(Clone)]
struct Ends {
    registry: Arc<Registry>,
    stop: CancellationToken,
    force: CancellationToken,
}

/// One connection, from accept to close (or to its upgrade: a WebSocket keeps its slot, held by
/// the socket, after this returns).
async fn connection(
    stream: TcpStream,
    slot: OwnedSemaphorePermit,
    registered: Registered,
    serving: Serving,
    ends: Ends,
) {
    let io = TokioIo::new(Counted {
        stream,
        _slot: slot,
    });
    let (app, body_timeout, mark) = (
        serving.app,
        serving.body_read_timeout,
        registered.mark.clone(),
    );
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let awaits_continue = request
            .headers()
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let request =
            request.map(|body| Body::new(Guarded::new(body, body_timeout, awaits_continue)));
        mark.busy();
        let (response, mark) = (app.clone().oneshot(request), mark.clone());
        async move {
            let response = response.await;
            mark.idle();
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(serving.header_read_timeout)
        .keep_alive(serving.keep_alive);
    let connection = builder.serve_connection(io, service).with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let evicted = tokio::select! {
        _ = connection.as_mut() => return,
        () = ends.stop.cancelled() => false,
        () = registered.evict.cancelled() => true,
    };
    // Idle connections close at once; a request in progress is answered first. One evicted
    // while it held half a head has EVICT_GRACE to finish it.
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection => {}
        () = ends.force.cancelled() => {}
        () = tokio::time::sleep(EVICT_GRACE), if evicted => {}
    }
}

/// A failed `accept`: a connection reset before it was taken is nothing; anything else (out of
/// file descriptors) is logged and waited out a little, so the loop does not spin.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn busy_message(max_connections: usize) -> String {
    json!({"error": {"code": "too_many_connections",
        "message": format!("the server holds its limit of {max_connections} connections; retry later")}})
    .to_string()
}

/// What a reserve connection is served: `/healthz`, else a 503 to retry.
fn busy_router(max_connections: usize) -> Router {
    let body = busy_message(max_connections);
    let busy = move || {
        let body = body.clone();
        async move {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    };
    let router: Router<()> = Router::new()
        .route("/healthz", get(crate::ops::healthz))
        .fallback(busy);
    crate::perimeter::wrap(router)
}

/// The whole 503 written to a connection past the reserve.
fn canned_refusal(max_connections: usize) -> String {
    let body = busy_message(max_connections);
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Past the reserve: the 503 written without reading anything, then the socket is closed.
fn refuse_at_once(stream: &TcpStream, answer: &str) {
    // A fresh socket's send buffer is empty: this writes it whole or not at all.
    let _ = stream.try_write(answer.as_bytes());
}
