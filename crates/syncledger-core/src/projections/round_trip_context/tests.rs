use serde_json::json;

use super::*;
use crate::events::{Fields, SyncEvent, WriteRequested};
use crate::projection::Row;
use crate::projections::testkit::{ENTITY, at, recorded};

const REQUEST: Uuid = Uuid::from_u128(0xaa);

fn write(op: WriteOp, fingerprint: Option<&str>, fields: Fields) -> SyncEvent {
    SyncEvent::WriteRequested(WriteRequested {
        if_match: None,
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
    let expected = vec![RowOp::Put(Row {
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
    })];
    assert_eq!(ops, expected);
}

#[test]
fn only_a_create_with_a_fingerprint_is_remembered() {
    let name = Fields::from([("name".to_string(), json!("Ann"))]);
    let create = write(WriteOp::Create, None, name.clone());
    assert_eq!(context().apply(&recorded(5, create)), vec![]);
    let update = write(WriteOp::Update, Some("ignored"), name);
    assert_eq!(context().apply(&recorded(6, update)), vec![]);
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
