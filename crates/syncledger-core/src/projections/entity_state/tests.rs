use serde_json::json;

use super::*;
use crate::events::{
    Action, ChangeObserved, Fields, RecordFetched, RecordLinked, RecordUnlinked, Resolution,
    WriteSucceeded,
};
use crate::projection::Row;
use crate::projections::testkit::{ENTITY, at, recorded};

fn fields() -> Fields {
    Fields::from([
        ("email".to_string(), json!("a@b.c")),
        ("phone".to_string(), json!(null)),
    ])
}

fn fetched(found: bool) -> SyncEvent {
    SyncEvent::RecordFetched(RecordFetched {
        etag: None,
        system: "crm".into(),
        record_id: "c-42".into(),
        found,
        fields: if found { fields() } else { Fields::new() },
    })
}

#[test]
fn the_first_mention_of_an_entity_creates_its_row_only_if_absent() {
    let observed = SyncEvent::ChangeObserved(ChangeObserved {
        entity_type: "customer".into(),
        system: "crm".into(),
        collection: "contacts".into(),
        record_id: "c-42".into(),
        action: Action::Created,
        webhook_event_id: "e-1".into(),
        occurred_at: at(0),
    });
    let expected = RowOp::PutIfAbsent(Row {
        key: ENTITY.to_string(),
        tenant: "acme".into(),
        entity_id: Some(ENTITY),
        sort_key: format!("customer/{ENTITY}"),
        doc: json!({"entity_id": ENTITY, "entity_type": "customer", "tenant": "acme", "first_seen": at(1)}),
        n: 0,
    });
    assert_eq!(EntityState.apply(&recorded(1, observed)), vec![expected]);

    let linked = SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: "erp".into(),
        collection: "customers".into(),
        record_id: "E7".into(),
        reason: "match keys".into(),
    });
    let ops = EntityState.apply(&recorded(9, linked));
    assert!(matches!(&ops[..], [RowOp::PutIfAbsent(row)] if row.key == ENTITY.to_string()));
}

#[test]
fn fetches_writes_and_unlinks_keep_no_copy_of_the_record() {
    let succeeded = SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id: Uuid::from_u128(0xaa),
        target_system: "erp".into(),
        record_id: "E7".into(),
        fields: fields(),
        resolution: Resolution::Response,
    });
    let unlinked = SyncEvent::RecordUnlinked(RecordUnlinked {
        system: "crm".into(),
        record_id: "c-42".into(),
        reason: "deleted".into(),
    });
    for event in [fetched(true), fetched(false), succeeded, unlinked] {
        assert_eq!(EntityState.apply(&recorded(2, event)), vec![]);
    }
}

#[test]
fn its_rows_are_of_version_2() {
    assert_eq!(EntityState.version(), 2);
}
