use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::events::{
    Basis, ChangeObserved, DeadLetterDiscarded, DeadLetterRetried, DeadLettered, DecisionKind,
    FieldChange, InputsGathered, RecordFetched, RecordLinked, RecordUnlinked, RedirectedTo,
    ReplayRequested, ResyncRequested, RoundTrip, WorkFailed, WriteFailed, WriteSucceeded,
};
use crate::log::{EventMeta, Position};

const ENTITY: Uuid = Uuid::from_u128(0xe1);

fn id(n: u64) -> Uuid {
    Uuid::from_u128(0x1000 + u128::from(n))
}

/// A stream built the way the engine chains events: each one caused by the one before.
struct Stream(Vec<RecordedEvent>);

impl Stream {
    fn push(&mut self, event: SyncEvent) -> Uuid {
        let n = self.0.len() as u64 + 1;
        let causation = self.0.last().map(|e| e.event_id);
        let meta = EventMeta {
            tenant: "acme".into(),
            correlation_id: Some(id(1)),
            causation_id: causation,
        };
        let new = event.to_new_with_id(id(n), meta);
        self.0.push(RecordedEvent {
            position: Position(n as i64),
            stream_id: ENTITY,
            sequence: n,
            event_id: new.event_id,
            event_type: new.event_type,
            schema_version: new.schema_version,
            payload: new.payload,
            meta: new.meta,
            recorded_at: Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, n as u32).unwrap(),
        });
        new.event_id
    }
}

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// crm contact c-42 changes its phone; the sync writes it to the linked erp customer E7.
fn phone_change() -> Stream {
    let mut s = Stream(vec![]);
    s.push(SyncEvent::RecordLinked(RecordLinked {
        entity_type: "customer".into(),
        system: "erp".into(),
        collection: "customers".into(),
        record_id: "E7".into(),
        reason: "created by the sync".into(),
    }));
    let trigger = s.push(SyncEvent::ChangeObserved(ChangeObserved {
        entity_type: "customer".into(),
        system: "crm".into(),
        collection: "contacts".into(),
        record_id: "c-42".into(),
        action: Action::Updated,
        webhook_event_id: "crm-evt-9".into(),
        occurred_at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 59, 0).unwrap(),
    }));
    s.push(SyncEvent::RecordFetched(RecordFetched {
        etag: None,
        system: "crm".into(),
        record_id: "c-42".into(),
        found: true,
        fields: fields(&[("email", json!("a@x.io")), ("phone", json!("555-0101"))]),
    }));
    let request_id = Uuid::from_u128(0xabcdef12_0000_0000_0000_000000000000);
    s.push(SyncEvent::DecisionMade(DecisionMade {
        trigger_id: Some(trigger),
        kind: DecisionKind::Update,
        source_system: "crm".into(),
        target_system: "erp".into(),
        basis: Basis::Changed {
            record_id: "c-42".into(),
            fields: vec!["phone".into()],
        },
        diff: vec![FieldChange {
            field: "phone".into(),
            before: json!("555-0100"),
            after: json!("555-0101"),
        }],
        request_id: Some(request_id),
        write: None,
    }));
    s.push(SyncEvent::WriteRequested(WriteRequested {
        if_match: None,
        request_id,
        target_system: "erp".into(),
        collection: "customers".into(),
        op: WriteOp::Update,
        record_id: Some("E7".into()),
        fields: fields(&[("phone", json!("555-0101"))]),
        match_fingerprint: None,
    }));
    s.push(SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id,
        target_system: "erp".into(),
        record_id: "E7".into(),
        fields: fields(&[("email", json!("a@x.io")), ("phone", json!("555-0101"))]),
        resolution: Resolution::Response,
    }));
    s
}

#[test]
fn a_write_names_the_change_that_caused_it() {
    let lines = explain_stream("customer", &phone_change().0);
    assert_eq!(
        lines[5],
        "erp customer E7: phone written 555-0101 because crm contact c-42 changed it (webhook crm-evt-9)"
    );
}

#[test]
fn every_step_of_a_sync_reads_as_a_sentence() {
    let lines = explain_stream("customer", &phone_change().0);
    assert_eq!(
        lines,
        vec![
            "linked erp customer E7 (created by the sync)",
            "crm contact c-42 updated (webhook crm-evt-9, at 2026-11-21 09:59:00 UTC)",
            "fetched crm contact c-42: email=a@x.io, phone=555-0101",
            "decided to update the erp customer (phone 555-0100 -> 555-0101): phone changed in crm c-42",
            "asked erp to update erp customer E7 with phone=555-0101 (request abcdef12)",
            "erp customer E7: phone written 555-0101 because crm contact c-42 changed it (webhook crm-evt-9)",
        ]
    );
}

