use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::events::{DecisionMade, RecordFetched, RecordLinked, RecordUnlinked};
use crate::log::{EventMeta, Position};

/// A stream of `events`, the n-th recorded at 10:0n on 2026-11-21.
fn stream(events: Vec<SyncEvent>) -> Vec<RecordedEvent> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let n = i as u64 + 1;
            let meta = EventMeta {
                tenant: "acme".into(),
                correlation_id: None,
                causation_id: None,
            };
            let new = event.to_new_with_id(Uuid::from_u128(u128::from(n)), meta);
            RecordedEvent {
                position: Position(n as i64),
                stream_id: Uuid::from_u128(0xe1),
                sequence: n,
                event_id: new.event_id,
                event_type: new.event_type,
                schema_version: new.schema_version,
                payload: new.payload,
                meta: new.meta,
                recorded_at: Utc.with_ymd_and_hms(2026, 11, 21, 10, n as u32, 0).unwrap(),
            }
        })
        .collect()
}

fn linked(system: &str, collection: &str, id: &str) -> SyncEvent {
    SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: system.into(),
        collection: collection.into(),
        record_id: id.into(),
        reason: "seen".into(),
    })
}

fn unlinked(system: &str, id: &str) -> SyncEvent {
    SyncEvent::RecordUnlinked(RecordUnlinked {
        system: system.into(),
        record_id: id.into(),
        reason: "deleted".into(),
    })
}

fn decision(kind: DecisionKind, source: &str, target: &str, basis: Basis) -> SyncEvent {
    SyncEvent::DecisionMade(DecisionMade {
        trigger_id: None,
        kind,
        source_system: source.into(),
        target_system: target.into(),
        basis,
        diff: vec![],
        request_id: None,
        write: None,
    })
}

fn fetched(system: &str, name: &str) -> SyncEvent {
    SyncEvent::RecordFetched(RecordFetched {
        system: system.into(),
        record_id: "x".into(),
        found: true,
        fields: [("name".to_string(), json!(name))].into_iter().collect(),
        etag: None,
    })
}

#[test]
fn a_deleted_entity_says_when_and_because_of_which_record_and_keeps_its_name() {
    let events = stream(vec![
        linked("crm", "contacts", "c-1"),
        linked("erp", "customers", "E-1"),
        fetched("erp", "Ada Lovelace"),
        decision(
            DecisionKind::Delete,
            "erp",
            "crm",
            Basis::DeletedPropagated {
                record_id: "E-1".into(),
            },
        ),
        unlinked("erp", "E-1"),
        unlinked("crm", "c-1"),
    ]);
    let summary = summarize(&events);
    assert_eq!(summary.standing, Standing::Deleted);
    assert_eq!(
        summary.text,
        "Deleted 2026-11-21 10:04 UTC because erp customer E-1 was deleted."
    );
    assert_eq!(summary.name.as_deref(), Some("Ada Lovelace"));
}

#[test]
fn a_record_held_back_by_a_required_field_is_named_with_its_reason_and_since_when() {
    let held = || {
        decision(
            DecisionKind::Deferred,
            "crm",
            "erp",
            Basis::RequiredEmpty {
                fields: vec!["email".into()],
            },
        )
    };
    let events = stream(vec![linked("crm", "contacts", "c-1"), held(), held()]);
    let summary = summarize(&events);
    assert_eq!(summary.standing, Standing::Linked);
    assert_eq!(
        summary.text,
        "Linked in crm contact c-1. Not in erp: it requires email (held since 2026-11-21 10:02 UTC)."
    );
    assert_eq!(summary.held.len(), 1);
    assert_eq!(summary.held[0].system, "erp");

    // Once the record is created and linked, nothing is held.
    let mut events = vec![linked("crm", "contacts", "c-1"), held()];
    events.push(linked("erp", "customers", "E-9"));
    let summary = summarize(&stream(events));
    assert!(summary.held.is_empty(), "{summary:?}");
    assert_eq!(
        summary.text,
        "Linked in crm contact c-1 and erp customer E-9."
    );
}

#[test]
fn an_entity_without_links_or_deletion_is_unlinked() {
    let summary = summarize(&stream(vec![
        linked("crm", "contacts", "c-1"),
        unlinked("crm", "c-1"),
    ]));
    assert_eq!(summary.standing, Standing::Unlinked);
    assert!(summary.text.starts_with("Unlinked"), "{}", summary.text);
    assert_eq!(summarize(&[]).standing, Standing::Unlinked);
}
