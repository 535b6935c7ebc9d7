use serde_json::json;

use super::*;
use crate::events::{
    Action, Basis, ChangeObserved, DeadLetterRetried, DeadLettered, DecisionKind, DecisionMade,
    Fields, RedirectedTo, ResyncRequested, WriteFailed, WriteOp, WriteSucceeded,
};
use crate::projection::Row;
use crate::projections::testkit::{ENTITY, at, id, recorded};

const REQUEST: Uuid = Uuid::from_u128(0xaa);

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

fn decision(trigger_id: Option<Uuid>) -> SyncEvent {
    SyncEvent::DecisionMade(DecisionMade {
        trigger_id,
        kind: DecisionKind::Create,
        source_system: "crm".into(),
        target_system: "erp".into(),
        basis: Basis::NoRecordInTarget {
            record_id: "c-1".into(),
        },
        diff: vec![],
        request_id: Some(REQUEST),
        write: None,
    })
}

fn requested() -> WriteRequested {
    WriteRequested {
        if_match: None,
        request_id: REQUEST,
        target_system: "erp".into(),
        collection: "customers".into(),
        op: WriteOp::Create,
        record_id: None,
        fields: Fields::from([("email".to_string(), json!("a@b.c"))]),
        match_fingerprint: Some("f".into()),
    }
}

fn failed(will_retry: bool) -> SyncEvent {
    SyncEvent::WriteFailed(WriteFailed {
        request_id: REQUEST,
        target_system: "erp".into(),
        status: Some(503),
        body: Some("busy".into()),
        will_retry,
        attempt: 2,
        retry_at: will_retry.then(|| at(100)),
    })
}

fn put(ops: &[RowOp]) -> &Row {
    match ops {
        [RowOp::Put(row)] => row,
        other => panic!("expected one Put, got {other:?}"),
    }
}

#[test]
fn an_observed_change_is_queued_as_a_trigger_due_when_recorded() {
    let ops = PendingQueue.apply(&recorded(3, observed()));
    let expected = Row {
        key: format!("trigger/{}", id(3)),
        tenant: "acme".into(),
        entity_id: Some(ENTITY),
        sort_key: "2026-11-21T10:00:03.123456Z/00000000000000000003".into(),
        doc: json!({
            "kind": "ChangeObserved", "entity_id": ENTITY, "system": "crm", "record_id": "c-42",
            "trigger_id": id(3), "dead_letter_id": null, "due_at": at(3), "position": 3,
        }),
        n: 0,
    };
    assert_eq!(ops, vec![RowOp::Put(expected)]);
}

#[test]
fn resyncs_and_dead_letter_retries_are_triggers_too() {
    let resync = ResyncRequested {
        by: "admin".into(),
        system: "erp".into(),
        record_id: "E7".into(),
    };
    let row = put(&PendingQueue.apply(&recorded(4, SyncEvent::ResyncRequested(resync)))).clone();
    assert_eq!(row.key, trigger_key(id(4)));
    assert_eq!(
        (row.doc["kind"].as_str(), row.doc["record_id"].as_str()),
        (Some("ResyncRequested"), Some("E7"))
    );

    let retried = DeadLetterRetried {
        by: "admin".into(),
        dead_letter_id: id(2),
        request: None,
    };
    let row = put(&PendingQueue.apply(&recorded(5, SyncEvent::DeadLetterRetried(retried)))).clone();
    let trigger: Trigger = serde_json::from_value(row.doc).unwrap();
    assert_eq!(
        (
            trigger.kind.as_str(),
            trigger.dead_letter_id,
            trigger.system
        ),
        ("DeadLetterRetried", Some(id(2)), None)
    );
}

