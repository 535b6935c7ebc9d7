//! `match_index`: which records the log has seen holding a value, so a record whose match keys
//! equal another system's record is linked to it instead of duplicated (G8).
//!
//! It files the non-blank canonical values of the match-key fields (those some entity type
//! lists in `match_keys`; every field when built without a configuration) a record was seen
//! holding, one row per record and field, keyed `{tenant}/{system}/{record_id}/{field}` and
//! sorted by `{system}/{field}/{value hash}` (the value normalised as match keys compare it).
//! Only the first match key is ever looked up; filing only key fields keeps the rows an append
//! writes to what is read (a new match key takes `syncledger rebuild match_index` to cover
//! records seen before it). The engine
//! finds the records of a system holding its first match key's value in one read, then checks
//! the rest of the keys, the entity type and that the record is still unpaired against the
//! owning entity's stream.
//!
//! A record is "seen" when it is fetched (`RecordFetched` with `found`), when the sync's own
//! write to it answered (`WriteSucceeded`, whose fields are what the target holds), and when the
//! initial sync listed it (`RecordDiscovered`, whose stream holds it until it is linked). Seen again,
//! each field's row is replaced, so a changed key moves the record; a field seen blank loses
//! its row. A record fetched as gone, or unlinked, keeps the rows of its last sighting: those
//! events do not say which fields it had, and the engine's check against the owning entity
//! (its link to the record and its last known values) drops them. Inline, so a worker deciding
//! a create sees a record another worker recorded a moment before (see docs/races.md, G8).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, doc, row};
use crate::events::{Fields, SyncEvent};
use crate::log::{Position, RecordedEvent};
use crate::mapping::match_value_hash;
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "match_index";

/// The row key of one field of one record.
pub fn key(tenant: &str, system: &str, record_id: &str, field: &str) -> String {
    format!("{tenant}/{system}/{record_id}/{field}")
}

/// The sort key the records of `system` holding `value_hash` in `field` share.
pub fn sort_key(system: &str, field: &str, value_hash: &str) -> String {
    format!("{system}/{field}/{value_hash}")
}

/// What a row's doc holds: the record, and the entity whose stream saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenValue {
    pub system: String,
    pub record_id: String,
    pub field: String,
    pub entity_id: Uuid,
    pub position: Position,
}

pub struct MatchIndex {
    /// The fields filed; `None`: every field.
    fields: Option<BTreeSet<String>>,
}

impl MatchIndex {
    /// Files only these canonical fields (the configured match keys).
    pub fn of(fields: BTreeSet<String>) -> Self {
        MatchIndex {
            fields: Some(fields),
        }
    }

    /// Files every field: for a store opened without a configuration (a superset is safe,
    /// since the engine checks every candidate against the owning entity).
    pub fn every_field() -> Self {
        MatchIndex { fields: None }
    }

    fn files(&self, field: &str) -> bool {
        self.fields.as_ref().is_none_or(|f| f.contains(field))
    }
}

impl Projection for MatchIndex {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    /// Its sort keys are digests of values: an erasure deletes the entity's rows.
    fn holds_values(&self) -> bool {
        true
    }

    /// Its sort keys end in a digest of values, keyed by the store (docs/privacy.md).
    fn keys_sort_keys(&self) -> bool {
        true
    }

    /// A tenant's records of one system holding one value.
    fn lookups(&self) -> Lookups {
        Lookups {
            tenant_sort_key: true,
            ..Lookups::KEY_ONLY
        }
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        match decode(event) {
            Some(SyncEvent::RecordFetched(f)) if f.found => {
                self.seen(event, &f.system, &f.record_id, &f.fields)
            }
            Some(SyncEvent::WriteSucceeded(w)) => {
                self.seen(event, &w.target_system, &w.record_id, &w.fields)
            }
            // Listed by the initial sync: findable before a worker reaches it (G8 at bring-up).
            Some(SyncEvent::RecordDiscovered(d)) => {
                self.seen(event, &d.system, &d.record_id, &d.fields)
            }
            _ => vec![],
        }
    }
}

