//! `word_index`: which records the log has seen holding a word in a text field, so a person can
//! find a customer by name ("Alan Turing", "turing") and not only by an exact match key.
//!
//! For each text field of a record, its whole words ([`crate::lookup::words`], at most
//! [`MAX_WORDS`]) are filed one row each, keyed `{tenant}/{system}/{record_id}/{field}/{slot}`
//! (the slot is the word's place, 0 to [`MAX_WORDS`] - 1) and sorted by the word's digest
//! ([`crate::lookup::term_digest`]): a row holds no word, only its digest. Seen again, a field's
//! slots are all written again, the unused ones deleted, so a renamed record moves to its new
//! words without the handler reading its table (and a rebuild runs the same code). A field seen
//! blank loses its rows; a field that is not text (a number, a list) is not filed.
//!
//! A record is seen when it is fetched (`RecordFetched` with `found`), when the sync's own write
//! to it answered (`WriteSucceeded`), and when the initial sync listed it (`RecordDiscovered`),
//! as for `match_index`. A row names the stream that saw the record; a reader asks `id_mappings`
//! who holds the record now. Catch-up: a search trails the log by the projection's lag.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{decode, doc, row};
use crate::events::{Fields, SyncEvent};
use crate::log::{Position, RecordedEvent};
use crate::lookup::{MAX_WORDS, term_digest, words};
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "word_index";

/// The row key of one word slot of one field of one record.
pub fn key(tenant: &str, system: &str, record_id: &str, field: &str, slot: usize) -> String {
    format!("{tenant}/{system}/{record_id}/{field}/{slot}")
}

/// What a row's doc holds: the field a word was seen in, and where in the log. The record and
/// its system are in the row's key, and the stream that saw it in the row's `entity_id`, so the
/// doc does not repeat them (issue 32: a record's words are a dozen rows, each written again at
/// every sighting). Rows written before held all five in the doc; they read the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordDoc {
    pub field: String,
    pub position: Position,
}

/// A row read back: the record and field a word was seen in, and the stream that saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenWord {
    pub system: String,
    pub record_id: String,
    pub field: String,
    pub entity_id: Uuid,
    pub position: Position,
}

impl SeenWord {
    /// From a row of `tenant`: the system and record from its key (tenant and system names are
    /// slugs, so the record id is what lies between them and `/{field}/{slot}`, slashes
    /// included), the rest from its doc and `entity_id`. `None` for a row that does not parse.
    pub fn from_row(tenant: &str, key: &str, entity_id: Option<Uuid>, doc: &Value) -> Option<Self> {
        let WordDoc { field, position } = serde_json::from_value(doc.clone()).ok()?;
        let rest = key.strip_prefix(tenant)?.strip_prefix('/')?;
        let (system, rest) = rest.split_once('/')?;
        let (rest, slot) = rest.rsplit_once('/')?;
        slot.parse::<usize>().ok()?;
        let record_id = rest.strip_suffix(field.as_str())?.strip_suffix('/')?;
        Some(SeenWord {
            system: system.to_string(),
            record_id: record_id.to_string(),
            field,
            entity_id: entity_id?,
            position,
        })
    }
}

pub struct WordIndex;

impl Projection for WordIndex {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::CatchUp
    }

    /// 2: which words are filed (`lookup::words`: with a letter, no email domain, a text of
    /// digits as one word) and a doc of only the field and position. A store of version-1 rows
    /// folds the log again, so no row filed under a word no longer searched stays behind.
    fn version(&self) -> u32 {
        2
    }

    /// Its rows file digests of an entity's words: an erasure deletes them (docs/privacy.md).
    /// Their docs hold no value (record, field, entity), so they are not sealed.
    fn erased_with_entity(&self) -> bool {
        true
    }

    /// Its sort keys end in a digest of values, keyed by the store (docs/privacy.md).
    fn keys_sort_keys(&self) -> bool {
        true
    }

    /// A tenant's rows filed under one digest.
    fn lookups(&self) -> Lookups {
        Lookups {
            tenant_sort_key: true,
            ..Lookups::KEY_ONLY
        }
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        match decode(event) {
            Some(SyncEvent::RecordFetched(f)) if f.found => {
                seen(event, &f.system, &f.record_id, &f.fields)
            }
            Some(SyncEvent::WriteSucceeded(w)) => {
                seen(event, &w.target_system, &w.record_id, &w.fields)
            }
            Some(SyncEvent::RecordDiscovered(d)) => seen(event, &d.system, &d.record_id, &d.fields),
            _ => vec![],
        }
    }
}