#[test]
fn a_second_fetch_says_only_what_changed() {
    let mut s = phone_change();
    let email = ("email", json!("a@x.io"));
    for (seen, line) in [
        (
            vec![email.clone(), ("phone", Value::Null)],
            "phone 555-0101 -> (empty)",
        ),
        (
            vec![email.clone(), ("phone", json!("555-0102"))],
            "phone (empty) -> 555-0102",
        ),
        // A field gone from the record is a change too.
        (vec![email.clone()], "phone 555-0102 -> (empty)"),
        (vec![email.clone()], "no field changed since last seen"),
    ] {
        s.push(SyncEvent::RecordFetched(RecordFetched {
            etag: None,
            system: "crm".into(),
            record_id: "c-42".into(),
            found: true,
            fields: fields(&seen),
        }));
        let lines = explain_stream("customer", &s.0);
        assert_eq!(
            lines.last().unwrap(),
            &format!("fetched crm contact c-42: {line}")
        );
    }
}

#[test]
fn every_event_type_gets_its_own_single_line() {
    let mut s = phone_change();
    let letter = s.push(SyncEvent::WriteFailed(WriteFailed {
        request_id: Uuid::from_u128(9),
        target_system: "erp".into(),
        status: Some(503),
        body: Some("busy".into()),
        will_retry: false,
        attempt: 5,
        retry_at: None,
    }));
    s.push(SyncEvent::DeadLettered(DeadLettered {
        request_id: Some(Uuid::from_u128(9)),
        target_system: Some("erp".into()),
        reason: "gave up after 5 attempts".into(),
        request: crate::events::refused_update(Uuid::from_u128(9)),
        status: Some(503),
        body: Some("busy\nvery".into()),
    }));
    s.push(SyncEvent::DeadLetterRetried(DeadLetterRetried {
        by: "admin".into(),
        dead_letter_id: letter,
        request: None,
    }));
    s.push(SyncEvent::ResyncRequested(ResyncRequested {
        by: "admin".into(),
        system: "crm".into(),
        record_id: "c-42".into(),
    }));
    s.push(SyncEvent::ReplayRequested(ReplayRequested {
        by: "admin".into(),
        dry_run: false,
    }));
    s.push(SyncEvent::RedirectedTo(RedirectedTo {
        trigger_id: None,
        entity_id: Uuid::from_u128(0xe2),
        system: "crm".into(),
        record_id: "c-43".into(),
        basis: Basis::EchoOfCreate {
            entity_id: Uuid::from_u128(0xe2),
            request_id: Uuid::from_u128(0x77),
        },
    }));
    s.push(SyncEvent::RecordUnlinked(RecordUnlinked {
        system: "crm".into(),
        record_id: "c-42".into(),
        reason: "deleted in crm".into(),
    }));
    s.push(SyncEvent::DeadLetterDiscarded(DeadLetterDiscarded {
        by: "admin".into(),
        dead_letter_id: id(7),
        reason: "fixed by hand in erp".into(),
    }));
    s.push(SyncEvent::EntityErased(crate::events::EntityErased {
        reason: "GDPR Art. 17 request".into(),
        by: "admin".into(),
    }));
    bringup_events(&mut s);
    s.push(SyncEvent::WorkFailed(WorkFailed {
        trigger_id: id(1),
        reason: "the job panicked: boom".into(),
        attempt: 2,
        will_retry: true,
        retry_at: Some(Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 9).unwrap()),
        system: Some("crm".into()),
        record_id: Some("c-42".into()),
    }));
    s.push(SyncEvent::InputsGathered(InputsGathered {
        trigger_id: id(1),
        at: Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 10).unwrap(),
        round_trip: Some(RoundTrip::LinkedTo {
            entity_id: Uuid::from_u128(0xe2),
        }),
        link_candidates: Default::default(),
        covers: vec![id(3)],
        fetched_first: Some(id(4)),
    }));
    for event in conflicts::events() {
        s.push(event);
    }
    let mut broken = s.0[0].clone();
    broken.event_id = id(99);
    broken.event_type = "SomethingNew".into();
    s.0.push(broken);

    let lines = explain_stream("customer", &s.0);
    assert_eq!(lines.len(), s.0.len());
    let mut seen = std::collections::HashSet::new();
    for (line, event) in lines.iter().zip(&s.0) {
        assert!(
            !line.is_empty() && !line.contains('\n'),
            "{}: {line:?}",
            event.event_type
        );
        assert!(seen.insert(line.clone()), "duplicate line {line:?}");
    }
    let covered: std::collections::HashSet<&str> =
        s.0.iter().map(|e| e.event_type.as_str()).collect();
    for t in crate::events::EVENT_TYPES {
        assert!(covered.contains(t), "{t} not exercised");
    }
    assert_eq!(
        lines[6],
        "writing to erp failed (HTTP 503) on attempt 5; will not retry"
    );
    assert_eq!(
        lines[7],
        format!(
            "gave up writing to erp (HTTP 503): gave up after 5 attempts; kept as dead letter {}",
            id(8)
        )
    );
    assert_eq!(lines[8], format!("admin retried dead letter {letter}"));
    assert!(lines.contains(
        &"admin erased this customer: every value it held now reads as erased (GDPR Art. 17 request)"
            .to_string()
    ));
    assert_eq!(
        lines[lines.len() - 5],
        format!(
            "gathered what the decision needs (at 2026-11-21 10:00:10 UTC): \
             the record is linked to entity {}; this fetch also settles 1 later observation \
             of the record ({}); the record's fetch is the one recorded just before ({})",
            Uuid::from_u128(0xe2),
            id(3),
            id(4)
        )
    );
    assert_eq!(
        lines[lines.len() - 6],
        "work on crm contact c-42 failed on attempt 2 (the job panicked: boom); \
         will retry at 2026-11-21 10:00:09 UTC"
    );
    assert_eq!(lines[9], "admin asked to resync crm contact c-42");
    let discarded = format!(
        "admin discarded dead letter {}: fixed by hand in erp",
        id(7)
    );
    assert!(lines.contains(&discarded), "{lines:#?}");
    assert_eq!(
        lines.last().unwrap(),
        "SomethingNew (schema version 1): an event this version of syncledger cannot read"
    );
}

