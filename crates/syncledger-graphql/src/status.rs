//! `syncStatus`: one tenant's sync health, read from the projections.
//!
//! Queue depth and the oldest item come from `pending_queue` (inline, so exact at any moment);
//! counts of writes and decisions from `sync_stats` and open letters from `dead_letters` (both
//! catch-up, so they trail the log by the reported `lag`). Every figure is the tenant's own: the
//! rows are read with the tenant's filter, and `lag` counts only the tenant's events, so one
//! tenant's backlog neither shows in nor can be learnt from another's status.
//!
//! Both queues are counted projections: `count_rows` reads the per-tenant count the database
//! keeps with triggers in the writing transaction (exact, one row read whatever the backlog),
//! and `dueNow` takes away only the rows not yet due (docs/log.md, "Counted projections").

use chrono::Utc;
use syncledger_core::projections::{dead_letters, pending_queue, sync_stats};
use syncledger_store::{RowQuery, Store};

use crate::error::ApiResult;
use crate::paging::prefix_end;
use crate::rows::{Counter, PendingItem, SyncStatus};

/// More counters than a tenant can have (one per decision kind and write outcome).
const MAX_COUNTERS: i64 = 256;

pub async fn sync_status(store: &Store, tenant: &str) -> ApiResult<SyncStatus> {
    let now = Utc::now();
    let queue_depth = store
        .count_rows(pending_queue::NAME, Some(tenant), None)
        .await?;
    let due = pending_queue::due_sort_key(now);
    let due_now = store
        .count_rows(pending_queue::NAME, Some(tenant), Some(&due))
        .await?;
    let first = RowQuery {
        tenant: Some(tenant.to_string()),
        limit: 1,
        ..RowQuery::default()
    };
    let oldest = match store
        .rows(pending_queue::NAME, &first)
        .await?
        .into_iter()
        .next()
    {
        Some(row) => Some(PendingItem::from_row(row)?.due_at),
        None => None,
    };
    let age = oldest.map_or(0.0, |at| {
        (now - at).num_milliseconds().max(0) as f64 / 1000.0
    });

    let prefix = sync_stats::counter_key(tenant, "");
    let query = RowQuery {
        tenant: Some(tenant.to_string()),
        sort_key_to: Some(prefix_end(&prefix)),
        sort_key_from: Some(prefix.clone()),
        limit: MAX_COUNTERS,
        ..RowQuery::default()
    };
    let counters: Vec<Counter> = store
        .rows(sync_stats::NAME, &query)
        .await?
        .into_iter()
        .map(|row| Counter {
            name: row.key[prefix.len()..].to_string(),
            count: row.n,
        })
        .collect();
    let count = |name: &str| {
        counters
            .iter()
            .find(|c| c.name == name)
            .map_or(0, |c| c.count)
    };
    let writes_succeeded = count(sync_stats::WRITE_SUCCEEDED);
    let writes_failed = count(sync_stats::WRITE_FAILED);
    let attempts = writes_succeeded + writes_failed;
    let error_rate = if attempts == 0 {
        0.0
    } else {
        writes_failed as f64 / attempts as f64
    };

    let open_letters = store
        .count_rows(dead_letters::NAME, Some(tenant), None)
        .await?;
    let lag = tenant_lag(store, tenant).await?;
    Ok(SyncStatus {
        tenant: tenant.to_string(),
        queue_depth,
        due_now,
        oldest_pending_since: oldest,
        oldest_pending_age_seconds: age,
        error_rate,
        writes_succeeded,
        writes_failed,
        dead_letters: open_letters,
        lag,
        counters,
        initial_syncs: Vec::new(),
        systems: Vec::new(),
    })
}

/// How many of `tenant`'s events the slowest projection has still to apply. Other tenants'
/// events in between do not count; the store counts them on its `(tenant, position)` index
/// without reading them.
pub async fn tenant_lag(store: &Store, tenant: &str) -> ApiResult<i64> {
    let slowest = store
        .projection_status()
        .await?
        .iter()
        .filter(|s| s.lag > 0)
        .map(|s| s.checkpoint)
        .min();
    let Some(after) = slowest else {
        return Ok(0);
    };
    Ok(store.count_events(after, Some(tenant)).await?)
}
