use chrono::Utc;
use serde_json::json;
use syncledger_core::events::{Fields, RecordFetched, RecordUnlinked, Resolution, WriteSucceeded};
use syncledger_core::log::{EventMeta, Position};

use super::*;

fn stream(events: Vec<SyncEvent>) -> Vec<RecordedEvent> {
    let meta = EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    };
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let new = e.to_new(meta.clone());
            RecordedEvent {
                position: Position(i as i64 + 1),
                stream_id: Uuid::nil(),
                sequence: i as u64 + 1,
                event_id: new.event_id,
                event_type: new.event_type,
                schema_version: new.schema_version,
                payload: new.payload,
                meta: new.meta,
                recorded_at: Utc::now(),
            }
        })
        .collect()
}

fn phone(value: &str) -> Fields {
    [("phone".to_string(), json!(value))].into_iter().collect()
}

fn fetched(system: &str, value: &str) -> SyncEvent {
    SyncEvent::RecordFetched(RecordFetched {
        etag: None,
        system: system.into(),
        record_id: "r".into(),
        found: true,
        fields: phone(value),
    })
}

fn requested(id: u128, value: &str) -> SyncEvent {
    SyncEvent::WriteRequested(WriteRequested {
        if_match: None,
        request_id: Uuid::from_u128(id),
        target_system: "erp".into(),
        collection: "customers".into(),
        op: WriteOp::Update,
        record_id: Some("E7".into()),
        fields: phone(value),
        match_fingerprint: None,
    })
}

fn succeeded(id: u128, value: &str) -> SyncEvent {
    SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id: Uuid::from_u128(id),
        target_system: "erp".into(),
        record_id: "E7".into(),
        fields: phone(value),
        resolution: Resolution::Response,
    })
}

#[test]
fn a_fetch_that_sees_the_written_value_leaves_the_credit_to_the_write() {
    let events = stream(vec![
        fetched("erp", "1"),
        requested(1, "2"),
        succeeded(1, "2"),
        fetched("erp", "2"),
    ]);
    let origin = origin(&events, "phone", Some("erp")).unwrap();
    assert_eq!((origin.index, origin.value), (2, json!("2")));
}

#[test]
fn a_value_changed_outside_the_sync_is_credited_to_the_fetch_that_saw_it() {
    let events = stream(vec![
        requested(1, "2"),
        succeeded(1, "2"),
        fetched("erp", "3"),
        fetched("erp", "3"),
    ]);
    let origin = origin(&events, "phone", Some("erp")).unwrap();
    assert_eq!((origin.index, origin.value), (2, json!("3")));
}

#[test]
fn without_a_system_the_latest_setting_wins_and_an_unlinked_system_holds_nothing() {
    let unlink = SyncEvent::RecordUnlinked(RecordUnlinked {
        system: "crm".into(),
        record_id: "r".into(),
        reason: "gone".into(),
    });
    let events = stream(vec![
        fetched("crm", "1"),
        requested(1, "1"),
        succeeded(1, "1"),
        unlink,
    ]);
    assert_eq!(origin(&events, "phone", None).unwrap().system, "erp");
    assert_eq!(origin(&events, "phone", Some("crm")), None);
    assert_eq!(origin(&events, "fax", None), None);
}
