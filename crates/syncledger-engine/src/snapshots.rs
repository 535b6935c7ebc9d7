//! Streams whose first events were archived are loaded from their snapshot (docs/log.md,
//! "Archiving"): the snapshot's state folded on with the live events after it. Every load of
//! an entity or an initial sync goes through here, so live work never needs archived events;
//! [`StreamSnapshots`] is what `archive` folds the cut streams with.

use serde_json::Value;
use syncledger_core::entity::EntityState;
use syncledger_core::initial_sync::InitialSync;
use syncledger_core::log::RecordedEvent;
use syncledger_core::snapshot;
use syncledger_store::{Store, StoreError};
use uuid::Uuid;

/// The snapshotter of the sync's streams: entities and initial syncs (the store's, which folds
/// them with the core's `StreamState`).
pub use syncledger_store::archive::StreamSnapshots;

/// The stream's snapshot (if its first events were archived) and its live events after it.
async fn live_part(
    store: &Store,
    stream_id: Uuid,
) -> Result<(Option<Value>, Vec<RecordedEvent>), StoreError> {
    let archived = store.archives().stream(stream_id).await?;
    let from = archived.as_ref().map_or(1, |a| a.version + 1);
    let events = store.read_stream(stream_id, from, i64::MAX).await?;
    Ok((archived.and_then(|a| a.state), events))
}

/// An entity's state as its whole stream gives it.
pub async fn load_entity(store: &Store, entity_id: Uuid) -> Result<EntityState, StoreError> {
    let (snapshot, live) = live_part(store, entity_id).await?;
    Ok(snapshot::resume_entity(entity_id, snapshot.as_ref(), &live))
}

/// An initial sync's state as its whole stream gives it.
pub async fn load_initial_sync(store: &Store, stream_id: Uuid) -> Result<InitialSync, StoreError> {
    let (snapshot, live) = live_part(store, stream_id).await?;
    Ok(snapshot::resume_initial_sync(snapshot.as_ref(), &live))
}
