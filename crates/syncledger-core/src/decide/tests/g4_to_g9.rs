//! G4 (lost answers), G5 (conflicts), G6 (required values), G7 (deletes), G9 (order of work)
//! and the retry policy, each as the docs number its steps.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::config::{ConflictPolicy, OnDelete};
use crate::decide::recovery::{Recovery, record_matches, recovery_steps};
use crate::decide::retry::{AfterFailure, RetryPolicy, later_by};
use crate::entity::Link;
use crate::events::{Resolution, WriteFailed};

fn both_linked() -> Vec<SyncEvent> {
    vec![
        linked("crm", "c-1", "first seen in crm"),
        linked("erp", "E-1", "created by the sync"),
        fetched("crm", "c-1", json!({"name": "Ada", "phone": "1"})),
        fetched("erp", "E-1", json!({"name": "Ada", "phone": "1"})),
    ]
}

fn create_in_flight(failed: bool) -> Vec<SyncEvent> {
    let create = requested(
        Uuid::from_u128(0x77),
        "erp",
        WriteOp::Create,
        None,
        json!({"name": "Ada", "email": "ada@example.com"}),
    );
    let mut stream = vec![
        linked("crm", "c-1", "first seen in crm"),
        SyncEvent::WriteRequested(create),
    ];
    if failed {
        stream.push(SyncEvent::WriteFailed(WriteFailed {
            request_id: Uuid::from_u128(0x77),
            target_system: "erp".into(),
            status: Some(503),
            body: Some(String::new()),
            will_retry: true,
            attempt: 1,
            retry_at: Some(at(50)),
        }));
    }
    stream
}

#[test]
fn g4_a_create_whose_answer_was_lost_is_looked_for_by_match_keys_then_sent_with_the_same_key() {
    let given = given(&create_in_flight(false));
    let pending = given.state().pending_writes.values().next().unwrap();
    let fingerprint = crate::mapping::match_fingerprint(
        &customer().match_keys,
        &fields(json!({"email": "ada@example.com"})),
    )
    .unwrap();
    assert_eq!(
        recovery_steps(given.state(), pending),
        [
            Recovery::MatchKeys {
                fingerprint: fingerprint.clone()
            },
            Recovery::Send(Resolution::IdempotentRetry),
        ]
    );
    assert!(record_matches(
        &customer(),
        &fingerprint,
        &fields(json!({"email": "ADA@example.com ", "name": "other"}))
    ));
}

#[test]
fn g4_a_create_whose_echo_linked_its_record_is_settled_by_that_link_first() {
    let mut stream = create_in_flight(false);
    stream.push(linked("erp", "E-1", "echo of the sync's own create"));
    let given = given(&stream);
    let pending = given.state().pending_writes.values().next().unwrap();
    let steps = recovery_steps(given.state(), pending);
    let link = Link {
        collection: "customers".into(),
        record_id: "E-1".into(),
    };
    assert_eq!(steps[0], Recovery::Link(link));
    assert_eq!(steps[0].resolution(), Resolution::ExistingLink);
}

#[test]
fn g4_a_create_that_failed_with_an_answer_is_looked_for_then_retried_as_a_plain_request() {
    let given = given(&create_in_flight(true));
    let pending = given.state().pending_writes.values().next().unwrap();
    let steps = recovery_steps(given.state(), pending);
    assert_eq!(steps.last(), Some(&Recovery::Send(Resolution::Response)));
}

#[test]
fn g5_the_target_changed_since_the_last_sync_is_not_overwritten_by_the_unchanged_source() {
    let mut stream = both_linked();
    stream.push(fetched("erp", "E-1", json!({"name": "Ada", "phone": "2"})));
    stream.push(observed("crm", "c-1", Action::Updated));
    given(&stream)
        .when(fetch(record(
            "crm",
            "c-1",
            json!({"name": "Ada", "phone": "1"}),
        )))
        .then(&[SyncEvent::DecisionMade(decided(
            6,
            DecisionKind::Skip,
            ("crm", "erp"),
            Basis::ChangedInTarget {
                fields: vec!["phone".into()],
            },
        ))]);
}

