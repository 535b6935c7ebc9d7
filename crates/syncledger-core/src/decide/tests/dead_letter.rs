//! A person's retry of a dead letter (`decide::dead_letter`), step by step: given a stream
//! holding the letter and the retry, the retry is decided from the letter alone.

use serde_json::json;

use super::*;
use crate::events::{
    DeadLetterRequest, DeadLetterRetried, DeadLettered, RecordRef, ResyncRequested, WorkFailed,
};

fn letter(request: DeadLetterRequest) -> SyncEvent {
    SyncEvent::DeadLettered(DeadLettered {
        request_id: None,
        target_system: Some("erp".into()),
        reason: "the target refused the write".into(),
        request,
        status: Some(422),
        body: Some("no".into()),
    })
}

fn retried(dead_letter_id: Uuid) -> SyncEvent {
    SyncEvent::DeadLetterRetried(DeadLetterRetried {
        by: "ops@acme".into(),
        dead_letter_id,
        request: None,
    })
}

fn refused_update() -> WriteRequested {
    let mut update = requested(
        Uuid::from_u128(0x78),
        "erp",
        WriteOp::Update,
        Some("E-1"),
        json!({"phone": "+1"}),
    );
    update.if_match = Some("v1".into());
    update
}

#[test]
fn retry_step1_a_refused_write_is_requested_again_under_a_new_id_on_the_latest_etag() {
    let refused = refused_update();
    let mut newer = record("erp", "E-1", json!({"phone": "+2"}));
    newer.etag = Some("v7".into());
    let again_id = request_id(id(6), "erp", WriteOp::Update);
    given(&[
        linked("crm", "c-1", "first seen in crm"),
        linked("erp", "E-1", "created by the sync"),
        fetched("crm", "c-1", json!({"phone": "+1"})),
        SyncEvent::RecordFetched(newer),
        letter(DeadLetterRequest::Write(refused.clone())),
        retried(id(5)),
    ])
    .when(Gathered::default())
    .then(&[SyncEvent::DecisionMade(
        DecisionMade {
            ..decided(
                6,
                DecisionKind::Update,
                ("erp", "erp"),
                Basis::RetryWrite {
                    dead_letter_id: id(5),
                },
            )
        }
        .asking(WriteRequested {
            request_id: again_id,
            if_match: Some("v7".into()),
            ..refused
        }),
    )])
    .and_nothing_elsewhere();
}

#[test]
fn retry_step1_an_update_whose_values_were_replaced_since_is_superseded() {
    let refused = refused_update();
    given(&[
        linked("crm", "c-1", "first seen in crm"),
        linked("erp", "E-1", "created by the sync"),
        fetched("crm", "c-1", json!({"phone": "+3"})),
        fetched("erp", "E-1", json!({"phone": "+3"})),
        letter(DeadLetterRequest::Write(refused)),
        retried(id(5)),
    ])
    .when(Gathered::default())
    .then(&[SyncEvent::DecisionMade(decided(
        6,
        DecisionKind::Skip,
        ("erp", "erp"),
        Basis::RetrySuperseded {
            dead_letter_id: id(5),
        },
    ))]);
}

#[test]
fn retry_step1_a_create_whose_target_has_the_entitys_record_since_is_not_sent_again() {
    let create = requested(
        Uuid::from_u128(0x77),
        "erp",
        WriteOp::Create,
        None,
        json!({"name": "Ada", "email": "ada@example.com"}),
    );
    let stream = [
        linked("crm", "c-1", "first seen in crm"),
        letter(DeadLetterRequest::Write(create.clone())),
        linked("erp", "E-2", "created by the sync"),
        retried(id(2)),
        SyncEvent::RecordUnlinked(crate::events::RecordUnlinked {
            system: "crm".into(),
            record_id: "c-1".into(),
            reason: "deleted".into(),
        }),
    ];
    given(&stream)
        .when(Gathered::default())
        .then(&[SyncEvent::DecisionMade(decided(
            4,
            DecisionKind::Skip,
            ("erp", "erp"),
            Basis::RetrySuperseded {
                dead_letter_id: id(2),
            },
        ))]);
    // Not linked yet: the create is requested again.
    let outcome = given(&[stream[0].clone(), stream[1].clone(), stream[3].clone()])
        .when(Gathered::default())
        .outcome;
    assert!(outcome.writes().any(|w| w.op == WriteOp::Create));
    // The record it copies is gone since (its link ended): nothing to create.
    let gone = [
        stream[0].clone(),
        stream[1].clone(),
        stream[4].clone(),
        stream[3].clone(),
    ];
    given(&gone)
        .when(Gathered::default())
        .then(&[SyncEvent::DecisionMade(decided(
            4,
            DecisionKind::Skip,
            ("erp", "erp"),
            Basis::RetrySuperseded {
                dead_letter_id: id(2),
            },
        ))]);
}