/// `record_id` in `system` was seen holding `fields`: every slot of each text (or blank) field,
/// a put for each word and a delete for each slot left over.
fn seen(event: &RecordedEvent, system: &str, record_id: &str, fields: &Fields) -> Vec<RowOp> {
    let tenant = &event.meta.tenant;
    let mut ops = Vec::new();
    for (field, value) in fields {
        let found = match value {
            Value::String(text) => words(text),
            Value::Null => Vec::new(),
            _ => continue,
        };
        for slot in 0..MAX_WORDS {
            let key = key(tenant, system, record_id, field, slot);
            let Some(word) = found.get(slot) else {
                ops.push(RowOp::Delete { key });
                continue;
            };
            let seen = WordDoc {
                field: field.clone(),
                position: event.position,
            };
            let sort_key = term_digest(word);
            ops.push(RowOp::Put(row(
                event,
                key,
                Some(event.stream_id),
                sort_key,
                doc(seen),
            )));
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::RecordFetched;
    use crate::projections::testkit::{ENTITY, recorded};

    fn fetched(fields: Value) -> SyncEvent {
        SyncEvent::RecordFetched(RecordFetched {
            etag: None,
            system: "crm".into(),
            record_id: "c-1".into(),
            found: true,
            fields: serde_json::from_value(fields).unwrap(),
        })
    }

    fn puts(ops: &[RowOp]) -> Vec<(String, String)> {
        ops.iter()
            .filter_map(|op| match op {
                RowOp::Put(r) => Some((r.key.clone(), r.sort_key.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_whole_word_of_a_text_field_is_filed_under_its_digest_not_the_word() {
        let ops = WordIndex.apply(&recorded(3, fetched(json!({"name": "Alan Turing"}))));
        assert_eq!(
            puts(&ops),
            [
                ("acme/crm/c-1/name/0".to_string(), term_digest("alan")),
                ("acme/crm/c-1/name/1".to_string(), term_digest("turing")),
            ]
        );
        let RowOp::Put(first) = &ops[0] else {
            panic!("a put first: {ops:?}")
        };
        assert_eq!(first.entity_id, Some(ENTITY));
        assert!(!first.doc.to_string().to_lowercase().contains("turing"));
        assert!(!first.sort_key.contains("alan"));
    }

    #[test]
    fn a_row_holds_only_the_field_and_position_and_reads_back_whole() {
        let ops = WordIndex.apply(&recorded(3, fetched(json!({"name": "Alan Turing"}))));
        let RowOp::Put(first) = &ops[0] else {
            panic!("a put first: {ops:?}")
        };
        assert_eq!(first.doc, json!({"field": "name", "position": 3}));
        let seen = SeenWord::from_row("acme", &first.key, first.entity_id, &first.doc).unwrap();
        assert_eq!(
            seen,
            SeenWord {
                system: "crm".into(),
                record_id: "c-1".into(),
                field: "name".into(),
                entity_id: ENTITY,
                position: Position(3),
            }
        );
        // A record id may hold slashes: it is what lies between the system and the field.
        let key = key("acme", "erp", "a/b/name/c", "name", 7);
        let odd = SeenWord::from_row("acme", &key, Some(ENTITY), &first.doc).unwrap();
        assert_eq!(
            (odd.system.as_str(), odd.record_id.as_str()),
            ("erp", "a/b/name/c")
        );
        // A row written before the doc was trimmed (all five in it) reads the same.
        let old = json!({"system": "crm", "record_id": "c-1", "field": "name",
            "entity_id": ENTITY, "position": 3});
        assert_eq!(
            SeenWord::from_row("acme", &first.key, first.entity_id, &old),
            Some(seen)
        );
        // Another tenant's key, or a key that is not a word slot, is not a word.
        assert_eq!(
            SeenWord::from_row("other", &first.key, first.entity_id, &first.doc),
            None
        );
        assert_eq!(
            SeenWord::from_row("acme", "acme/crm/c-1/name/x", first.entity_id, &first.doc),
            None
        );
    }

    #[test]
    fn the_slots_a_field_no_longer_fills_are_deleted_so_a_rename_moves_the_record() {
        let ops = WordIndex.apply(&recorded(4, fetched(json!({"name": "Turing"}))));
        let deleted: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                RowOp::Delete { key } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deleted.len(), MAX_WORDS - 1);
        assert_eq!(deleted[0], "acme/crm/c-1/name/1");
        assert_eq!(
            puts(&ops),
            [("acme/crm/c-1/name/0".to_string(), term_digest("turing"))]
        );
    }

    #[test]
    fn a_blank_field_loses_its_rows_and_a_field_that_is_not_text_is_not_filed() {
        let ops = WordIndex.apply(&recorded(5, fetched(json!({"name": null, "age": 41}))));
        assert_eq!(ops.len(), MAX_WORDS);
        assert!(
            ops.iter()
                .all(|op| matches!(op, RowOp::Delete { key } if key.contains("/name/")))
        );
        assert_eq!(
            WordIndex.apply(&recorded(
                6,
                SyncEvent::RecordFetched(RecordFetched {
                    etag: None,
                    system: "crm".into(),
                    record_id: "c-1".into(),
                    found: false,
                    fields: Fields::default(),
                })
            )),
            vec![]
        );
    }
}