#[test]
fn g5_with_last_observed_a_later_target_change_of_the_same_field_wins() {
    let mut stream = both_linked();
    stream.push(observed("crm", "c-1", Action::Updated));
    stream.push(observed("erp", "E-1", Action::Updated));
    let conflict = crate::events::conflict_id(id(5), "phone");
    let back = request_id(id(5), "crm", WriteOp::Update);
    let side = |system: &str, value: &str| crate::events::Candidate {
        system: system.into(),
        value: json!(value),
        observed_at: at(100),
    };
    given(&stream)
        .when(Gathered {
            fresh_targets: [("erp".to_string(), fields(json!({"phone": "3"})))].into(),
            ..fetch(record("crm", "c-1", json!({"name": "Ada", "phone": "2"})))
        })
        .then(&[
            SyncEvent::ConflictDetected(crate::events::ConflictDetected {
                conflict_id: conflict,
                trigger_id: id(5),
                field: "phone".into(),
                candidates: vec![side("crm", "2"), side("erp", "3")],
                policy: ConflictPolicy::LastObserved,
                chosen: Some(crate::events::Chosen {
                    system: Some("erp".into()),
                    value: json!("3"),
                }),
                detected_at: at(100),
            }),
            SyncEvent::DecisionMade(decided(
                5,
                DecisionKind::ConflictResolved,
                ("crm", "erp"),
                Basis::Conflict {
                    conflict_id: conflict,
                    field: "phone".into(),
                    policy: ConflictPolicy::LastObserved,
                    chosen: Some("erp".into()),
                },
            )),
            SyncEvent::DecisionMade(
                DecisionMade {
                    diff: vec![change("phone", json!("2"), json!("3"))],
                    ..decided(
                        5,
                        DecisionKind::Update,
                        ("erp", "crm"),
                        Basis::ConflictWon {
                            conflicts: [("phone".to_string(), conflict)].into(),
                        },
                    )
                }
                .asking(requested(
                    back,
                    "crm",
                    WriteOp::Update,
                    Some("c-1"),
                    json!({"phone": "3"}),
                )),
            ),
        ]);
}

#[test]
fn g5_with_owners_the_owner_keeps_its_field() {
    let mut stream = both_linked();
    stream.push(observed("crm", "c-1", Action::Updated));
    let winners: std::collections::BTreeMap<String, String> =
        [("phone".to_string(), "erp".to_string())].into();
    given(&stream)
        .configured(|c| {
            c.conflict = ConflictPolicy::Owner;
            c.owners = winners.clone();
        })
        .when(fetch(record(
            "crm",
            "c-1",
            json!({"name": "Ada", "phone": "2"}),
        )))
        .then(&[
            SyncEvent::DecisionMade(decided(
                5,
                DecisionKind::ConflictResolved,
                ("crm", "erp"),
                Basis::ConflictKept { winners },
            )),
            SyncEvent::DecisionMade(decided(
                5,
                DecisionKind::Skip,
                ("crm", "erp"),
                Basis::InSync,
            )),
        ]);
}

#[test]
fn g6_a_create_waits_while_a_required_field_is_empty() {
    given(&[observed("crm", "c-1", Action::Created)])
        .when(fetch(record(
            "crm",
            "c-1",
            json!({"name": "Ada", "email": " "}),
        )))
        .then(&[
            linked("crm", "c-1", "first seen in crm"),
            SyncEvent::DecisionMade(decided(
                1,
                DecisionKind::Deferred,
                ("crm", "erp"),
                Basis::RequiredEmpty {
                    fields: vec!["email".into()],
                },
            )),
        ]);
}

