//! `SyncStatus.systems`: how each connected system of a tenant answers the sync's writes, so an
//! operator sees *which* system is failing, not only that something is.
//!
//! `sync_stats` counts a tenant's write outcomes without their target, so the figures here are
//! read from the log itself: the tenant's `WriteSucceeded` and `WriteFailed` events among the
//! last [`WINDOW`] events of the log. The window bounds the read whatever the log's size, and
//! makes the rate a recent one, which is what an operator looking at a failing system wants.

use std::collections::BTreeMap;

use async_graphql::SimpleObject;
use syncledger_core::events::SyncEvent;
use syncledger_core::log::{LogFilter, Position};
use syncledger_store::Store;

use crate::error::ApiResult;

/// How many of the log's most recent events the per-system figures look at.
pub const WINDOW: i64 = 10_000;

/// One system's recent write outcomes.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct SystemStatus {
    pub system: String,
    /// Writes to the system that succeeded, among the log's most recent events.
    pub recent_writes_succeeded: i64,
    /// Write attempts to the system that failed (retried or not), among the same events.
    pub recent_writes_failed: i64,
    /// Failed attempts over attempts with an outcome (0 when there were none).
    pub recent_error_rate: f64,
}

/// Every system of `systems`, with its outcomes among the last [`WINDOW`] events of `tenant`.
pub async fn system_statuses(
    store: &Store,
    tenant: &str,
    systems: impl Iterator<Item = String>,
) -> ApiResult<Vec<SystemStatus>> {
    let head = store.head().await?;
    let filter = LogFilter {
        tenant: Some(tenant.to_string()),
        types: vec!["WriteSucceeded".into(), "WriteFailed".into()],
        recorded_from: None,
        recorded_to: None,
    };
    let after = Position((head.0 - WINDOW).max(0));
    let events = store.read_all(after, &filter, WINDOW).await?;
    let mut counts: BTreeMap<String, (i64, i64)> = systems.map(|s| (s, (0, 0))).collect();
    for event in &events {
        match SyncEvent::from_recorded(event) {
            Ok(SyncEvent::WriteSucceeded(w)) => counts.entry(w.target_system).or_default().0 += 1,
            Ok(SyncEvent::WriteFailed(w)) => counts.entry(w.target_system).or_default().1 += 1,
            _ => {}
        }
    }
    Ok(counts
        .into_iter()
        .map(|(system, (ok, failed))| SystemStatus {
            system,
            recent_writes_succeeded: ok,
            recent_writes_failed: failed,
            recent_error_rate: if ok + failed == 0 {
                0.0
            } else {
                failed as f64 / (ok + failed) as f64
            },
        })
        .collect())
}
