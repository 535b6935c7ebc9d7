//! Health, readiness and Prometheus metrics.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready))
        .route("/metrics", get(render))
}

/// Liveness: the process serves HTTP (also answered past the connection cap, see `server`).
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Installs the process-wide Prometheus recorder (once; later calls return `None`).
pub fn install_metrics() -> Option<PrometheusHandle> {
    let buckets = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    PrometheusBuilder::new()
        .set_buckets(&buckets)
        .ok()?
        .install_recorder()
        .ok()
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if !state.accepting.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match state.ledger.store().head().await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    refresh_gauges(&state).await;
    match &state.metrics {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are not installed in this process".to_string(),
        ),
    }
}

/// Gauges read from the store at scrape time: queue depth, oldest pending age, projection lag.
async fn refresh_gauges(state: &AppState) {
    let store = state.ledger.store();
    // The log's head: events appended by every process on this database (positions are gap-free
    // on SQLite; on PostgreSQL a rolled-back append leaves a gap, so this can run slightly ahead).
    if let Ok(head) = store.head().await {
        metrics::counter!("syncledger_events_appended_total").absolute(head.0.max(0) as u64);
    }
    if let Ok(statuses) = store.projection_status().await {
        for s in statuses {
            metrics::gauge!("syncledger_projection_lag", "projection" => s.name.clone())
                .set(s.lag as f64);
        }
    }
    let queue = syncledger_core::projections::pending_queue::NAME;
    if let Ok(depth) = store.count_rows(queue, None, None).await {
        metrics::gauge!("syncledger_queue_depth").set(depth as f64);
    }
    let oldest = store
        .rows(
            queue,
            &syncledger_store::RowQuery {
                limit: 1,
                ..Default::default()
            },
        )
        .await;
    let age = oldest
        .ok()
        .and_then(|rows| rows.into_iter().next())
        .and_then(|row| {
            row.sort_key
                .get(..27)
                .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
        })
        .map(|t| (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    metrics::gauge!("syncledger_oldest_pending_age_seconds").set(age);
    initial_sync_gauges(state).await;
    open_review_gauges(state).await;
}

/// Each tenant's conflicts waiting for a person (`conflict = "review"`), from the `conflicts`
/// projection: every row but the decided ones (whose sort keys come first).
async fn open_review_gauges(state: &AppState) {
    use syncledger_core::projections::conflicts::{CLOSED_PREFIX, NAME};
    let store = state.ledger.store();
    let decided_to = format!("{CLOSED_PREFIX}\u{10FFFF}");
    for tenant in &state.ledger.config().tenants {
        let all = store.count_rows(NAME, Some(&tenant.id), None).await;
        let decided = store
            .count_rows(NAME, Some(&tenant.id), Some(&decided_to))
            .await;
        if let (Ok(all), Ok(decided)) = (all, decided) {
            metrics::gauge!("syncledger_conflicts_open", "tenant" => tenant.id.clone())
                .set((all - decided).max(0) as f64);
        }
    }
}

/// Each tenant's initial sync per entity type, from the log: its state (1 on the current
/// one's series, 0 on the others), the records and pages its latest run read, and when it
/// started and finished (Unix seconds; 0 while not).
async fn initial_sync_gauges(state: &AppState) {
    use syncledger_core::initial_sync::Phase;
    let config = state.ledger.config();
    for tenant in &config.tenants {
        let store = state.ledger.store();
        let Ok(syncs) =
            syncledger_engine::bringup::initial_sync_states(store, config, &tenant.id).await
        else {
            continue;
        };
        for (entity, sync) in syncs {
            let labels = [("tenant", tenant.id.clone()), ("entity", entity)];
            for phase in [Phase::NotStarted, Phase::Running, Phase::Completed] {
                let mut with_state = labels.to_vec();
                with_state.push(("state", phase.as_str().to_string()));
                let on = if sync.phase() == phase { 1.0 } else { 0.0 };
                metrics::gauge!("syncledger_initial_sync_state", &with_state).set(on);
            }
            let run = sync.run.as_ref();
            let seconds = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0)
            };
            metrics::gauge!("syncledger_initial_sync_records", &labels)
                .set(run.map_or(0.0, |r| r.records() as f64));
            metrics::gauge!("syncledger_initial_sync_pages", &labels)
                .set(run.map_or(0.0, |r| r.pages() as f64));
            metrics::gauge!("syncledger_initial_sync_started_seconds", &labels)
                .set(seconds(run.map(|r| r.started_at)));
            metrics::gauge!("syncledger_initial_sync_finished_seconds", &labels)
                .set(seconds(run.and_then(|r| r.finished_at)));
        }
    }
}