#[test]
fn a_decision_or_a_redirect_settles_its_trigger() {
    assert_eq!(
        PendingQueue.apply(&recorded(6, decision(Some(id(3))))),
        vec![RowOp::Delete {
            key: trigger_key(id(3))
        }]
    );
    assert_eq!(PendingQueue.apply(&recorded(6, decision(None))), vec![]);
    let redirect = RedirectedTo {
        trigger_id: Some(id(3)),
        entity_id: Uuid::from_u128(0xe2),
        system: "erp".into(),
        record_id: "E7".into(),
        basis: Basis::EchoOfCreate {
            entity_id: Uuid::from_u128(0xe2),
            request_id: Uuid::from_u128(0x77),
        },
    };
    assert_eq!(
        PendingQueue.apply(&recorded(7, SyncEvent::RedirectedTo(redirect))),
        vec![RowOp::Delete {
            key: trigger_key(id(3))
        }]
    );
}

#[test]
fn a_requested_write_is_owed_with_its_request_until_it_succeeds() {
    let ops = PendingQueue.apply(&recorded(8, SyncEvent::WriteRequested(requested())));
    let row = put(&ops);
    assert_eq!(row.key, format!("write/{REQUEST}"));
    assert_eq!(
        row.sort_key,
        "2026-11-21T10:00:08.123456Z/00000000000000000008"
    );
    let write: PendingWrite = serde_json::from_value(row.doc.clone()).unwrap();
    assert_eq!((write.attempt, write.request), (0, Some(requested())));

    let succeeded = SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id: REQUEST,
        target_system: "erp".into(),
        record_id: "E7".into(),
        fields: Fields::new(),
        resolution: crate::events::Resolution::Response,
    });
    assert_eq!(
        PendingQueue.apply(&recorded(9, succeeded)),
        vec![RowOp::Delete {
            key: write_key(REQUEST)
        }]
    );
}

#[test]
fn a_failed_write_that_will_retry_is_requeued_for_its_retry_time() {
    let ops = PendingQueue.apply(&recorded(9, failed(true)));
    let row = put(&ops);
    assert_eq!(row.key, write_key(REQUEST));
    assert_eq!(
        row.sort_key,
        "2026-11-21T10:01:40.123456Z/00000000000000000009"
    );
    let write: PendingWrite = serde_json::from_value(row.doc.clone()).unwrap();
    assert_eq!(
        (write.attempt, write.due_at, write.last_status),
        (2, at(100), Some(503))
    );
    // The body ("busy") stays in the sealed event: this unsealed row never copies it.
    assert!(!row.doc.to_string().contains("busy"), "{}", row.doc);
}

#[test]
fn a_write_that_failed_for_good_or_was_dead_lettered_is_no_longer_owed() {
    let delete = vec![RowOp::Delete {
        key: write_key(REQUEST),
    }];
    assert_eq!(PendingQueue.apply(&recorded(9, failed(false))), delete);
    let letter = DeadLettered {
        request_id: Some(REQUEST),
        target_system: Some("erp".into()),
        reason: "rejected".into(),
        request: crate::events::refused_update(REQUEST),
        status: Some(422),
        body: Some(String::new()),
    };
    assert_eq!(
        PendingQueue.apply(&recorded(10, SyncEvent::DeadLettered(letter.clone()))),
        delete
    );
    let letter = DeadLettered {
        request_id: None,
        ..letter
    };
    assert_eq!(
        PendingQueue.apply(&recorded(10, SyncEvent::DeadLettered(letter))),
        vec![]
    );
}

#[test]
fn the_due_bound_orders_after_every_row_due_at_that_time_and_before_later_ones() {
    let now = at(50);
    let bound = due_sort_key(now);
    let due_now = crate::projections::time_position_key(now, Position(i64::MAX));
    let later =
        crate::projections::time_position_key(now + chrono::Duration::microseconds(1), Position(1));
    let earlier = crate::projections::time_position_key(at(49), Position(i64::MAX));
    assert!(
        earlier < bound && due_now <= bound && bound < later,
        "{earlier} {due_now} {bound} {later}"
    );
}