#[test]
fn g7_with_propagate_a_deleted_source_deletes_the_linked_target() {
    let mut stream = both_linked();
    stream.push(observed("crm", "c-1", Action::Deleted));
    let delete_id = request_id(id(5), "erp", WriteOp::Delete);
    given(&stream)
        .configured(|c| c.on_delete = OnDelete::Propagate)
        .when(fetch(record("crm", "c-1", Value::Null)))
        .then(&[
            SyncEvent::RecordUnlinked(crate::events::RecordUnlinked {
                system: "crm".into(),
                record_id: "c-1".into(),
                reason: "deleted in crm".into(),
            }),
            SyncEvent::DecisionMade(
                DecisionMade {
                    ..decided(
                        5,
                        DecisionKind::Delete,
                        ("crm", "erp"),
                        Basis::DeletedPropagated {
                            record_id: "c-1".into(),
                        },
                    )
                }
                .asking(requested(
                    delete_id,
                    "erp",
                    WriteOp::Delete,
                    Some("E-1"),
                    json!({}),
                )),
            ),
        ]);
}

#[test]
fn g7_with_unlink_a_deleted_source_keeps_the_target_and_an_unknown_one_is_skipped() {
    let mut stream = both_linked();
    stream.push(observed("crm", "c-1", Action::Deleted));
    let outcome = given(&stream)
        .when(fetch(record("crm", "c-1", Value::Null)))
        .outcome;
    let bases: Vec<_> = outcome.decisions().map(|d| d.basis.clone()).collect();
    let kept = Basis::DeletedKept {
        record_id: "c-1".into(),
        kept: "E-1".into(),
    };
    assert_eq!(bases, [kept]);
    given(&[observed("crm", "c-9", Action::Deleted)])
        .when(fetch(record("crm", "c-9", Value::Null)))
        .then(&[SyncEvent::DecisionMade(decided(
            1,
            DecisionKind::Skip,
            ("crm", "crm"),
            Basis::GoneUnlinked {
                record_id: "c-9".into(),
            },
        ))]);
}

#[test]
fn g9_work_is_done_in_log_order_and_a_failed_write_holds_back_what_follows() {
    let mut stream = create_in_flight(true);
    stream.push(observed("crm", "c-1", Action::Updated));
    let given = given(&stream);
    // The write's retry is due at position 50: before it, nothing is done; after it, the
    // write is settled before the later work item.
    assert_eq!(given.state().next_work(at(49)), NextWork::Wait);
    assert!(matches!(
        given.state().next_work(at(50)),
        NextWork::Settle(_)
    ));
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base: StdDuration::from_millis(500),
        max: StdDuration::from_secs(300),
        max_retry_after: StdDuration::from_secs(3600),
    }
}

fn retry_at(after: AfterFailure) -> DateTime<Utc> {
    match after {
        AfterFailure::RetryAt(at) => at,
        AfterFailure::GiveUp => panic!("expected a retry"),
    }
}

#[test]
fn retry_a_transient_failure_waits_its_backoff_and_never_less_than_retry_after() {
    let now = at(0);
    let full = retry_at(policy().after_failure(3, true, None, now, 1.0));
    assert_eq!(full, now + chrono::Duration::seconds(4));
    let floor = retry_at(policy().after_failure(3, true, None, now, 0.0));
    assert_eq!(floor, now + chrono::Duration::milliseconds(250));
    let asked = Some(StdDuration::from_secs(30));
    let honoured = retry_at(policy().after_failure(1, true, asked, now, 0.5));
    assert_eq!(honoured, now + chrono::Duration::seconds(30));
    let huge = Some(StdDuration::from_secs(99_999_999_999_999));
    let capped = retry_at(policy().after_failure(1, true, huge, now, 0.5));
    assert_eq!(capped, now + chrono::Duration::hours(1));
}

#[test]
fn retry_gives_up_on_a_refusal_and_once_the_attempts_are_spent() {
    let now = at(0);
    assert_eq!(
        policy().after_failure(1, false, None, now, 0.5),
        AfterFailure::GiveUp
    );
    assert_eq!(
        policy().after_failure(5, true, None, now, 0.5),
        AfterFailure::GiveUp
    );
    assert_eq!(
        later_by(now, StdDuration::from_secs(99_999_999_999_999)),
        DateTime::<Utc>::MAX_UTC
    );
}