#[test]
fn a_create_found_again_by_match_keys_says_so() {
    let mut s = Stream(vec![]);
    let trigger = s.push(SyncEvent::ChangeObserved(ChangeObserved {
        entity_type: "customer".into(),
        system: "crm".into(),
        collection: "contacts".into(),
        record_id: "c-1".into(),
        action: Action::Created,
        webhook_event_id: "w1".into(),
        occurred_at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
    }));
    let request_id = Uuid::from_u128(0x77);
    s.push(SyncEvent::DecisionMade(DecisionMade {
        trigger_id: Some(trigger),
        kind: DecisionKind::Create,
        source_system: "crm".into(),
        target_system: "erp".into(),
        basis: Basis::NoRecordInTarget {
            record_id: "c-1".into(),
        },
        diff: vec![FieldChange {
            field: "email".into(),
            before: Value::Null,
            after: json!("b@y.io"),
        }],
        request_id: Some(request_id),
        write: None,
    }));
    s.push(SyncEvent::WriteRequested(WriteRequested {
        if_match: None,
        request_id,
        target_system: "erp".into(),
        collection: "customers".into(),
        op: WriteOp::Create,
        record_id: None,
        fields: fields(&[("email", json!("b@y.io"))]),
        match_fingerprint: Some("keys:x".into()),
    }));
    s.push(SyncEvent::WriteSucceeded(WriteSucceeded {
        etag: None,
        request_id,
        target_system: "erp".into(),
        record_id: "E9".into(),
        fields: fields(&[("email", json!("b@y.io"))]),
        resolution: Resolution::LookupByMatchKeys,
    }));
    let lines = explain_stream("customer", &s.0);
    assert_eq!(
        lines[1],
        "decided to create an erp customer with email=b@y.io: crm c-1 has no record in erp"
    );
    assert_eq!(
        lines[2],
        format!(
            "asked erp to create an erp customer with email=b@y.io (request {})",
            short(request_id)
        )
    );
    assert_eq!(
        lines[3],
        "erp customer E9 created with email=b@y.io because crm contact c-1 was created (webhook w1) \
         (its answer was lost; found again by match keys)"
    );
}

#[test]
fn collections_are_named_in_the_singular() {
    assert_eq!(singular("contacts"), "contact");
    assert_eq!(singular("companies"), "company");
    assert_eq!(singular("addresses"), "address");
    assert_eq!(singular("boxes"), "box");
    assert_eq!(singular("staff"), "staff");
}

mod artefacts;
mod bringup;
mod carried;
mod conflicts;
use bringup::bringup_events;
