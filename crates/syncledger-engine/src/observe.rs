//! Where an observation of a record goes: the one door shared by webhooks and the initial sync.
//!
//! A webhook's `ChangeObserved` and the initial sync's `RecordDiscovered` are the same kind of
//! fact (a record may have changed; fetch it and decide), so they must land in the same stream,
//! or one business record becomes two entities that each create in the other system (issue 16).
//! The stream is the entity the record is mapped to in `id_mappings`, else the record's
//! deterministic entity id. Each append expects the stream's version as read here, just before:
//! an observation racing another append to that stream (a worker, another delivery, a page of
//! the initial sync) fails with a conflict and its caller reads again, instead of writing blind.

use std::collections::HashMap;

use syncledger_core::events::entity_id_for_record;
use syncledger_core::log::{ExpectedVersion, NewEvent, StreamAppend};
use syncledger_core::projections::id_mappings;
use syncledger_store::{Store, StoreError};
use uuid::Uuid;

/// One observed record, with its event ready for the log.
pub(crate) struct Observation<'a> {
    pub entity_type: &'a str,
    pub system: &'a str,
    pub record_id: &'a str,
    pub event: NewEvent,
}

/// The appends that file `observed` (in order) into their records' streams, each expecting the
/// version read now. The mappings and the versions are each read in one query for the batch.
pub(crate) async fn route(
    store: &Store,
    tenant: &str,
    observed: Vec<Observation<'_>>,
) -> Result<Vec<StreamAppend>, StoreError> {
    let mapping_keys: Vec<String> = observed
        .iter()
        .map(|o| id_mappings::key(tenant, o.system, o.record_id))
        .collect();
    let mapped: HashMap<String, Uuid> = store
        .rows_by_keys(id_mappings::NAME, &mapping_keys)
        .await?
        .into_iter()
        .filter_map(|row| Some((row.key, row.entity_id?)))
        .collect();
    let streams: Vec<Uuid> = observed
        .iter()
        .zip(&mapping_keys)
        .map(|(o, key)| {
            mapped.get(key).copied().unwrap_or_else(|| {
                entity_id_for_record(tenant, o.entity_type, o.system, o.record_id)
            })
        })
        .collect();
    let versions = store.stream_versions(&streams).await?;
    let mut appends: Vec<StreamAppend> = Vec::new();
    for (o, stream_id) in observed.into_iter().zip(streams) {
        match appends.iter_mut().find(|a| a.stream_id == stream_id) {
            Some(a) => a.events.push(o.event),
            None => appends.push(StreamAppend {
                stream_id,
                expected: match versions.get(&stream_id) {
                    None | Some(0) => ExpectedVersion::NoStream,
                    Some(v) => ExpectedVersion::Exact(*v),
                },
                events: vec![o.event],
            }),
        }
    }
    Ok(appends)
}
