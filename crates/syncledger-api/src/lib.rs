//! syncledger's HTTP server.
//!
//! [`run`] takes its listener and its shutdown signal from the caller, so `main`, the demo and the
//! tests start the server the same way (on port 0 in tests).
//!
//! - `webhooks`: `POST /webhooks/{tenant}/{system}` (CONTRACT §2).
//! - `ops`: `/healthz`, `/readyz`, `/metrics` (CONTRACT §9).
//! - `/graphql`, `/graphql/ws`: the GraphQL API (the `syncledger-graphql` crate), over the
//!   [`graphql_context`] this crate builds from the engine's `Ledger`: the one place where the
//!   API and the engine meet, so the GraphQL crate does not depend on the engine.
//! - `/console`: the audit console (the `syncledger-console` crate), a page that reads through
//!   that same API.
//! - `perimeter`: what wraps every route: a panic answers 500 instead of reaching the runtime,
//!   and every response says not to cache or sniff it.
//! - [`server`]: the accept loop: header and body read timeouts, the connection cap (`slots`:
//!   what holds a connection's slot, and which idle connection makes room) and its reserve for
//!   `/healthz`, the shutdown deadline; `body`: every request body's read deadline and the
//!   lingering close of a body left unread.
#![forbid(unsafe_code)]

mod body;
mod ops;
mod perimeter;
pub mod server;
mod slots;
mod webhooks;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use syncledger_engine::Ledger;
use syncledger_graphql::ApiContext;
use tokio::net::TcpListener;

pub use ops::install_metrics;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub ledger: Ledger,
    pub metrics: Option<PrometheusHandle>,
    /// Cleared when shutdown starts: `/readyz` fails and webhooks get 503 so senders retry elsewhere.
    pub accepting: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What the GraphQL API holds of the running ledger: its store and configuration, and a way to
/// wake its workers after appending a person's request.
pub fn graphql_context(ledger: &Ledger) -> ApiContext {
    let waker = ledger.clone();
    ApiContext::new(
        ledger.store().clone(),
        Arc::new(ledger.config().clone()),
        move || waker.wake_workers(),
    )
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let graphql = syncledger_graphql::routes(graphql_context(&state.ledger));
    let routes = Router::new()
        .merge(webhooks::routes())
        .merge(ops::routes())
        .with_state(state)
        .merge(graphql)
        .merge(syncledger_console::routes());
    perimeter::wrap(routes)
}

/// Serves until `shutdown` resolves, then stops taking requests and lets those in flight finish
/// within `server.shutdown_timeout_secs` (see [`server`] for every bound on a connection).
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let accepting = state.accepting.clone();
    let limits = server::Limits::from_config(&state.ledger.config().server);
    let app = router(state);
    let shutdown = async move {
        shutdown.await;
        accepting.store(false, std::sync::atomic::Ordering::SeqCst);
    };
    server::serve(listener, app, limits, shutdown).await;
    Ok(())
}
