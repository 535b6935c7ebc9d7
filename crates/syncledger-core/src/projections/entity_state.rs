//! `entity_state`: one row per entity, saying it exists (type, tenant, when first seen).
//!
//! The row is put only if absent, so replaying the events that mention the entity never moves
//! `first_seen`. Catch-up: this table reports; the sync decides from the entity's stream.
//!
//! Version 2 (2026-12-06) keeps no copy of the entity's records: version 1 also kept a row
//! `{entity}/{system}` with the canonical fields of its record in each system, replaced by
//! every fetch and every write (2.0 KB per synced change with the header, on SQLite). Nobody read
//! them: the API's `state`, `links` and `whyField` fold the entity's stream, which holds the same
//! fields. A store holding rows of version 1 empties the table and folds the log again when it
//! opens (`Projection::version`, docs/log.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, doc, row};
use crate::events::SyncEvent;
use crate::log::RecordedEvent;
use crate::projection::{Mode, Projection, RowOp};

pub const NAME: &str = "entity_state";

pub fn key(entity_id: Uuid) -> String {
    entity_id.to_string()
}

/// Entities list by type.
pub fn sort_key(entity_type: &str, entity_id: Uuid) -> String {
    format!("{entity_type}/{entity_id}")
}

/// The doc of an entity's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityHeader {
    pub entity_id: Uuid,
    pub entity_type: String,
    pub tenant: String,
    pub first_seen: DateTime<Utc>,
}

pub struct EntityState;

impl Projection for EntityState {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::CatchUp
    }

    /// 2: the header row only (see the module doc).
    fn version(&self) -> u32 {
        2
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        // Most events say nothing here: they are not decoded.
        if !matches!(
            event.event_type.as_str(),
            "ChangeObserved" | "RecordDiscovered" | "RecordLinked"
        ) {
            return vec![];
        }
        let entity_type = match decode(event) {
            Some(SyncEvent::ChangeObserved(e)) => e.entity_type,
            Some(SyncEvent::RecordDiscovered(e)) => e.entity_type,
            Some(SyncEvent::RecordLinked(e)) => e.entity_type,
            _ => return vec![],
        };
        let entity = event.stream_id;
        let sort_key = sort_key(&entity_type, entity);
        let header = EntityHeader {
            entity_id: entity,
            entity_type,
            tenant: event.meta.tenant.clone(),
            first_seen: event.recorded_at,
        };
        vec![RowOp::PutIfAbsent(row(
            event,
            key(entity),
            Some(entity),
            sort_key,
            doc(header),
        ))]
    }
}

#[cfg(test)]
mod tests;
