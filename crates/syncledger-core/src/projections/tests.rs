//! The six projections together: folding scripted histories through an in-memory table model.

use std::collections::BTreeMap;

use serde_json::json;
use uuid::Uuid;

use super::testkit::{ENTITY, at, id, recorded};
use super::*;
use crate::events::{
    Action, Basis, ChangeObserved, DeadLetterRetried, DeadLettered, DecisionKind, DecisionMade,
    Fields, RecordFetched, RecordLinked, Resolution, WriteFailed, WriteOp, WriteRequested,
    WriteSucceeded,
};
use crate::projection::{Mode, RowOp};

const REQUEST: Uuid = Uuid::from_u128(0xaa);

/// What a store does with row operations, one table per projection.
#[derive(Default)]
struct Tables(BTreeMap<&'static str, BTreeMap<String, Row>>);

impl Tables {
    fn fold(events: &[RecordedEvent]) -> Tables {
        let mut tables = Tables::default();
        let projections = all(chrono::Duration::seconds(600));
        for event in events {
            for projection in &projections {
                let table = tables.0.entry(projection.name()).or_default();
                for op in projection.apply(event) {
                    match op {
                        RowOp::Put(row) | RowOp::Claim(row) => {
                            table.insert(row.key.clone(), row);
                        }
                        RowOp::PutIfAbsent(row) => {
                            table.entry(row.key.clone()).or_insert(row);
                        }
                        RowOp::Delete { key } => {
                            table.remove(&key);
                        }
                        RowOp::Add(row) => {
                            table
                                .entry(row.key.clone())
                                .and_modify(|r| r.n += row.n)
                                .or_insert(row);
                        }
                    }
                }
            }
        }
        tables
    }

    fn keys(&self, table: &str) -> Vec<String> {
        self.0
            .get(table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn counters(&self) -> BTreeMap<String, i64> {
        self.0[sync_stats::NAME]
            .values()
            .map(|r| (r.key.clone(), r.n))
            .collect()
    }
}

fn observed() -> SyncEvent {
    SyncEvent::ChangeObserved(ChangeObserved {
        entity_type: "customer".into(),
        system: "crm".into(),
        collection: "contacts".into(),
        record_id: "c-42".into(),
        action: Action::Created,
        webhook_event_id: "e-1".into(),
        occurred_at: at(0),
    })
}

fn linked(system: &str, collection: &str, record_id: &str) -> SyncEvent {
    SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: system.into(),
        collection: collection.into(),
        record_id: record_id.into(),
        reason: "test".into(),
    })
}

fn decided(trigger: Uuid, kind: DecisionKind) -> SyncEvent {
    SyncEvent::DecisionMade(DecisionMade {
        trigger_id: Some(trigger),
        kind,
        source_system: "crm".into(),
        target_system: "erp".into(),
        basis: Basis::InSync,
        diff: vec![],
        request_id: Some(REQUEST),
        write: None,
    })
}

fn email() -> Fields {
    Fields::from([("email".to_string(), json!("a@b.c"))])
}

fn requested(op: WriteOp) -> SyncEvent {
    SyncEvent::WriteRequested(WriteRequested {
        if_match: None,
        request_id: REQUEST,
        target_system: "erp".into(),
        collection: "customers".into(),
        op,
        record_id: (op != WriteOp::Create).then(|| "E7".to_string()),
        fields: email(),
        match_fingerprint: Some("f".into()),
    })
}

fn failed(will_retry: bool, attempt: u32) -> SyncEvent {
    SyncEvent::WriteFailed(WriteFailed {
        request_id: REQUEST,
        target_system: "erp".into(),
        status: Some(if will_retry { 503 } else { 422 }),
        body: Some("no".into()),
        will_retry,
        attempt,
        retry_at: will_retry.then(|| at(60)),
    })
}

#[test]
fn all_returns_the_projections_in_contract_order_with_their_modes() {
    let projections = all(chrono::Duration::seconds(1));
    let names: Vec<_> = projections.iter().map(|p| (p.name(), p.mode())).collect();
    use Mode::{CatchUp, Inline};
    assert_eq!(
        names,
        vec![
            ("id_mappings", Inline),
            ("pending_queue", Inline),
            ("round_trip_context", Inline),
            ("webhook_receipts", Inline),
            ("match_index", Inline),
            ("entity_state", CatchUp),
            ("dead_letters", CatchUp),
            ("sync_stats", CatchUp),
            ("conflicts", CatchUp),
            ("word_index", CatchUp),
        ]
    );
    assert_eq!(names.iter().map(|(n, _)| *n).collect::<Vec<_>>(), NAMES);
    assert_eq!(
        by_name("sync_stats", chrono::Duration::seconds(1)).map(|p| p.name()),
        Some("sync_stats")
    );
    assert!(by_name("nope", chrono::Duration::seconds(1)).is_none());
}

#[test]
fn events_that_do_not_decode_imply_no_rows() {
    let mut garbled = recorded(1, observed());
    garbled.payload = json!({"system": 42});
    let mut unknown = recorded(2, observed());
    unknown.event_type = "SomethingNew".into();
    for projection in all(chrono::Duration::seconds(1)) {
        assert_eq!(projection.apply(&garbled), vec![], "{}", projection.name());
        assert_eq!(projection.apply(&unknown), vec![], "{}", projection.name());
    }
}

#[test]
fn a_synced_create_leaves_the_queue_empty_and_both_records_mapped() {
    let history = [
        recorded(1, observed()),
        recorded(2, linked("crm", "contacts", "c-42")),
        recorded(
            3,
            SyncEvent::RecordFetched(RecordFetched {
                etag: None,
                system: "crm".into(),
                record_id: "c-42".into(),
                found: true,
                fields: email(),
            }),
        ),
        recorded(4, decided(id(1), DecisionKind::Create)),
        recorded(5, requested(WriteOp::Create)),
        recorded(
            6,
            SyncEvent::WriteSucceeded(WriteSucceeded {
                etag: None,
                request_id: REQUEST,
                target_system: "erp".into(),
                record_id: "E7".into(),
                fields: email(),
                resolution: Resolution::Response,
            }),
        ),
        recorded(7, linked("erp", "customers", "E7")),
    ];
    // Midway, the observation and the write are both owed.
    let midway = Tables::fold(&history[..5]);
    assert_eq!(
        midway.keys(pending_queue::NAME),
        vec![format!("write/{REQUEST}")]
    );
    let early = Tables::fold(&history[..3]);
    assert_eq!(
        early.keys(pending_queue::NAME),
        vec![format!("trigger/{}", id(1))]
    );

    let done = Tables::fold(&history);
    assert_eq!(done.keys(pending_queue::NAME), Vec::<String>::new());
    assert_eq!(
        done.keys(id_mappings::NAME),
        vec!["acme/crm/c-42", "acme/erp/E7"]
    );
    assert!(
        done.0[id_mappings::NAME]
            .values()
            .all(|r| r.entity_id == Some(ENTITY))
    );
    assert_eq!(done.keys(entity_state::NAME), vec![ENTITY.to_string()]);
    let header = &done.0[entity_state::NAME][&ENTITY.to_string()];
    assert_eq!(
        header.doc["first_seen"],
        json!(at(1)),
        "the later link must not move first_seen"
    );
    assert_eq!(
        done.keys(round_trip_context::NAME),
        vec![round_trip_context::create_key(REQUEST)]
    );
    assert_eq!(done.keys(dead_letters::NAME), Vec::<String>::new());
    let expected: BTreeMap<String, i64> = [
        ("acme/decision/create", 1),
        ("acme/observed", 1),
        ("acme/write/requested", 1),
        ("acme/write/succeeded", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(done.counters(), expected);
}

#[test]
fn a_write_retried_then_dead_lettered_then_retried_by_a_person_ends_settled() {
    let history = [
        recorded(1, observed()),
        recorded(2, decided(id(1), DecisionKind::Update)),
        recorded(3, requested(WriteOp::Update)),
        recorded(4, failed(true, 1)),
        recorded(5, failed(false, 2)),
        recorded(
            6,
            SyncEvent::DeadLettered(DeadLettered {
                request_id: Some(REQUEST),
                target_system: Some("erp".into()),
                reason: "rejected".into(),
                request: crate::events::refused_update(REQUEST),
                status: Some(422),
                body: Some("no".into()),
            }),
        ),
        recorded(
            7,
            SyncEvent::DeadLetterRetried(DeadLetterRetried {
                by: "admin".into(),
                dead_letter_id: id(6),
                request: None,
            }),
        ),
        recorded(8, decided(id(7), DecisionKind::Update)),
    ];
    let waiting = Tables::fold(&history[..4]);
    let row = &waiting.0[pending_queue::NAME][&pending_queue::write_key(REQUEST)];
    assert_eq!(row.sort_key, time_position_key(at(60), Position(4)));
    assert!(row.sort_key > pending_queue::due_sort_key(at(59)));
    assert!(row.sort_key <= pending_queue::due_sort_key(at(60)));

    let lettered = Tables::fold(&history[..6]);
    assert_eq!(lettered.keys(pending_queue::NAME), Vec::<String>::new());
    assert_eq!(lettered.keys(dead_letters::NAME), vec![id(6).to_string()]);

    let retried = Tables::fold(&history[..7]);
    assert_eq!(retried.keys(dead_letters::NAME), Vec::<String>::new());
    assert_eq!(
        retried.keys(pending_queue::NAME),
        vec![format!("trigger/{}", id(7))]
    );

    let done = Tables::fold(&history);
    assert_eq!(done.keys(pending_queue::NAME), Vec::<String>::new());
    let counters = done.counters();
    assert_eq!(
        (
            counters["acme/write/failed"],
            counters["acme/retries"],
            counters["acme/dead_letters"]
        ),
        (2, 1, 1)
    );
    assert_eq!(counters["acme/decision/update"], 2);
}
