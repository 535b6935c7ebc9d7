use serde_json::json;

use super::*;
use crate::events::{Fields, WriteRequested};
use crate::projection::Row;
use crate::projections::testkit::{ENTITY, at, recorded};

const REQUEST: Uuid = Uuid::from_u128(0xaa);

fn write(op: WriteOp, fingerprint: Option<&str>, fields: Fields) -> SyncEvent {
    SyncEvent::WriteRequested(WriteRequested {
        request_id: REQUEST,
        target_system: "erp".into(),
        collection: "customers".into(),
        op,
        record_id: (op != WriteOp::Create).then(|| "E7".to_string()),
        fields,
        match_fingerprint: fingerprint.map(str::to_string),
    })
}

fn context() -> RoundTripContext {
    RoundTripContext::new(chrono::Duration::seconds(600))
}

#[test]
fn a_create_with_a_fingerprint_is_remembered_by_target_and_fingerprint() {
    let fields = Fields::from([("email".to_string(), json!("a@b.c"))]);
    let ops = context().apply(&recorded(5, write(WriteOp::Create, Some("f00d"), fields)));
    let email = json!("a@b.c");
    let expected = vec![
        RowOp::Put(Row {
            key: format!("create/{REQUEST}"),
            tenant: "acme".into(),
            entity_id: Some(ENTITY),
            sort_key: "erp/f00d".into(),
            doc: json!({
                "request_id": REQUEST, "entity_id": ENTITY, "target_system": "erp",
                "fields": {"email": "a@b.c"}, "fingerprint": "f00d",
                "expires_at": at(5) + chrono::Duration::seconds(600),
            }),
            n: 0,
        }),
        RowOp::Put(Row {
            key: format!("wrote/{ENTITY}/erp/email/{}", value_hash(&email)),
            tenant: "acme".into(),
            entity_id: Some(ENTITY),
            sort_key: "erp/email".into(),
            doc: json!({
                "field": "email", "value": "a@b.c", "target_system": "erp", "request_id": REQUEST,
                "written_at": at(5), "expires_at": at(5) + chrono::Duration::seconds(600),
            }),
            n: 0,
        }),
    ];
    assert_eq!(ops, expected);
    assert_eq!(value_hash(&email).len(), 16);
}

#[test]
fn a_create_without_a_fingerprint_only_remembers_the_values_written() {
    let fields = Fields::from([("name".to_string(), json!("Ann"))]);
    let ops = context().apply(&recorded(5, write(WriteOp::Create, None, fields)));
    assert_eq!(ops.len(), 1);
    assert!(
        matches!(&ops[0], RowOp::Put(row) if row.key.starts_with(&wrote_prefix(ENTITY, "erp")))
    );
}

#[test]
fn an_update_remembers_every_value_written_including_a_clear() {
    let fields = Fields::from([
        ("phone".to_string(), json!(null)),
        ("name".to_string(), json!("Ann")),
    ]);
    let ops = context().apply(&recorded(
        6,
        write(WriteOp::Update, Some("ignored"), fields),
    ));
    let keys: Vec<&str> = ops
        .iter()
        .map(|op| match op {
            RowOp::Put(row) => row.key.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let name_key = wrote_key(ENTITY, "erp", "name", &json!("Ann"));
    let phone_key = wrote_key(ENTITY, "erp", "phone", &json!(null));
    assert_eq!(keys, vec![name_key.as_str(), phone_key.as_str()]);
    let RowOp::Put(row) = &ops[1] else {
        unreachable!()
    };
    let wrote: WroteValue = serde_json::from_value(row.doc.clone()).unwrap();
    assert_eq!(
        (wrote.is_live(at(6)), wrote.is_live(at(606)), wrote.value),
        (true, false, json!(null))
    );
}

#[test]
fn the_same_value_written_again_replaces_its_row_and_different_values_get_their_own() {
    assert_eq!(
        wrote_key(ENTITY, "erp", "phone", &json!("1")),
        wrote_key(ENTITY, "erp", "phone", &json!("1"))
    );
    assert_ne!(
        wrote_key(ENTITY, "erp", "phone", &json!("1")),
        wrote_key(ENTITY, "erp", "phone", &json!(1))
    );
    assert_ne!(
        wrote_key(ENTITY, "erp", "phone", &json!("1")),
        wrote_key(ENTITY, "crm", "phone", &json!("1"))
    );
}

#[test]
fn other_events_leave_the_context_alone() {
    let linked = SyncEvent::RecordLinked(crate::events::RecordLinked {
        entity_type: "customer".into(),
        system: "erp".into(),
        collection: "customers".into(),
        record_id: "E7".into(),
        reason: "created".into(),
    });
    assert_eq!(context().apply(&recorded(7, linked)), vec![]);
}