impl MatchIndex {
    /// `record_id` in `system` was seen holding `fields` (every field its system maps): one
    /// row operation for each of them this index files.
    fn seen(
        &self,
        event: &RecordedEvent,
        system: &str,
        record_id: &str,
        fields: &Fields,
    ) -> Vec<RowOp> {
        let tenant = &event.meta.tenant;
        fields
            .iter()
            .filter(|(field, _)| self.files(field))
            .map(|(field, value)| {
                let key = key(tenant, system, record_id, field);
                let Some(hash) = match_value_hash(value) else {
                    return RowOp::Delete { key };
                };
                let seen = SeenValue {
                    system: system.into(),
                    record_id: record_id.into(),
                    field: field.clone(),
                    entity_id: event.stream_id,
                    position: event.position,
                };
                let sort_key = sort_key(system, field, &hash);
                RowOp::Put(row(event, key, Some(event.stream_id), sort_key, doc(seen)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::{RecordFetched, Resolution, WriteSucceeded};
    use crate::projections::testkit::{ENTITY, recorded};

    fn fetched(found: bool, fields: serde_json::Value) -> SyncEvent {
        SyncEvent::RecordFetched(RecordFetched {
            etag: None,
            system: "erp".into(),
            record_id: "E-1".into(),
            found,
            fields: serde_json::from_value(fields).unwrap(),
        })
    }

    #[test]
    fn a_fetched_record_is_filed_under_each_value_as_match_keys_compare_it() {
        let ops = MatchIndex::every_field().apply(&recorded(
            3,
            fetched(true, json!({"email": " Ada@Example.com ", "phone": null})),
        ));
        let same = match_value_hash(&json!("ada@example.com")).unwrap();
        let [RowOp::Put(email), RowOp::Delete { key: phone }] = ops.as_slice() else {
            panic!("a put for the email and a delete for the blank phone, got {ops:?}")
        };
        assert_eq!(email.key, "acme/erp/E-1/email");
        assert_eq!(email.sort_key, sort_key("erp", "email", &same));
        assert_eq!(email.entity_id, Some(ENTITY));
        let doc: SeenValue = serde_json::from_value(email.doc.clone()).unwrap();
        assert_eq!((doc.record_id.as_str(), doc.position), ("E-1", Position(3)));
        assert_eq!(phone, "acme/erp/E-1/phone");
    }

    #[test]
    fn built_with_match_keys_it_files_only_those_fields() {
        let index = MatchIndex::of(["email".to_string()].into());
        let ops = index.apply(&recorded(
            3,
            fetched(
                true,
                json!({"email": "ada@example.com", "name": "Ada", "phone": null}),
            ),
        ));
        let keys: Vec<&str> = ops
            .iter()
            .map(|op| match op {
                RowOp::Put(r) => r.key.as_str(),
                RowOp::Delete { key } => key.as_str(),
                other => panic!("only puts and deletes, got {other:?}"),
            })
            .collect();
        assert_eq!(keys, ["acme/erp/E-1/email"]);
        // The same event built without a configuration files every field.
        let all = MatchIndex::every_field().apply(&recorded(
            3,
            fetched(
                true,
                json!({"email": "ada@example.com", "name": "Ada", "phone": null}),
            ),
        ));
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn a_write_answer_files_the_target_record_and_a_gone_record_files_nothing() {
        let answered = SyncEvent::WriteSucceeded(WriteSucceeded {
            etag: None,
            request_id: Uuid::nil(),
            target_system: "crm".into(),
            record_id: "c-9".into(),
            fields: serde_json::from_value(json!({"email": "b@example.com"})).unwrap(),
            resolution: Resolution::Response,
        });
        let ops = MatchIndex::every_field().apply(&recorded(4, answered));
        assert!(matches!(ops.as_slice(), [RowOp::Put(r)] if r.key == "acme/crm/c-9/email"));
        assert_eq!(
            MatchIndex::every_field().apply(&recorded(5, fetched(false, json!({})))),
            vec![]
        );
    }
}
