//! The value-path table read as docs/privacy.md states it: which parts of each event are values.

use serde_json::json;

use super::*;
use crate::events::EVENT_TYPES;

#[test]
fn every_event_type_says_which_of_its_parts_are_values() {
    for event_type in EVENT_TYPES {
        assert!(value_paths(event_type).is_some(), "{event_type} is missing");
    }
    assert!(value_paths("NoSuchEvent").is_none());
}

#[test]
fn a_fetched_records_values_are_visited_and_its_ids_and_names_are_not() {
    let mut payload = json!({
        "system": "crm", "record_id": "c-42", "found": true,
        "fields": {"email": "ann@example.com", "name": "Ann", "phone": null},
        "etag": "\"v1\""
    });
    let mut seen = Vec::new();
    for_each_value("RecordFetched", &mut payload, &mut |v| seen.push(v.clone()));
    assert_eq!(seen, vec![json!("ann@example.com"), json!("Ann")]);
}

#[test]
fn a_decisions_diff_values_are_visited_and_its_field_names_are_not() {
    let mut payload = json!({
        "kind": "update", "source_system": "crm", "target_system": "erp",
        "diff": [{"field": "name", "before": "Ann", "after": "Anne"}]
    });
    let mut seen = Vec::new();
    for_each_value("DecisionMade", &mut payload, &mut |v| seen.push(v.clone()));
    assert_eq!(seen, vec![json!("Ann"), json!("Anne")]);
}

#[test]
fn the_write_a_decision_carries_is_visited_like_a_write_request() {
    let mut payload = json!({
        "kind": "update", "source_system": "crm", "target_system": "erp", "diff": [],
        "request_id": "00000000-0000-0000-0000-000000000001",
        "write": {"op": "update", "collection": "customers", "record_id": "E-1",
                  "fields": {"phone": "555"}, "match_fingerprint": "keys:ab", "if_match": "\"v1\""}
    });
    let mut seen = Vec::new();
    for_each_value("DecisionMade", &mut payload, &mut |v| seen.push(v.clone()));
    assert_eq!(seen, vec![json!("555"), json!("keys:ab")]);
}

#[test]
fn an_erased_history_reads_every_value_as_the_erased_mark() {
    let mut payload = json!({
        "candidates": [{"system": "crm", "value": null}, {"system": "erp", "value": null}],
        "chosen": {"system": "crm", "value": null}, "field": "name"
    });
    mark_erased("ConflictDetected", &mut payload);
    assert_eq!(payload["candidates"][1]["value"], erased_mark());
    assert_eq!(payload["chosen"]["value"], erased_mark());
    assert_eq!(payload["field"], "name");
}

#[test]
fn searched_texts_are_the_longer_strings_and_their_json_forms() {
    let payload = json!({"fields": {"name": "Zoë \"Z\" Smith", "code": "UK", "n": 42,
        "phones": ["+44 20 7946 0000"]}});
    let mut texts = Vec::new();
    searched_texts("RecordFetched", &payload, &mut texts);
    assert!(texts.contains(&"Zoë \"Z\" Smith".to_string()));
    assert!(texts.contains(&"Zoë \\\"Z\\\" Smith".to_string()));
    assert!(texts.contains(&"+44 20 7946 0000".to_string()));
    assert!(!texts.iter().any(|t| t == "UK"));
}

#[test]
fn keyed_digests_are_equal_for_equal_texts_and_differ_between_keys() {
    let (a, b) = ([1u8; 32], [2u8; 32]);
    assert_eq!(
        keyed_digest(&a, "ann@example.com"),
        keyed_digest(&a, "ann@example.com")
    );
    assert_ne!(
        keyed_digest(&a, "ann@example.com"),
        keyed_digest(&b, "ann@example.com")
    );
    assert_eq!(keyed_digest(&a, "x").len(), 64);
}

#[test]
fn a_history_shows_values_before_its_last_erasure_as_erased_and_later_ones_as_they_are() {
    use crate::events::{EntityErased, SyncEvent};
    use crate::log::{EventMeta, Position, RecordedEvent};
    let fetched = |name: &str| {
        json!({"system": "crm", "record_id": "c-1", "found": true,
        "fields": {"name": name}})
    };
    let recorded = |n: i64, event_type: &str, payload: serde_json::Value| RecordedEvent {
        position: Position(n),
        stream_id: uuid::Uuid::nil(),
        sequence: n as u64,
        event_id: uuid::Uuid::from_u128(n as u128),
        event_type: event_type.into(),
        schema_version: 1,
        payload,
        meta: EventMeta {
            tenant: "acme".into(),
            correlation_id: None,
            causation_id: None,
        },
        recorded_at: chrono::DateTime::UNIX_EPOCH,
    };
    let erased = SyncEvent::EntityErased(EntityErased {
        reason: "Art. 17".into(),
        by: "admin".into(),
    });
    let erased = erased.to_new(EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    });
    let mut events = vec![
        recorded(1, "RecordFetched", fetched("Ann")),
        recorded(2, "EntityErased", erased.payload),
        recorded(3, "RecordFetched", fetched("Bea")),
    ];
    show_erased(&mut events);
    assert_eq!(events[0].payload["fields"]["name"], erased_mark());
    assert_eq!(events[2].payload["fields"]["name"], "Bea");
    assert_eq!(
        erasure(&events).map(|(_, e)| e.reason),
        Some("Art. 17".to_string())
    );
}

#[test]
fn a_keyed_sort_key_keeps_its_head_and_keys_its_last_segment_per_tenant() {
    let (a, b) = ([1u8; 32], [2u8; 32]);
    let plain = "crm/email/0123abcd";
    let keyed = keyed_sort_key(&a, plain);
    assert!(keyed.starts_with("crm/email/k1."), "{keyed}");
    assert_eq!(keyed.len(), "crm/email/k1.".len() + 32);
    assert!(!keyed.contains("0123abcd"));
    // The same value under the same key: equality lookups find it.
    assert_eq!(keyed, keyed_sort_key(&a, plain));
    // Another tenant's key, or another value, gives another digest.
    assert_ne!(keyed, keyed_sort_key(&b, plain));
    assert_ne!(keyed, keyed_sort_key(&a, "crm/email/0123abce"));
    // A sort key that is a digest alone (word_index) is keyed whole.
    let word = keyed_sort_key(&a, "feedbeef");
    assert!(
        word.starts_with(KEYED_PREFIX) && !word.contains('/'),
        "{word}"
    );
    assert_eq!(
        &word[KEYED_PREFIX.len()..],
        &keyed_digest(&a, "feedbeef")[..32]
    );
}
