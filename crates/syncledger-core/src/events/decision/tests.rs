//! A decision carrying its write, stored and read; and the proof that old logs read the same:
//! a version-2 decision followed by its `WriteRequested` folds to the same entity state and
//! projection rows as a version-3 decision carrying the request.

use serde_json::json;

use super::*;
use crate::entity::EntityState;
use crate::events::{Action, ChangeObserved};
use crate::log::RecordedEvent;
use crate::projection::{Projection, RowOp};
use crate::projections::pending_queue::PendingQueue;
use crate::projections::round_trip_context::RoundTripContext;
use crate::projections::sync_stats::SyncStats;
use crate::projections::testkit::{ENTITY, id, recorded};

fn update() -> DecisionMade {
    DecisionMade {
        trigger_id: Some(Uuid::from_u128(1)),
        kind: DecisionKind::Update,
        source_system: "crm".into(),
        target_system: "erp".into(),
        basis: Basis::InSync,
        diff: vec![],
        request_id: None,
        write: None,
    }
}

fn request() -> WriteRequested {
    WriteRequested {
        request_id: Uuid::from_u128(2),
        target_system: "erp".into(),
        collection: "customers".into(),
        op: WriteOp::Update,
        record_id: Some("E-1".into()),
        fields: Fields::from([("email".to_string(), json!("a@b.c"))]),
        match_fingerprint: None,
        if_match: Some("\"v3\"".into()),
    }
}

#[test]
fn a_decision_stores_its_write_without_repeating_its_id_and_target() {
    let decision = update().asking(request());
    let stored = serde_json::to_value(&decision).unwrap();
    assert_eq!(stored["request_id"], json!(Uuid::from_u128(2)));
    assert_eq!(
        stored["write"],
        json!({"op": "update", "collection": "customers", "record_id": "E-1",
               "fields": {"email": "a@b.c"}, "match_fingerprint": null, "if_match": "\"v3\""})
    );
    let read: DecisionMade = serde_json::from_value(stored).unwrap();
    assert_eq!(read, decision);
    assert_eq!(
        write_request(&SyncEvent::DecisionMade(read)),
        Some(&request())
    );
}

#[test]
fn a_write_of_the_diffs_values_stores_no_fields_and_reads_them_back_from_the_diff() {
    let (decision, write) = create();
    let decision = decision.asking(write);
    let stored = serde_json::to_value(&decision).unwrap();
    assert_eq!(stored["write"].get("fields"), None, "{stored}");
    assert_eq!(stored["write"]["match_fingerprint"], "keys:abc");
    let read: DecisionMade = serde_json::from_value(stored).unwrap();
    assert_eq!(read, decision);
}

#[test]
fn a_version_2_decision_reads_without_a_write_and_stores_as_it_was() {
    let old = json!({"trigger_id": null, "kind": "skip", "source_system": "crm",
        "target_system": "erp", "basis": {"rule": "in_sync"}, "diff": [], "request_id": null});
    let read: DecisionMade = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(read.write, None);
    assert_eq!(serde_json::to_value(&read).unwrap(), old);
}

#[test]
fn a_write_without_a_request_id_does_not_read() {
    let mut stored = serde_json::to_value(update().asking(request())).unwrap();
    stored["request_id"] = json!(null);
    assert!(serde_json::from_value::<DecisionMade>(stored).is_err());
}

fn observed() -> SyncEvent {
    SyncEvent::ChangeObserved(ChangeObserved {
        entity_type: "customer".into(),
        system: "crm".into(),
        collection: "contacts".into(),
        record_id: "c-1".into(),
        action: Action::Created,
        webhook_event_id: "wh-1".into(),
        occurred_at: crate::projections::testkit::at(0),
    })
}

fn create() -> (DecisionMade, WriteRequested) {
    let decision = DecisionMade {
        trigger_id: Some(id(1)),
        kind: DecisionKind::Create,
        source_system: "crm".into(),
        target_system: "erp".into(),
        basis: Basis::NoRecordInTarget {
            record_id: "c-1".into(),
        },
        diff: vec![FieldChange {
            field: "email".into(),
            before: json!(null),
            after: json!("a@b.c"),
        }],
        request_id: Some(Uuid::from_u128(3)),
        write: None,
    };
    let write = WriteRequested {
        request_id: Uuid::from_u128(3),
        target_system: "erp".into(),
        collection: "customers".into(),
        op: WriteOp::Create,
        record_id: None,
        fields: Fields::from([("email".to_string(), json!("a@b.c"))]),
        match_fingerprint: Some("keys:abc".into()),
        if_match: None,
    };
    (decision, write)
}

/// The change, its decision and its create as an older build recorded them (positions 1-3:
/// the decision at version 2, its `WriteRequested` after it), and as this build does (the
/// decision carrying the create, at the position the request had).
fn both_forms() -> (Vec<RecordedEvent>, Vec<RecordedEvent>) {
    let (decision, write) = create();
    let mut old_decision = recorded(2, SyncEvent::DecisionMade(decision.clone()));
    old_decision.schema_version = 2;
    let old_decision = crate::events::upcasters().apply(old_decision);
    let old = vec![
        recorded(1, observed()),
        old_decision,
        recorded(3, SyncEvent::WriteRequested(write.clone())),
    ];
    let new = vec![
        recorded(1, observed()),
        recorded(3, SyncEvent::DecisionMade(decision.asking(write))),
    ];
    (old, new)
}

fn rows(projection: &dyn Projection, events: &[RecordedEvent]) -> Vec<RowOp> {
    events.iter().flat_map(|e| projection.apply(e)).collect()
}

#[test]
fn an_old_decision_and_its_write_request_fold_as_a_decision_carrying_the_request() {
    let (old, new) = both_forms();
    let state = EntityState::fold(ENTITY, &new);
    assert_eq!(state.pending_writes.len(), 1);
    assert_eq!(
        state.pending_writes[&Uuid::from_u128(3)].requested_event_id,
        id(3)
    );
    assert!(state.open_triggers.is_empty());
    assert_eq!(EntityState::fold(ENTITY, &old), state);
}

#[test]
fn an_old_decision_and_its_write_request_give_the_same_projection_rows() {
    let (old, new) = both_forms();
    let queue = rows(&PendingQueue, &new);
    assert!(
        queue.iter().any(
            |op| matches!(op, RowOp::Put(row) if row.key == format!("write/{}", Uuid::from_u128(3)))
        ),
        "{queue:?}"
    );
    assert_eq!(rows(&PendingQueue, &old), queue);
    let round_trip = RoundTripContext::new(chrono::Duration::minutes(10));
    let creates = rows(&round_trip, &new);
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(rows(&round_trip, &old), creates);
    assert_eq!(rows(&SyncStats, &old), rows(&SyncStats, &new));
}

#[test]
fn the_write_request_is_read_from_either_form() {
    let (old, new) = both_forms();
    let decode = |e: &RecordedEvent| SyncEvent::from_recorded(e).unwrap();
    let requests = |events: &[RecordedEvent]| -> Vec<WriteRequested> {
        events
            .iter()
            .map(decode)
            .filter_map(|e| write_request(&e).cloned())
            .collect()
    };
    assert_eq!(requests(&old), vec![create().1]);
    assert_eq!(requests(&new), requests(&old));
}
