//! What an attempt came to (`decide::attempt`), step by step: given the entity's stream, when
//! an attempt at its pending write (or its work item) comes to an answer, then these events.

use std::time::Duration as StdDuration;

use serde_json::json;

use super::*;
use crate::decide::attempt::{Answer, Around, Attempted, Failure, after_attempt};
use crate::decide::retry::{RetryPolicy, later_by};
use crate::events::{
    DeadLetterRequest, DeadLettered, RecordRef, RecordUnlinked, Resolution, ResyncRequested,
    WorkFailed, WriteFailed, WritePreconditionFailed, entity_id_for_record,
};

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base: StdDuration::from_secs(2),
        max: StdDuration::from_secs(60),
        max_retry_after: StdDuration::from_secs(3600),
    }
}

fn around() -> Around {
    Around {
        now: at(100),
        jitter: 1.0,
        announced_before_link: false,
        linked_elsewhere: false,
    }
}

const ADA: fn() -> serde_json::Value = || json!({"name": "Ada", "email": "ada@example.com"});

/// A CRM record first seen and its create towards the ERP requested.
fn create_requested() -> (Vec<SyncEvent>, WriteRequested) {
    let create = requested(Uuid::from_u128(0x77), "erp", WriteOp::Create, None, ADA());
    let stream = vec![
        observed("crm", "c-1", Action::Created),
        linked("crm", "c-1", "first seen in crm"),
        SyncEvent::WriteRequested(create.clone()),
    ];
    (stream, create)
}

/// Both records linked, with an update of the ERP's requested on the condition `"v1"`.
fn update_requested() -> (Vec<SyncEvent>, WriteRequested) {
    let mut update = requested(
        Uuid::from_u128(0x78),
        "erp",
        WriteOp::Update,
        Some("E-1"),
        json!({"name": "Ada L"}),
    );
    update.if_match = Some("v1".into());
    let stream = vec![
        linked("crm", "c-1", "first seen in crm"),
        linked("erp", "E-1", "created by the sync"),
        SyncEvent::WriteRequested(update.clone()),
    ];
    (stream, update)
}

struct When {
    given: Given,
    around: Around,
}

impl Given {
    fn around(self, around: Around) -> When {
        When {
            given: self,
            around,
        }
    }
}

impl When {
    fn answered(&self, attempted: Attempted<'_>, answer: Answer) -> Vec<SyncEvent> {
        let g = &self.given;
        after_attempt(
            &policy(),
            Some(&g.config),
            &g.state,
            attempted,
            &answer,
            &self.around,
        )
    }
}

fn done(record_id: &str, body: serde_json::Value) -> Answer {
    Answer::Done {
        record_id: record_id.into(),
        body,
        etag: Some("v2".into()),
        resolution: Resolution::Response,
    }
}

#[test]
fn attempt_step1_a_create_answered_succeeds_with_the_targets_values_and_links_the_record() {
    let (stream, create) = create_requested();
    let body = json!({"id": "E-9", "name": "Ada", "email_address": "ada@example.com"});
    let events = given(&stream).around(around()).answered(
        Attempted::Write {
            write: &create,
            attempt: 1,
        },
        done("E-9", body),
    );
    assert_eq!(
        events,
        vec![
            SyncEvent::WriteSucceeded(WriteSucceeded {
                request_id: create.request_id,
                target_system: "erp".into(),
                record_id: "E-9".into(),
                fields: fields(json!({"name": "Ada", "email": "ada@example.com", "phone": null})),
                resolution: Resolution::Response,
                etag: Some("v2".into()),
            }),
            linked(
                "erp",
                "E-9",
                &format!("created by the sync (request {})", create.request_id)
            ),
        ]
    );
}

#[test]
fn attempt_step1_a_create_whose_record_announced_changes_before_its_link_asks_a_resync() {
    let (stream, create) = create_requested();
    let given = given(&stream);
    let first_seen = crate::decide::attempt::first_seen_stream(given.state(), &create, "E-9");
    assert_eq!(
        first_seen,
        Some(entity_id_for_record("acme", "customer", "erp", "E-9"))
    );
    let announced = Around {
        announced_before_link: true,
        ..around()
    };
    let events = given.around(announced).answered(
        Attempted::Write {
            write: &create,
            attempt: 1,
        },
        done("E-9", json!({"email_address": "ada@example.com"})),
    );
    assert_eq!(
        events.last(),
        Some(&SyncEvent::ResyncRequested(ResyncRequested {
            by: "sync (webhooks before the link)".into(),
            system: "erp".into(),
            record_id: "E-9".into(),
        }))
    );
}

#[test]
fn attempt_step1_a_create_whose_record_another_entity_pairs_is_recorded_without_the_link() {
    let (stream, create) = create_requested();
    let elsewhere = Around {
        linked_elsewhere: true,
        ..around()
    };
    let events = given(&stream).around(elsewhere).answered(
        Attempted::Write {
            write: &create,
            attempt: 1,
        },
        done("E-9", json!({})),
    );
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], SyncEvent::WriteSucceeded(_)));
}

#[test]
fn attempt_step1_a_delete_of_the_linked_record_unlinks_it() {
    let delete = requested(
        Uuid::from_u128(0x79),
        "erp",
        WriteOp::Delete,
        Some("E-1"),
        json!({}),
    );
    let stream = vec![
        linked("erp", "E-1", "created by the sync"),
        SyncEvent::WriteRequested(delete.clone()),
    ];
    let events = given(&stream).around(around()).answered(
        Attempted::Write {
            write: &delete,
            attempt: 1,
        },
        done("E-1", json!({})),
    );
    assert_eq!(
        events[1],
        SyncEvent::RecordUnlinked(RecordUnlinked {
            system: "erp".into(),
            record_id: "E-1".into(),
            reason: "deleted by the sync".into(),
        })
    );
}

