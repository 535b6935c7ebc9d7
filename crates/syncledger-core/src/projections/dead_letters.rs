//! `dead_letters`: work that will not succeed by retrying, kept for a person to look at.
//!
//! One row per `DeadLettered` event, keyed by that event's id (the id `retryDeadLetter` takes),
//! listed oldest first. A `DeadLetterRetried` removes the letter: the retry is then ordinary
//! pending work, and if it fails for good again it becomes a new letter. A `DeadLetterDiscarded`
//! (a person set it aside, with a reason) removes it too, and nothing is written.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, doc, row, time_position_key};
use crate::events::{DeadLettered, SyncEvent};
use crate::log::{Position, RecordedEvent};
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "dead_letters";

pub fn key(dead_letter_id: Uuid) -> String {
    dead_letter_id.to_string()
}

/// A letter's doc: the `DeadLettered` payload and where it sits in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The `DeadLettered` event's id.
    pub dead_letter_id: Uuid,
    pub entity_id: Uuid,
    pub position: Position,
    pub dead_lettered_at: DateTime<Utc>,
    #[serde(flatten)]
    pub letter: DeadLettered,
}

pub struct DeadLetters;

impl Projection for DeadLetters {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::CatchUp
    }

    fn holds_values(&self) -> bool {
        true
    }

    /// Every lookup, and the open letters per tenant (`syncStatus`) from the kept count.
    fn lookups(&self) -> Lookups {
        Lookups {
            counted: true,
            ..Lookups::ALL
        }
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        match decode(event) {
            Some(SyncEvent::DeadLettered(letter)) => {
                let dead = DeadLetter {
                    dead_letter_id: event.event_id,
                    entity_id: event.stream_id,
                    position: event.position,
                    dead_lettered_at: event.recorded_at,
                    letter,
                };
                let sort_key = time_position_key(event.recorded_at, event.position);
                let row = row(
                    event,
                    key(event.event_id),
                    Some(event.stream_id),
                    sort_key,
                    doc(dead),
                );
                vec![RowOp::Put(row)]
            }
            Some(SyncEvent::DeadLetterRetried(retried)) => {
                vec![RowOp::Delete {
                    key: key(retried.dead_letter_id),
                }]
            }
            Some(SyncEvent::DeadLetterDiscarded(discarded)) => {
                vec![RowOp::Delete {
                    key: key(discarded.dead_letter_id),
                }]
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::{DeadLetterDiscarded, DeadLetterRetried, refused_update};
    use crate::projection::Row;
    use crate::projections::testkit::{ENTITY, at, id, recorded};

    #[test]
    fn a_dead_letter_is_kept_with_its_payload_and_place_in_the_log() {
        let request_id = Uuid::from_u128(0xaa);
        let letter = DeadLettered {
            request_id: Some(request_id),
            target_system: Some("erp".into()),
            reason: "rejected by erp".into(),
            request: refused_update(request_id),
            status: Some(422),
            body: Some("{\"error\":\"invalid email\"}".into()),
        };
        let ops = DeadLetters.apply(&recorded(12, SyncEvent::DeadLettered(letter)));
        let expected = Row {
            key: id(12).to_string(),
            tenant: "acme".into(),
            entity_id: Some(ENTITY),
            sort_key: "2026-11-21T10:00:12.123456Z/00000000000000000012".into(),
            doc: json!({
                "dead_letter_id": id(12), "entity_id": ENTITY, "position": 12,
                "dead_lettered_at": at(12), "request_id": request_id, "target_system": "erp",
                "reason": "rejected by erp", "status": 422,
                "request": {"kind": "write", "request_id": request_id, "target_system": "erp",
                    "collection": "customers", "op": "update", "record_id": "e-1",
                    "fields": {"email": "a@b.c"}, "match_fingerprint": null},
                "body": "{\"error\":\"invalid email\"}",
            }),
            n: 0,
        };
        assert_eq!(ops, vec![RowOp::Put(expected.clone())]);
        let read: DeadLetter = serde_json::from_value(expected.doc).unwrap();
        assert_eq!(read.letter.status, Some(422));
        assert_eq!(read.letter.request, refused_update(request_id));
    }

    #[test]
    fn retrying_a_dead_letter_removes_it() {
        let retried = DeadLetterRetried {
            by: "admin".into(),
            dead_letter_id: id(12),
            request: None,
        };
        let ops = DeadLetters.apply(&recorded(20, SyncEvent::DeadLetterRetried(retried)));
        assert_eq!(
            ops,
            vec![RowOp::Delete {
                key: id(12).to_string()
            }]
        );
    }

    #[test]
    fn discarding_a_dead_letter_removes_it() {
        let discarded = DeadLetterDiscarded {
            by: "admin".into(),
            dead_letter_id: id(12),
            reason: "fixed by hand in the erp".into(),
        };
        let ops = DeadLetters.apply(&recorded(21, SyncEvent::DeadLetterDiscarded(discarded)));
        assert_eq!(
            ops,
            vec![RowOp::Delete {
                key: id(12).to_string()
            }]
        );
    }

    /// A row a version-1 build wrote (the request untyped, an empty system) still reads, as
    /// the upcast event would: the list keeps answering until the projection is rebuilt.
    #[test]
    fn a_row_written_before_typed_requests_still_reads() {
        let doc = json!({
            "dead_letter_id": id(12), "entity_id": ENTITY, "position": 12,
            "dead_lettered_at": at(12), "request_id": null, "target_system": "",
            "reason": "gave up", "status": null, "body": "",
            "request": {"trigger_id": id(3), "system": "crm", "record_id": "c-1"},
        });
        let read: DeadLetter = serde_json::from_value(doc).unwrap();
        assert_eq!(
            read.letter.request,
            crate::events::DeadLetterRequest::Work {
                trigger_id: id(3),
                record: Some(crate::events::RecordRef {
                    system: "crm".into(),
                    record_id: "c-1".into()
                }),
            }
        );
    }
}
