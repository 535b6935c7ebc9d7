//! A snapshot of a stream's first events, folded on with the rest, gives the state the whole
//! stream gives: at every cut, for an entity's stream and an initial sync's.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::events::{
    Action, ChangeObserved, InitialSyncStarted, RecordFetched, Resolution, WriteOp, WriteRequested,
    WriteSucceeded,
};
use crate::log::{EventMeta, Position};

fn recorded(stream_id: Uuid, sequence: u64, event: SyncEvent) -> RecordedEvent {
    let new = event.to_new(EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    });
    RecordedEvent {
        position: Position(sequence as i64 * 3),
        stream_id,
        sequence,
        event_id: new.event_id,
        event_type: new.event_type,
        schema_version: new.schema_version,
        payload: new.payload,
        meta: new.meta,
        recorded_at: Utc
            .timestamp_opt(1_800_000_000 + sequence as i64, 0)
            .unwrap(),
    }
}

fn entity_stream(id: Uuid) -> Vec<RecordedEvent> {
    let observed = |record: &str| {
        SyncEvent::ChangeObserved(ChangeObserved {
            entity_type: "customer".into(),
            system: "crm".into(),
            collection: "contacts".into(),
            record_id: record.into(),
            action: Action::Updated,
            webhook_event_id: "e-1".into(),
            occurred_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        })
    };
    let fetched = |phone: &str| {
        SyncEvent::RecordFetched(RecordFetched {
            system: "crm".into(),
            record_id: "C-1".into(),
            found: true,
            fields: [("phone".to_string(), json!(phone))].into(),
            etag: Some("v1".into()),
        })
    };
    let requested = |id: u128, phone: &str| {
        SyncEvent::WriteRequested(WriteRequested {
            if_match: None,
            request_id: Uuid::from_u128(id),
            target_system: "erp".into(),
            collection: "customers".into(),
            op: WriteOp::Update,
            record_id: Some("E-1".into()),
            fields: [("phone".to_string(), json!(phone))].into(),
            match_fingerprint: None,
        })
    };
    let succeeded = |id: u128, phone: &str| {
        SyncEvent::WriteSucceeded(WriteSucceeded {
            etag: None,
            request_id: Uuid::from_u128(id),
            target_system: "erp".into(),
            record_id: "E-1".into(),
            fields: [("phone".to_string(), json!(phone))].into(),
            resolution: Resolution::Response,
        })
    };
    [
        observed("C-1"),
        fetched("+44 111"),
        requested(1, "+44 111"),
        succeeded(1, "+44 111"),
        observed("C-1"),
        fetched("+44 222"),
        requested(2, "+44 222"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, e)| recorded(id, i as u64 + 1, e))
    .collect()
}

#[test]
fn an_entity_resumed_from_a_snapshot_at_any_cut_equals_its_whole_fold() {
    let id = Uuid::from_u128(7);
    let events = entity_stream(id);
    let whole = EntityState::fold(id, &events);
    assert!(!whole.pending_writes.is_empty() && !whole.known.is_empty());
    for cut in 0..=events.len() {
        let snapshot = StreamState::advance(id, None, &events[..cut]).to_value();
        let resumed = resume_entity(id, snapshot.as_ref(), &events[cut..]);
        assert_eq!(resumed, whole, "cut after {cut} events");
    }
}

#[test]
fn a_snapshot_leaves_empty_members_out_and_reads_back_whole() {
    let id = Uuid::from_u128(7);
    let events = entity_stream(id);
    let early = StreamState::advance(id, None, &events[..1]);
    let value = early.to_value().expect("a snapshot");
    let members: Vec<&String> = value.as_object().expect("an object").keys().collect();
    for empty in [
        "pending_writes",
        "dead_letters",
        "held",
        "discovered",
        "redirected_to",
    ] {
        assert!(!members.iter().any(|m| *m == empty), "{empty} in {value}");
    }
    let read: StreamState = serde_json::from_value(value).expect("reads back");
    assert_eq!(read, early);
    // A snapshot written before empty members were left out reads the same.
    let StreamState::Entity(state) = &early else {
        panic!("an entity's snapshot")
    };
    let mut old = serde_json::to_value(&**state).expect("state");
    for member in [
        "pending_writes",
        "dead_letters",
        "held",
        "discovered",
        "created",
    ] {
        old[member] = json!({});
    }
    old["redirected_to"] = json!(null);
    old["stream"] = json!("entity");
    let old: StreamState = serde_json::from_value(old).expect("the old form reads");
    assert_eq!(old, early);
}

#[test]
fn snapshots_fold_on_from_the_previous_one() {
    let id = Uuid::from_u128(7);
    let events = entity_stream(id);
    let first = StreamState::advance(id, None, &events[..2]).to_value();
    let second = StreamState::advance(id, first.as_ref(), &events[2..5]).to_value();
    let resumed = resume_entity(id, second.as_ref(), &events[5..]);
    assert_eq!(resumed, EntityState::fold(id, &events));
}

#[test]
fn an_initial_sync_resumed_from_its_snapshot_equals_its_whole_fold() {
    let id = Uuid::from_u128(9);
    let events = vec![recorded(
        id,
        1,
        SyncEvent::InitialSyncStarted(InitialSyncStarted {
            entity_type: "customer".into(),
            run_id: Uuid::from_u128(1),
            systems: vec!["crm".into(), "erp".into()],
            by: "first start".into(),
        }),
    )];
    let snapshot = StreamState::advance(id, None, &events).to_value();
    assert!(matches!(
        serde_json::from_value(snapshot.clone().unwrap()),
        Ok(StreamState::InitialSync(_))
    ));
    assert_eq!(
        resume_initial_sync(snapshot.as_ref(), &[]),
        InitialSync::fold(&events)
    );
}

#[test]
fn without_a_snapshot_the_live_events_are_the_whole_stream() {
    let id = Uuid::from_u128(7);
    let events = entity_stream(id);
    assert_eq!(
        resume_entity(id, None, &events),
        EntityState::fold(id, &events)
    );
}

#[test]
fn an_erased_entitys_snapshot_keeps_its_links_and_none_of_its_values() {
    let id = Uuid::from_u128(7);
    let events = entity_stream(id);
    let snapshot = StreamState::advance(id, None, &events).to_value().unwrap();
    let mut texts = Vec::new();
    value_texts(&snapshot, &mut texts);
    assert!(texts.contains(&"+44 111".to_string()), "{texts:?}");
    assert!(texts.contains(&"+44 222".to_string()), "{texts:?}");

    let erased = without_values(&snapshot).unwrap();
    let text = erased.to_string();
    assert!(!text.contains("+44"), "no value is left: {text}");
    let whole = EntityState::fold(id, &events);
    let kept = resume_entity(id, Some(&erased), &[]);
    assert_eq!(kept.links, whole.links);
    assert_eq!(kept.version, whole.version);
    assert_eq!(kept.tenant, whole.tenant);
    assert_eq!(kept.entity_type, whole.entity_type);
    assert!(kept.known.is_empty() && kept.pending_writes.is_empty());
    let mut none = Vec::new();
    value_texts(&erased, &mut none);
    assert!(none.is_empty(), "{none:?}");
    // Only an entity's snapshot has values to keep or drop.
    let sync = StreamState::InitialSync(InitialSync::default())
        .to_value()
        .unwrap();
    assert_eq!(without_values(&sync), None);
    assert_eq!(without_values(&serde_json::json!("not a snapshot")), None);
}
