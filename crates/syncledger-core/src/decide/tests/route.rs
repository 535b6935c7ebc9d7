//! Where a work item is worked (`decide::route`): the entity type it is decided under, and
//! the hand-over of work from a stream whose record belongs to another entity.

use serde_json::json;

use super::*;
use crate::decide::route::{Unrouted, entity_config_for, forward};
use crate::events::{DeadLetterRequest, DeadLetterRetried, ResyncRequested};

const OTHER: Uuid = Uuid::from_u128(0xe2);

fn resync(system: &str, record_id: &str) -> SyncEvent {
    SyncEvent::ResyncRequested(ResyncRequested {
        by: "ops@acme".into(),
        system: system.into(),
        record_id: record_id.into(),
    })
}

fn contact() -> EntityConfig {
    serde_json::from_value(json!({
        "name": "contact",
        "match_keys": ["email"],
        "systems": {"crm": {"collection": "people", "fields": {"email": "email"}}}
    }))
    .expect("the test configuration parses")
}

#[test]
fn route_step1_work_is_decided_under_its_streams_type() {
    let given = given(&[observed("crm", "c-1", Action::Created)]);
    let trigger = &given.state().open_triggers[0];
    let entities = [contact(), customer()];
    let config = entity_config_for(&entities, given.state(), trigger).unwrap();
    assert_eq!(config.name, "customer");
    assert_eq!(
        entity_config_for(&entities[..1], given.state(), trigger),
        Err(Unrouted::NotConfigured("customer".into()))
    );
}

#[test]
fn route_step2_a_resync_of_a_record_never_announced_is_decided_under_the_one_type_syncing_it() {
    let given = given(&[resync("erp", "E-1")]);
    let trigger = &given.state().open_triggers[0];
    assert_eq!(given.state().entity_type, None);
    let entities = [contact(), customer()];
    let config = entity_config_for(&entities, given.state(), trigger).unwrap();
    assert_eq!(config.name, "customer");
    // Two types sync the CRM: which one is not guessed.
    let given = super::given(&[resync("crm", "c-1")]);
    let trigger = &given.state().open_triggers[0];
    assert_eq!(
        entity_config_for(&entities, given.state(), trigger),
        Err(Unrouted::NoSingleType {
            system: "crm".into(),
            record_id: "c-1".into()
        })
    );
}

/// A stream first seen for `c-2`, redirected to `OTHER`, with more work queued behind.
fn redirected(then: SyncEvent) -> Vec<SyncEvent> {
    vec![
        observed("crm", "c-2", Action::Created),
        SyncEvent::RedirectedTo(RedirectedTo {
            trigger_id: Some(id(1)),
            entity_id: OTHER,
            system: "crm".into(),
            record_id: "c-2".into(),
            basis: Basis::LinkedElsewhere {
                record_id: "c-2".into(),
                entity_id: OTHER,
            },
        }),
        then,
    ]
}

#[test]
fn forward_step1_2_a_change_is_handed_over_at_the_clock_reading_given() {
    let given = given(&redirected(observed("crm", "c-2", Action::Updated)));
    let trigger = &given.state().open_triggers[0];
    let outcome = forward(given.state(), trigger, (OTHER, 7), at(50)).unwrap();
    assert_eq!(
        outcome.own,
        vec![SyncEvent::RedirectedTo(RedirectedTo {
            trigger_id: Some(id(3)),
            entity_id: OTHER,
            system: "crm".into(),
            record_id: "c-2".into(),
            basis: Basis::LinkedElsewhere {
                record_id: "c-2".into(),
                entity_id: OTHER,
            },
        })]
    );
    let handed = SyncEvent::ChangeObserved(ChangeObserved {
        webhook_event_id: format!("forwarded:{}", id(3)),
        occurred_at: at(50),
        ..match observed("crm", "c-2", Action::Updated) {
            SyncEvent::ChangeObserved(c) => c,
            _ => unreachable!(),
        }
    });
    assert_eq!(
        outcome.effects,
        vec![Effect {
            stream: OTHER,
            expected: 7,
            events: vec![handed],
        }]
    );
}

#[test]
fn forward_step2_a_retry_is_handed_over_with_the_letters_request_and_the_streams_record() {
    let write = requested(
        Uuid::from_u128(0x78),
        "erp",
        WriteOp::Update,
        Some("E-1"),
        json!({"phone": "+1"}),
    );
    let mut stream = redirected(SyncEvent::DeadLettered(crate::events::DeadLettered {
        request_id: Some(write.request_id),
        target_system: Some("erp".into()),
        reason: "refused".into(),
        request: DeadLetterRequest::Write(write.clone()),
        status: Some(422),
        body: Some(String::new()),
    }));
    stream.push(SyncEvent::DeadLetterRetried(DeadLetterRetried {
        by: "ops@acme".into(),
        dead_letter_id: id(3),
        request: None,
    }));
    let given = given(&stream);
    let trigger = &given.state().open_triggers[0];
    let outcome = forward(given.state(), trigger, (OTHER, 7), at(50)).unwrap();
    assert!(matches!(&outcome.own[0], SyncEvent::RedirectedTo(r) if r.record_id == "c-2"));
    assert_eq!(
        outcome.effects[0].events,
        vec![SyncEvent::DeadLetterRetried(DeadLetterRetried {
            by: "forwarded".into(),
            dead_letter_id: id(3),
            request: Some(DeadLetterRequest::Write(write)),
        })]
    );
}
