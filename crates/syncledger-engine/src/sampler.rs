//! The operations page's history (`Sampler`): every few seconds, each tenant's pending queue
//! depth and the log's running totals of intake and write outcomes, upserted into that tenant's
//! minute of `ops_samples`; rows older than [`KEEP_MINUTES`] are pruned once a minute.
//!
//! Why a sampler and not a projection: a queue's depth at a moment is not a fact of any one
//! event, and a burst drained within a minute leaves nothing at the minute's end; sampled, the
//! minute keeps its deepest queue. Every serving process samples; the store's upsert keeps the
//! maximum, so processes sharing a database agree. The totals come from `sync_stats` (a
//! catch-up projection), so they trail the log by its lag; the depth from `pending_queue`
//! (inline, exact).

use std::time::Duration;

use chrono::{DateTime, Utc};
use syncledger_core::projections::{pending_queue, sync_stats};
use syncledger_store::{OpsSample, RowQuery, Store};
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;

/// How often the queue is sampled.
pub const EVERY: Duration = Duration::from_secs(5);
/// How much history is kept: 24 hours of minutes.
pub const KEEP_MINUTES: i64 = 24 * 60;

/// Minutes since the Unix epoch: the row a sample taken at `at` belongs to.
pub fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

pub struct Sampler {
    store: Store,
    tenants: Vec<String>,
}

impl Sampler {
    pub fn new(store: Store, tenants: Vec<String>) -> Self {
        Sampler { store, tenants }
    }

    /// Samples until `stop`; a failed sample is logged and the next one tried on time.
    pub async fn run(self, stop: CancellationToken) {
        let mut pruned = None;
        loop {
            let minute = minute_of(Utc::now());
            for tenant in &self.tenants {
                if let Err(e) = self.sample(tenant, minute).await {
                    tracing::debug!(error = %e, tenant = %tenant, "an operations sample failed");
                }
            }
            if pruned != Some(minute) {
                pruned = Some(minute);
                if let Err(e) = self.store.prune_ops_samples(minute - KEEP_MINUTES).await {
                    tracing::debug!(error = %e, "pruning the operations samples failed");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(EVERY) => {}
            }
        }
    }

    async fn sample(&self, tenant: &str, minute: i64) -> Result<(), EngineError> {
        let depth = self
            .store
            .count_rows(pending_queue::NAME, Some(tenant), None)
            .await?;
        let prefix = sync_stats::counter_key(tenant, "");
        let query = RowQuery {
            tenant: Some(tenant.to_string()),
            sort_key_from: Some(prefix.clone()),
            sort_key_to: Some(format!("{prefix}\u{10ffff}")),
            limit: 256,
            ..RowQuery::default()
        };
        let counters = self.store.rows(sync_stats::NAME, &query).await?;
        let count = |name: &str| {
            counters
                .iter()
                .find(|r| r.key == sync_stats::counter_key(tenant, name))
                .map_or(0, |r| r.n)
        };
        let sample = OpsSample {
            tenant: tenant.to_string(),
            minute,
            depth_max: depth,
            depth_last: depth,
            intake_total: count(sync_stats::OBSERVED),
            writes_ok_total: count(sync_stats::WRITE_SUCCEEDED),
            writes_failed_total: count(sync_stats::WRITE_FAILED),
            intake_first: count(sync_stats::OBSERVED),
            writes_ok_first: count(sync_stats::WRITE_SUCCEEDED),
            writes_failed_first: count(sync_stats::WRITE_FAILED),
        };
        self.store.record_ops_sample(&sample).await?;
        Ok(())
    }
}