/// Seeded simulation, seed 15 (operated, concurrent edits): the ERP record was deleted, the
/// delete of the CRM twin refused; the CRM user then edited the twin, which the sync created in
/// the ERP again. The person's retry of the old delete would have left that new record alone.
#[test]
fn retry_step1_a_delete_whose_entity_lives_again_elsewhere_is_superseded() {
    let mut delete = requested(
        Uuid::from_u128(0x79),
        "crm",
        WriteOp::Delete,
        Some("c-3"),
        json!({}),
    );
    delete.fields = Default::default();
    let refused = SyncEvent::DeadLettered(DeadLettered {
        target_system: Some("crm".into()),
        ..match letter(DeadLetterRequest::Write(delete.clone())) {
            SyncEvent::DeadLettered(d) => d,
            _ => unreachable!(),
        }
    });
    let stream = [
        linked("erp", "E-1", "first seen in erp"),
        linked("crm", "c-3", "created by the sync"),
        SyncEvent::RecordUnlinked(crate::events::RecordUnlinked {
            system: "erp".into(),
            record_id: "E-1".into(),
            reason: "deleted in erp".into(),
        }),
        refused,
        linked("erp", "E-6", "created by the sync"),
        retried(id(4)),
    ];
    given(&stream)
        .when(Gathered::default())
        .then(&[SyncEvent::DecisionMade(decided(
            6,
            DecisionKind::Skip,
            ("crm", "crm"),
            Basis::RetrySuperseded {
                dead_letter_id: id(4),
            },
        ))]);
    // Without the new ERP record, the delete still follows: it is sent again.
    let waiting = [
        stream[0].clone(),
        stream[1].clone(),
        stream[2].clone(),
        stream[3].clone(),
        stream[5].clone(),
    ];
    let outcome = given(&waiting).when(Gathered::default()).outcome;
    assert!(
        outcome.writes().any(|w| w.op == WriteOp::Delete),
        "{:?}",
        outcome.own
    );
}

#[test]
fn retry_step2_a_failed_work_item_fetches_its_record_again() {
    let work = DeadLetterRequest::Work {
        trigger_id: Uuid::from_u128(0x99),
        record: Some(RecordRef {
            system: "crm".into(),
            record_id: "c-1".into(),
        }),
    };
    given(&[letter(work), retried(id(1))])
        .when(Gathered::default())
        .then(&[
            SyncEvent::DecisionMade(decided(
                2,
                DecisionKind::Skip,
                ("crm", "crm"),
                Basis::RetryRefetch {
                    dead_letter_id: id(1),
                    record_id: "c-1".into(),
                },
            )),
            SyncEvent::ResyncRequested(ResyncRequested {
                by: format!("retry of dead letter {}", id(1)),
                system: "crm".into(),
                record_id: "c-1".into(),
            }),
        ]);
}

#[test]
fn retry_step2_a_retry_handed_over_from_another_stream_retries_the_letter_it_carries() {
    let handed = SyncEvent::DeadLetterRetried(DeadLetterRetried {
        by: "forwarded".into(),
        dead_letter_id: Uuid::from_u128(0xdead),
        request: Some(DeadLetterRequest::Write(refused_update())),
    });
    let outcome = given(&[
        linked("erp", "E-1", "created by the sync"),
        fetched("crm", "c-1", json!({"phone": "+1"})),
        handed,
    ])
    .when(Gathered::default())
    .outcome;
    assert!(
        outcome
            .writes()
            .any(|w| w.fields == refused_update().fields)
    );
}

#[test]
fn retry_step3_a_letter_holding_nothing_to_retry_closes_the_retry_as_failed_work() {
    let nothing = DeadLetterRequest::Work {
        trigger_id: id(1),
        record: None,
    };
    assert!(!nothing.can_retry());
    given(&[letter(nothing), retried(id(1))])
        .when(Gathered::default())
        .then(&[SyncEvent::WorkFailed(WorkFailed {
            trigger_id: id(2),
            reason: format!("dead letter {} holds nothing to retry", id(1)),
            attempt: 1,
            will_retry: false,
            retry_at: None,
            system: None,
            record_id: None,
        })]);
}
