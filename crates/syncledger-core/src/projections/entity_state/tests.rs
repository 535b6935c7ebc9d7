use serde_json::json;

use super::*;
use crate::events::{
    Action, ChangeObserved, RecordFetched, RecordLinked, RecordUnlinked, Resolution, WriteSucceeded,
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
fn a_fetched_record_replaces_the_systems_state() {
    let expected = RowOp::Put(Row {
        key: format!("{ENTITY}/crm"),
        tenant: "acme".into(),
        entity_id: Some(ENTITY),
        sort_key: format!("{ENTITY}/crm"),
        doc: json!({
            "system": "crm", "record_id": "c-42", "fields": {"email": "a@b.c", "phone": null},
            "at": at(2), "position": 2,
        }),
        n: 0,
    });
    assert_eq!(
        EntityState.apply(&recorded(2, fetched(true))),
        vec![expected]
    );
}

#[test]
fn a_successful_write_records_what_the_target_now_holds() {
    let succeeded = SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id: Uuid::from_u128(0xaa),
        target_system: "erp".into(),
        record_id: "E7".into(),
        fields: fields(),
        resolution: Resolution::Response,
    });
    let ops = EntityState.apply(&recorded(4, succeeded));
    let [RowOp::Put(row)] = &ops[..] else {
        panic!("expected one Put, got {ops:?}")
    };
    assert_eq!(row.key, record_key(ENTITY, "erp"));
    let state: RecordState = serde_json::from_value(row.doc.clone()).unwrap();
    assert_eq!((state.record_id.as_str(), state.fields), ("E7", fields()));
}

#[test]
fn a_record_gone_or_unlinked_is_removed_from_the_state() {
    let delete = vec![RowOp::Delete {
        key: format!("{ENTITY}/crm"),
    }];
    assert_eq!(EntityState.apply(&recorded(5, fetched(false))), delete);
    let unlinked = SyncEvent::RecordUnlinked(RecordUnlinked {
        system: "crm".into(),
        record_id: "c-42".into(),
        reason: "deleted".into(),
    });
    assert_eq!(EntityState.apply(&recorded(6, unlinked)), delete);
}
