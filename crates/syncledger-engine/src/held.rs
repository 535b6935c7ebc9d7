//! Work held for an initial sync's listing, and the initial sync's state as the log holds it:
//! read by the jobs (`job::hold`) and by the bring-up (`bringup`), which releases what it held.
//! A leaf below both rooms, so neither reaches into the other.

use syncledger_core::events::SyncEvent;
use syncledger_core::initial_sync::{self, InitialSync, hold};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_core::projections::pending_queue;
use syncledger_store::RowQuery;
use uuid::Uuid;

use crate::context::Context;
use crate::error::EngineError;

/// Held rows released per append.
const RELEASE_BATCH: i64 = 200;

/// The initial sync of `entity_type` for `tenant`, as its stream holds it now.
pub(crate) async fn initial_sync_state(
    ctx: &Context,
    tenant: &str,
    entity_type: &str,
) -> Result<InitialSync, EngineError> {
    let stream = initial_sync::stream_id(tenant, entity_type);
    Ok(crate::snapshots::load_initial_sync(&ctx.store, stream).await?)
}

/// Releases every work item held for the initial sync `stream` of `tenant`, in batches.
/// Items still waiting for another system are held again by their next decision.
pub(crate) async fn release_held(
    ctx: &Context,
    tenant: &str,
    stream: Uuid,
) -> Result<(), EngineError> {
    let prefix = pending_queue::held_prefix(stream);
    loop {
        let query = RowQuery {
            tenant: Some(tenant.to_string()),
            sort_key_from: Some(prefix.clone()),
            sort_key_to: Some(format!("{prefix}~")),
            after: None,
            limit: RELEASE_BATCH,
        };
        let rows = ctx.store.rows(pending_queue::NAME, &query).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let held: Vec<pending_queue::Trigger> = rows
            .into_iter()
            .filter_map(|row| serde_json::from_value(row.doc).ok())
            .collect();
        let entities: Vec<Uuid> = held.iter().map(|h| h.entity_id).collect();
        let versions = ctx.store.stream_versions(&entities).await?;
        let mut appends: Vec<StreamAppend> = Vec::new();
        for item in held {
            let event = SyncEvent::WorkReleased(hold::release_held(&item));
            let meta = EventMeta {
                tenant: tenant.to_string(),
                correlation_id: Some(item.trigger_id),
                causation_id: None,
            };
            let new = event.to_new(meta);
            match appends.iter_mut().find(|a| a.stream_id == item.entity_id) {
                Some(a) => a.events.push(new),
                None => appends.push(StreamAppend {
                    stream_id: item.entity_id,
                    expected: ExpectedVersion::Exact(
                        versions.get(&item.entity_id).copied().unwrap_or(0),
                    ),
                    events: vec![new],
                }),
            }
        }
        if appends.is_empty() {
            return Ok(());
        }
        match ctx.store.append(appends).await {
            Ok(_) => ctx.wake_workers(),
            // A worker moved one of them meanwhile: read the rows and versions again.
            Err(syncledger_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
