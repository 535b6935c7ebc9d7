//! `id_mappings`: which entity a system's record belongs to.
//!
//! One row per linked record, keyed `{tenant}/{system}/{record_id}` so the sync finds a webhook's
//! entity with one lookup. Inline: a link is visible the moment its append commits, so the next
//! job for the same record (or its round-trip echo) already sees it.
//!
//! A link is a claim ([`RowOp::Claim`]): one record belongs to one entity by construction. Two
//! jobs (of one process or two) that both decide a record is unlinked and both link it cannot
//! both commit: the second append fails with [`crate::log::Claimed`], and its job reads again and
//! finds the record's entity. A link moves to another entity only in an append that also writes
//! to the holder's stream (a redirect or a G8 hand-over, expecting the holder's version).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, doc, row};
use crate::events::SyncEvent;
use crate::log::{Position, RecordedEvent};
use crate::projection::{Mode, Projection, RowOp};

pub const NAME: &str = "id_mappings";

/// The row key of a record's mapping.
pub fn key(tenant: &str, system: &str, record_id: &str) -> String {
    format!("{tenant}/{system}/{record_id}")
}

/// Listings run in system, then record id order.
pub fn sort_key(system: &str, record_id: &str) -> String {
    format!("{system}/{record_id}")
}

/// What a mapping row's doc holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub entity_id: Uuid,
    pub entity_type: String,
    pub system: String,
    pub collection: String,
    pub record_id: String,
    pub linked_at: DateTime<Utc>,
    /// The `RecordLinked` event's position.
    pub position: Position,
    pub reason: String,
}

pub struct IdMappings;

impl Projection for IdMappings {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let tenant = &event.meta.tenant;
        match decode(event) {
            Some(SyncEvent::RecordLinked(linked)) => {
                let mapping = Mapping {
                    entity_id: event.stream_id,
                    entity_type: linked.entity_type,
                    system: linked.system,
                    collection: linked.collection,
                    record_id: linked.record_id,
                    linked_at: event.recorded_at,
                    position: event.position,
                    reason: linked.reason,
                };
                let key = key(tenant, &mapping.system, &mapping.record_id);
                let sort_key = sort_key(&mapping.system, &mapping.record_id);
                vec![RowOp::Claim(row(
                    event,
                    key,
                    Some(event.stream_id),
                    sort_key,
                    doc(&mapping),
                ))]
            }
            Some(SyncEvent::RecordUnlinked(unlinked)) => vec![RowOp::Delete {
                key: key(tenant, &unlinked.system, &unlinked.record_id),
            }],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::{RecordLinked, RecordUnlinked};
    use crate::projection::Row;
    use crate::projections::testkit::{ENTITY, at, recorded};

    #[test]
    fn a_link_claims_the_mapping_under_tenant_system_and_record() {
        let event = recorded(
            7,
            SyncEvent::RecordLinked(RecordLinked {
                entity_type: "customer".into(),
                system: "erp".into(),
                collection: "customers".into(),
                record_id: "E7".into(),
                reason: "created by sync".into(),
            }),
        );
        let expected = Row {
            key: "acme/erp/E7".into(),
            tenant: "acme".into(),
            entity_id: Some(ENTITY),
            sort_key: "erp/E7".into(),
            doc: json!({
                "entity_id": ENTITY, "entity_type": "customer", "system": "erp",
                "collection": "customers", "record_id": "E7", "linked_at": at(7),
                "position": 7, "reason": "created by sync",
            }),
            n: 0,
        };
        assert_eq!(
            IdMappings.apply(&event),
            vec![RowOp::Claim(expected.clone())]
        );
        let read: Mapping = serde_json::from_value(expected.doc).unwrap();
        assert_eq!((read.entity_id, read.position), (ENTITY, Position(7)));
    }

    #[test]
    fn an_unlink_deletes_the_mapping() {
        let event = recorded(
            8,
            SyncEvent::RecordUnlinked(RecordUnlinked {
                system: "crm".into(),
                record_id: "c-42".into(),
                reason: "deleted in crm".into(),
            }),
        );
        assert_eq!(
            IdMappings.apply(&event),
            vec![RowOp::Delete {
                key: "acme/crm/c-42".into()
            }]
        );
    }
}
