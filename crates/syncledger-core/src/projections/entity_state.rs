//! `entity_state`: each entity's canonical state, as the last fetch or write left it per system.
//!
//! Row `{entity}` says the entity exists (type, tenant, when first seen); it is put only if
//! absent, so replaying the events that mention it never moves `first_seen`. Row
//! `{entity}/{system}` holds the canonical fields of its record in that system, replaced by every
//! fetch and every successful write, and removed when the record is gone or unlinked.
//! Catch-up: this table reports; the sync decides from the entity's stream.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, doc, row};
use crate::events::{Fields, SyncEvent};
use crate::log::{Position, RecordedEvent};
use crate::projection::{Mode, Projection, RowOp};

pub const NAME: &str = "entity_state";

pub fn key(entity_id: Uuid) -> String {
    entity_id.to_string()
}

pub fn record_key(entity_id: Uuid, system: &str) -> String {
    format!("{entity_id}/{system}")
}

/// Entities list by type (a record row's sort key is its key, so it never starts with a type).
pub fn sort_key(entity_type: &str, entity_id: Uuid) -> String {
    format!("{entity_type}/{entity_id}")
}

/// The doc of an entity's own row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityHeader {
    pub entity_id: Uuid,
    pub entity_type: String,
    pub tenant: String,
    pub first_seen: DateTime<Utc>,
}

/// The doc of an entity's record in one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordState {
    pub system: String,
    pub record_id: String,
    pub fields: Fields,
    /// When the fetch or the write that told us was recorded.
    pub at: DateTime<Utc>,
    pub position: Position,
}

pub struct EntityState;

impl Projection for EntityState {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::CatchUp
    }

    fn holds_values(&self) -> bool {
        true
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let entity = event.stream_id;
        let header = |entity_type: String| {
            let sort_key = sort_key(&entity_type, entity);
            let header = EntityHeader {
                entity_id: entity,
                entity_type,
                tenant: event.meta.tenant.clone(),
                first_seen: event.recorded_at,
            };
            RowOp::PutIfAbsent(row(event, key(entity), Some(entity), sort_key, doc(header)))
        };
        let record = |system: String, record_id: String, fields: Fields| {
            let key = record_key(entity, &system);
            let state = RecordState {
                system,
                record_id,
                fields,
                at: event.recorded_at,
                position: event.position,
            };
            RowOp::Put(row(event, key.clone(), Some(entity), key, doc(state)))
        };
        match decode(event) {
            Some(SyncEvent::ChangeObserved(e)) => vec![header(e.entity_type)],
            Some(SyncEvent::RecordDiscovered(e)) => vec![header(e.entity_type)],
            Some(SyncEvent::RecordLinked(e)) => vec![header(e.entity_type)],
            Some(SyncEvent::RecordFetched(e)) if e.found => {
                vec![record(e.system, e.record_id, e.fields)]
            }
            Some(SyncEvent::RecordFetched(e)) => vec![RowOp::Delete {
                key: record_key(entity, &e.system),
            }],
            Some(SyncEvent::WriteSucceeded(e)) => {
                vec![record(e.target_system, e.record_id, e.fields)]
            }
            Some(SyncEvent::RecordUnlinked(e)) => vec![RowOp::Delete {
                key: record_key(entity, &e.system),
            }],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests;
