//! `syncStatus.initialSyncs`: each entity type's initial sync of a tenant, from its own stream.
//!
//! A tenant whose existing records never reached the other system (issue 16) must be visible:
//! this says, per entity type, whether its initial sync has not started, is running or is
//! completed, how many records and pages its latest run has read, and when it started and
//! finished. Read from the log (each initial-sync stream folded by `core::initial_sync`, as
//! `engine::bringup::initial_sync_states` reads it for `/metrics`), so every process on the
//! database answers the same.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use syncledger_core::config::Config;
use syncledger_core::initial_sync::{self, InitialSync};
use syncledger_store::Store;

use crate::error::ApiResult;

/// The latest run of one entity type's initial sync.
#[derive(SimpleObject)]
pub struct InitialSyncStatus {
    pub entity_type: String,
    /// `not_started`, `running` or `completed`.
    pub state: String,
    /// Records the latest run has read and filed for sync.
    pub records_seen: i64,
    pub pages: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Who started the latest run: `first start`, or `reconcile:<user>`.
    pub started_by: Option<String>,
    /// Runs before the latest one (each `reconcile --repair` starts one).
    pub earlier_runs: i32,
}

pub async fn initial_syncs(
    store: &Store,
    config: &Config,
    tenant: &str,
) -> ApiResult<Vec<InitialSyncStatus>> {
    let mut statuses = Vec::with_capacity(config.entities.len());
    for entity in &config.entities {
        let stream = initial_sync::stream_id(tenant, &entity.name);
        let events = store.read_stream(stream, 1, i64::MAX).await?;
        statuses.push(status(entity.name.clone(), &InitialSync::fold(&events)));
    }
    Ok(statuses)
}

fn status(entity_type: String, sync: &InitialSync) -> InitialSyncStatus {
    let run = sync.run.as_ref();
    InitialSyncStatus {
        entity_type,
        state: sync.phase().as_str().to_string(),
        records_seen: run.map_or(0, |r| r.records() as i64),
        pages: run.map_or(0, |r| r.pages() as i64),
        started_at: run.map(|r| r.started_at),
        finished_at: run.and_then(|r| r.finished_at),
        started_by: run.map(|r| r.by.clone()),
        earlier_runs: sync.earlier_runs as i32,
    }
}