#[test]
fn attempt_step2_a_412_is_recorded_and_fetched_again_at_once_never_a_failure() {
    let (stream, update) = update_requested();
    let events = given(&stream).around(around()).answered(
        Attempted::Write {
            write: &update,
            attempt: 1,
        },
        Answer::PreconditionFailed {
            body: "changed".into(),
        },
    );
    assert_eq!(
        events,
        vec![SyncEvent::WritePreconditionFailed(
            WritePreconditionFailed {
                request_id: update.request_id,
                target_system: "erp".into(),
                record_id: "E-1".into(),
                if_match: Some("v1".into()),
                attempt: 1,
                retry_at: None,
            }
        )]
    );
}

#[test]
fn attempt_step3_a_transient_failure_is_retried_never_sooner_than_retry_after() {
    let (stream, update) = update_requested();
    let failure = Failure::Transient {
        status: Some(429),
        body: "slow down".into(),
        retry_after: Some(StdDuration::from_secs(120)),
    };
    let events = given(&stream).around(around()).answered(
        Attempted::Write {
            write: &update,
            attempt: 1,
        },
        Answer::Failed(failure),
    );
    assert_eq!(
        events,
        vec![SyncEvent::WriteFailed(WriteFailed {
            request_id: update.request_id,
            target_system: "erp".into(),
            status: Some(429),
            body: Some("slow down".into()),
            will_retry: true,
            attempt: 1,
            retry_at: Some(later_by(at(100), StdDuration::from_secs(120))),
        })]
    );
}

#[test]
fn attempt_step3_a_refusal_is_dead_lettered_at_once_with_the_typed_request() {
    let (stream, update) = update_requested();
    let failure = Failure::Refused {
        status: 422,
        body: "phone is invalid".into(),
    };
    let events = given(&stream).around(around()).answered(
        Attempted::Write {
            write: &update,
            attempt: 1,
        },
        Answer::Failed(failure),
    );
    assert_eq!(
        events[1],
        SyncEvent::DeadLettered(DeadLettered {
            request_id: Some(update.request_id),
            target_system: Some("erp".into()),
            reason: "the target refused the write".into(),
            request: DeadLetterRequest::Write(update.clone()),
            status: Some(422),
            body: Some("phone is invalid".into()),
        })
    );
    assert!(matches!(&events[0], SyncEvent::WriteFailed(f) if !f.will_retry));
}

#[test]
fn attempt_step3_a_transient_failure_at_the_last_attempt_gives_up() {
    let (stream, update) = update_requested();
    let failure = Failure::Transient {
        status: Some(503),
        body: "down".into(),
        retry_after: None,
    };
    let events = given(&stream).around(around()).answered(
        Attempted::Write {
            write: &update,
            attempt: 3,
        },
        Answer::Failed(failure),
    );
    let SyncEvent::DeadLettered(letter) = &events[1] else {
        panic!("a dead letter: {events:?}");
    };
    assert_eq!(letter.reason, "gave up after 3 attempts");
}

#[test]
fn attempt_step3_a_failed_job_on_a_work_item_is_retried_then_dead_lettered_with_its_record() {
    let stream = [observed("crm", "c-1", Action::Updated)];
    let given = given(&stream);
    let mut trigger = given.state().open_triggers[0].clone();
    let failure = || {
        Answer::Failed(Failure::Job {
            reason: "the job panicked".into(),
        })
    };
    let when = given.around(around());
    let first = when.answered(Attempted::Work { trigger: &trigger }, failure());
    assert!(matches!(&first[..], [SyncEvent::WorkFailed(f)] if f.will_retry && f.attempt == 1));

    trigger.attempts = 2;
    let last = when.answered(Attempted::Work { trigger: &trigger }, failure());
    let record = RecordRef {
        system: "crm".into(),
        record_id: "c-1".into(),
    };
    assert_eq!(
        last,
        vec![
            SyncEvent::WorkFailed(WorkFailed {
                trigger_id: id(1),
                reason: "the job panicked".into(),
                attempt: 3,
                will_retry: false,
                retry_at: None,
                system: Some("crm".into()),
                record_id: Some("c-1".into()),
            }),
            SyncEvent::DeadLettered(DeadLettered {
                request_id: None,
                target_system: Some("crm".into()),
                reason: "gave up after 3 failed attempts: the job panicked".into(),
                request: DeadLetterRequest::Work {
                    trigger_id: id(1),
                    record: Some(record),
                },
                status: None,
                body: Some(String::new()),
            }),
        ]
    );
}

#[test]
fn attempt_step3_an_invalid_answer_is_not_retried() {
    let (stream, update) = update_requested();
    let failure = Failure::Invalid {
        reason: "erp is no longer in the configuration".into(),
    };
    assert!(!failure.may_mend());
    let events = given(&stream).around(around()).answered(
        Attempted::Write {
            write: &update,
            attempt: 1,
        },
        Answer::Failed(failure),
    );
    assert!(
        matches!(&events[..], [SyncEvent::WriteFailed(f), SyncEvent::DeadLettered(_)] if !f.will_retry)
    );
}
