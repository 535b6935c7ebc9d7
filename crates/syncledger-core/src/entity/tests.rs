use serde_json::json;

use super::*;
use crate::events::{RecordFetched, Resolution, WriteRequested, WriteSucceeded};
use crate::log::EventMeta;

fn recorded(sequence: u64, event: SyncEvent) -> RecordedEvent {
    let new = event.to_new(EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    });
    RecordedEvent {
        position: Position(sequence as i64),
        stream_id: Uuid::nil(),
        sequence,
        event_id: new.event_id,
        event_type: new.event_type,
        schema_version: new.schema_version,
        payload: new.payload,
        meta: new.meta,
        recorded_at: Utc::now(),
    }
}

fn phone(value: &str) -> Fields {
    [("phone".to_string(), json!(value))].into()
}

fn write(id: u128, value: &str) -> [SyncEvent; 2] {
    let request_id = Uuid::from_u128(id);
    [
        SyncEvent::WriteRequested(WriteRequested {
            if_match: None,
            request_id,
            target_system: "erp".into(),
            collection: "customers".into(),
            op: WriteOp::Update,
            record_id: Some("E-1".into()),
            fields: phone(value),
            match_fingerprint: None,
        }),
        SyncEvent::WriteSucceeded(WriteSucceeded {
            etag: None,
            request_id,
            target_system: "erp".into(),
            record_id: "E-1".into(),
            fields: phone(value),
            resolution: Resolution::Response,
        }),
    ]
}

#[test]
fn a_written_value_stops_being_an_echo_once_the_system_was_seen_holding_another() {
    let events: Vec<RecordedEvent> = write(1, "111")
        .into_iter()
        .chain(write(2, "222"))
        .enumerate()
        .map(|(i, e)| recorded(i as u64 + 1, e))
        .collect();
    let state = EntityState::fold(Uuid::nil(), &events);
    assert!(state.may_be_echo("erp", "phone", &json!("222")));
    assert!(
        !state.may_be_echo("erp", "phone", &json!("111")),
        "the ERP was seen holding 222 since"
    );
    assert!(!state.may_be_echo("crm", "phone", &json!("222")));
}

#[test]
fn a_written_value_the_system_never_confirmed_replacing_stays_an_echo() {
    let [requested, _] = write(2, "222");
    let fetched = SyncEvent::RecordFetched(RecordFetched {
        etag: None,
        system: "erp".into(),
        record_id: "E-1".into(),
        found: true,
        fields: phone("111"),
    });
    let events: Vec<RecordedEvent> = write(1, "111")
        .into_iter()
        .chain([requested, fetched])
        .enumerate()
        .map(|(i, e)| recorded(i as u64 + 1, e))
        .collect();
    let state = EntityState::fold(Uuid::nil(), &events);
    assert!(
        state.may_be_echo("erp", "phone", &json!("111")),
        "the write of 222 never landed"
    );
    assert!(
        !state.may_be_echo("erp", "phone", &json!("222")),
        "the ERP was seen holding 111 after it was asked"
    );
}

#[test]
fn a_landed_write_is_the_base_even_when_the_target_answers_another_value() {
    let [requested, _] = write(1, "unused");
    let SyncEvent::WriteRequested(mut clear) = requested else {
        unreachable!()
    };
    clear.fields = [("phone".to_string(), Value::Null)].into();
    let answered = SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id: clear.request_id,
        target_system: "erp".into(),
        record_id: "E-1".into(),
        // The ERP dropped its first number; its second one is now the first.
        fields: phone("333"),
        resolution: Resolution::Response,
    });
    let crm = SyncEvent::RecordFetched(RecordFetched {
        etag: None,
        system: "crm".into(),
        record_id: "c-1".into(),
        found: true,
        fields: [("phone".to_string(), Value::Null)].into(),
    });
    let events: Vec<RecordedEvent> = [crm, SyncEvent::WriteRequested(clear), answered]
        .into_iter()
        .enumerate()
        .map(|(i, e)| recorded(i as u64 + 1, e))
        .collect();
    let state = EntityState::fold(Uuid::nil(), &events);
    assert_eq!(
        state.synced.get("phone"),
        Some(&Value::Null),
        "the CRM did not change the phone since"
    );
    assert_eq!(state.known["erp"]["phone"], json!("333"));
    assert!(!state.may_be_echo("erp", "phone", &json!("333")));
}

#[test]
fn fields_seen_equal_on_both_sides_become_the_base() {
    let fetched = |system: &str, value: &str| {
        SyncEvent::RecordFetched(RecordFetched {
            etag: None,
            system: system.into(),
            record_id: "r".into(),
            found: true,
            fields: phone(value),
        })
    };
    let events: Vec<RecordedEvent> = [
        fetched("crm", "1"),
        fetched("erp", "2"),
        fetched("erp", "1"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, e)| recorded(i as u64 + 1, e))
    .collect();
    let state = EntityState::fold(Uuid::nil(), &events[..2]);
    assert_eq!(state.synced.get("phone"), None);
    let state = EntityState::fold(Uuid::nil(), &events);
    assert_eq!(state.synced.get("phone"), Some(&json!("1")));
}

/// A requested write recorded at `at`, into `system`.
fn requested_at(sequence: u64, system: &str, fields: Fields, at: DateTime<Utc>) -> RecordedEvent {
    let mut event = recorded(
        sequence,
        SyncEvent::WriteRequested(WriteRequested {
            if_match: None,
            request_id: Uuid::from_u128(sequence as u128),
            target_system: system.into(),
            collection: "customers".into(),
            op: WriteOp::Update,
            record_id: Some("E-1".into()),
            fields,
            match_fingerprint: None,
        }),
    );
    event.recorded_at = at;
    event
}

#[test]
fn the_echo_context_holds_every_value_requested_within_the_window_renewed_by_a_new_request() {
    use std::collections::BTreeSet;

    let t0: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
    let minutes = |m: i64| t0 + chrono::Duration::minutes(m);
    let ttl = chrono::Duration::minutes(10);
    let both = |p: &str, n: &str| -> Fields {
        [
            ("phone".to_string(), json!(p)),
            ("name".to_string(), json!(n)),
        ]
        .into()
    };
    let events = vec![
        requested_at(1, "erp", both("111", "Ann"), minutes(0)),
        requested_at(2, "erp", phone("222"), minutes(4)),
        // The first value requested again: its window starts over.
        requested_at(3, "erp", phone("111"), minutes(8)),
        requested_at(4, "crm", phone("333"), minutes(9)),
    ];
    let state = EntityState::fold(Uuid::nil(), &events);
    let as_set = |echo: &crate::decide::EchoContext| -> BTreeSet<(String, String, String)> {
        echo.written
            .iter()
            .flat_map(|(system, fields)| {
                fields.iter().flat_map(move |(field, values)| {
                    values
                        .iter()
                        .map(move |v| (system.clone(), field.clone(), v.to_string()))
                })
            })
            .collect()
    };
    // Renewal, expiry, and both systems.
    let at = |m| as_set(&state.written_within(ttl, minutes(m)));
    let phone_in = |system: &str, v: &str| {
        (
            system.to_string(),
            "phone".to_string(),
            json!(v).to_string(),
        )
    };
    assert!(
        at(14).contains(&phone_in("erp", "111")),
        "renewed at minute 8"
    );
    assert!(
        !at(14).contains(&phone_in("erp", "222")),
        "expired at minute 14"
    );
    assert!(at(18).contains(&phone_in("crm", "333")));
    assert!(at(19).is_empty(), "everything expired by minute 19");
}
