//! The simulated system's HTTP face: the routes of CONTRACT §1 over a caller's listener.
//!
//! Like mini-redis's `server::run`, it takes its listener (and optionally its shutdown signal)
//! from the caller, so a test binds `127.0.0.1:0`, reads the port, and starts it the same way the
//! demo does. Handlers only translate HTTP to a request of the shared path and back; a request
//! scripted to never answer holds its connection until the caller's client gives up or the server
//! shuts down.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::SimSystem;
use crate::exec::{Reply, SimRequest};
use crate::faults::Op;

/// How long a request that never answers holds on, at most, when nothing shuts it down.
const HANG: Duration = Duration::from_secs(600);

#[derive(Clone)]
struct App {
    sim: Arc<SimSystem>,
    /// Turns `true` at shutdown; a watch (not a notify) so a hang that starts late still sees it.
    stopping: watch::Receiver<bool>,
}

/// Serves `sim` on `listener` until the future is dropped.
pub fn serve_http(
    sim: Arc<SimSystem>,
    listener: TcpListener,
) -> impl Future<Output = io::Result<()>> + Send {
    serve_http_with_shutdown(sim, listener, std::future::pending())
}

/// Serves `sim` on `listener` until `shutdown` resolves, then finishes the requests in flight
/// (ending scripted hangs at once).
pub fn serve_http_with_shutdown(
    sim: Arc<SimSystem>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = io::Result<()>> + Send {
    let (stop, stopping) = watch::channel(false);
    let app = App { sim, stopping };
    let router = Router::new()
        .route("/{collection}", get(list).post(create))
        .route(
            "/{collection}/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .with_state(app);
    let signal = async move {
        shutdown.await;
        stop.send_replace(true);
    };
    async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await
    }
}

async fn get_one(
    State(app): State<App>,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut request = request(Op::Get, &collection, &headers);
    request.id = Some(id);
    run(app, request).await
}

async fn create(
    State(app): State<App>,
    Path(collection): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = request(Op::Create, &collection, &headers);
    request.idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    read_body(&mut request, &body);
    run(app, request).await
}

async fn update(
    State(app): State<App>,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = request(Op::Update, &collection, &headers);
    request.id = Some(id);
    read_body(&mut request, &body);
    run(app, request).await
}

async fn delete(
    State(app): State<App>,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut request = request(Op::Delete, &collection, &headers);
    request.id = Some(id);
    run(app, request).await
}

async fn list(
    State(app): State<App>,
    Path(collection): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut request = request(Op::List, &collection, &headers);
    request.cursor = query.get("cursor").cloned();
    if let Some(limit) = query.get("limit") {
        match limit.parse::<u32>() {
            Ok(limit) => request.limit = Some(limit),
            Err(_) => request.malformed = Some(format!("limit {limit:?} is not a number")),
        }
    }
    run(app, request).await
}

fn request(op: Op, collection: &str, headers: &HeaderMap) -> SimRequest {
    let mut request = SimRequest::new(op, collection);
    request.if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    request.headers = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect::<BTreeMap<_, _>>();
    request
}

fn read_body(request: &mut SimRequest, body: &[u8]) {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => request.body = Some(value),
        Err(e) => request.malformed = Some(format!("the body is not JSON: {e}")),
    }
}

async fn run(app: App, request: SimRequest) -> Response {
    let Reply { answer, hang, huge } = app.sim.execute(request).await;
    if let Some(total) = huge {
        let body = crate::huge::stream(app.sim.clone(), answer.body, total);
        let kind = HeaderValue::from_static("application/json");
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, kind)],
            axum::body::Body::from_stream(body),
        )
            .into_response();
    }
    if hang {
        let mut stopping = app.stopping.clone();
        tokio::select! {
            () = tokio::time::sleep(HANG) => {}
            _ = stopping.wait_for(|stopping| *stopping) => {}
        }
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if answer.body.is_empty() {
        status.into_response()
    } else {
        // Scripted fault bodies may be plain text; say so rather than claim JSON.
        let is_json = serde_json::from_str::<serde::de::IgnoredAny>(&answer.body).is_ok();
        let kind = if is_json {
            "application/json"
        } else {
            "text/plain"
        };
        let kind = HeaderValue::from_static(kind);
        (status, [(header::CONTENT_TYPE, kind)], answer.body).into_response()
    };
    if let Some(etag) = answer
        .etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if let Some(wait) = answer.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
    }
    response
}
