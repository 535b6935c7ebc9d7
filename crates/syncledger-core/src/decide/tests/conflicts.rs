//! Race 4 of docs/races.md, both sides edit the same field (G10), step by step: the update
//! carries the ETag last seen, a 412 is recorded and opens a fetch, the new decision records
//! the conflict and each policy acts on it, an open review moves with later edits, and a
//! person's resolution is written where it differs, once.

use std::time::Duration as StdDuration;

use serde_json::json;

use super::*;
use crate::config::ConflictPolicy;
use crate::decide::retry::RetryPolicy;
use crate::events::{Candidate, Chosen, ConflictDetected, WritePreconditionFailed, conflict_id};

pub(super) fn tagged(system: &str, record_id: &str, values: Value, etag: &str) -> RecordFetched {
    RecordFetched {
        etag: Some(etag.into()),
        ..record(system, record_id, values)
    }
}

/// Both linked and in sync (name Ada, phone 1), the ERP's record at version `v1`; then the CRM
/// user's rename is announced (position 5).
fn renamed_in_crm() -> Vec<SyncEvent> {
    vec![
        linked("crm", "c-1", "first seen in crm"),
        linked("erp", "E-1", "created by the sync"),
        SyncEvent::RecordFetched(tagged(
            "crm",
            "c-1",
            json!({"name": "Ada", "phone": "1"}),
            "c1",
        )),
        SyncEvent::RecordFetched(tagged(
            "erp",
            "E-1",
            json!({"name": "Ada", "phone": "1"}),
            "v1",
        )),
        observed("crm", "c-1", Action::Updated),
    ]
}

fn update_to_erp() -> WriteRequested {
    WriteRequested {
        if_match: Some("v1".into()),
        ..requested(
            request_id(id(5), "erp", WriteOp::Update),
            "erp",
            WriteOp::Update,
            Some("E-1"),
            json!({"name": "Ada (CRM)"}),
        )
    }
}

#[test]
fn race4_step1_the_update_carries_the_etag_the_ledger_last_saw() {
    let write = update_to_erp();
    given(&renamed_in_crm())
        .when(fetch(tagged(
            "crm",
            "c-1",
            json!({"name": "Ada (CRM)", "phone": "1"}),
            "c2",
        )))
        .then(&[SyncEvent::DecisionMade(
            DecisionMade {
                diff: vec![change("name", json!("Ada"), json!("Ada (CRM)"))],
                ..decided(
                    5,
                    DecisionKind::Update,
                    ("crm", "erp"),
                    Basis::Changed {
                        record_id: "c-1".into(),
                        fields: vec!["name".into()],
                    },
                )
            }
            .asking(write),
        )]);
}

/// Step 2 behind step 1: the ERP user renamed too, so the ERP refused the write (412).
pub(super) fn refused() -> Vec<SyncEvent> {
    let write = update_to_erp();
    let mut stream = renamed_in_crm();
    stream.extend([
        SyncEvent::RecordFetched(tagged(
            "crm",
            "c-1",
            json!({"name": "Ada (CRM)", "phone": "1"}),
            "c2",
        )),
        SyncEvent::DecisionMade(decided(
            5,
            DecisionKind::Update,
            ("crm", "erp"),
            Basis::InSync,
        )),
        SyncEvent::WriteRequested(write.clone()),
        SyncEvent::WritePreconditionFailed(WritePreconditionFailed {
            request_id: write.request_id,
            target_system: "erp".into(),
            record_id: "E-1".into(),
            if_match: write.if_match,
            attempt: 1,
            retry_at: None,
        }),
    ]);
    stream
}

#[test]
fn race4_step2_a_412_is_recorded_and_opens_a_fetch_of_the_record_not_a_failure() {
    let given = given(&refused());
    let state = given.state();
    assert!(
        state.pending_writes.is_empty(),
        "the refused write is settled"
    );
    assert_eq!(state.conflicts.refusals("erp"), 1);
    match state.next_work(at(100)) {
        NextWork::Decide(trigger) => {
            assert_eq!(trigger.event_id, id(9));
            assert_eq!(trigger.source(), Some(("erp", "E-1")));
            assert_eq!(trigger.attempts, 0, "a refusal is not a failed attempt");
        }
        other => panic!("expected the ERP record to be decided again, got {other:?}"),
    }
}

#[test]
fn race4_step2_a_record_that_keeps_changing_backs_off_with_the_retry_policy_wait() {
    let policy = RetryPolicy {
        max_attempts: 2,
        base: StdDuration::from_secs(1),
        max: StdDuration::from_secs(60),
        max_retry_after: StdDuration::from_secs(300),
    };
    assert_eq!(
        policy.after_refusal(1, at(0), 1.0),
        None,
        "the first: at once"
    );
    let waits: Vec<_> = (2..6)
        .map(|n| policy.after_refusal(n, at(0), 1.0).unwrap() - at(0))
        .collect();
    assert!(waits.windows(2).all(|w| w[0] < w[1]), "{waits:?}");
    // Past max_attempts still: a refusal never gives up.
    assert!(policy.after_refusal(40, at(0), 0.0).is_some());
}

fn erp_rename() -> Gathered {
    fetch(tagged(
        "erp",
        "E-1",
        json!({"name": "Ada (ERP)", "phone": "1"}),
        "v2",
    ))
}

pub(super) fn candidates() -> Vec<Candidate> {
    vec![
        Candidate {
            system: "crm".into(),
            value: json!("Ada (CRM)"),
            observed_at: at(6),
        },
        Candidate {
            system: "erp".into(),
            value: json!("Ada (ERP)"),
            observed_at: at(100),
        },
    ]
}

pub(super) fn detected(policy: ConflictPolicy, chosen: Option<(&str, &str)>) -> ConflictDetected {
    ConflictDetected {
        conflict_id: conflict_id(id(9), "name"),
        trigger_id: id(9),
        field: "name".into(),
        candidates: candidates(),
        policy,
        chosen: chosen.map(|(system, value)| Chosen {
            system: Some(system.into()),
            value: json!(value),
        }),
        detected_at: at(100),
    }
}

pub(super) fn verdict(policy: ConflictPolicy, chosen: Option<&str>) -> SyncEvent {
    let kind = match chosen {
        Some(_) => DecisionKind::ConflictResolved,
        None => DecisionKind::Deferred,
    };
    let basis = Basis::Conflict {
        conflict_id: conflict_id(id(9), "name"),
        field: "name".into(),
        policy,
        chosen: chosen.map(str::to_string),
    };
    SyncEvent::DecisionMade(decided(9, kind, ("erp", "crm"), basis))
}

#[test]
fn race4_step3_with_last_observed_the_refetched_value_wins_and_the_loser_is_recorded() {
    let id_crm = request_id(id(9), "crm", WriteOp::Update);
    let policy = ConflictPolicy::LastObserved;
    given(&refused()).when(erp_rename()).then(&[
        SyncEvent::ConflictDetected(detected(policy, Some(("erp", "Ada (ERP)")))),
        verdict(policy, Some("erp")),
        SyncEvent::DecisionMade(
            DecisionMade {
                diff: vec![change("name", json!("Ada (CRM)"), json!("Ada (ERP)"))],
                ..decided(
                    9,
                    DecisionKind::Update,
                    ("erp", "crm"),
                    Basis::Changed {
                        record_id: "E-1".into(),
                        fields: vec!["name".into()],
                    },
                )
            }
            .asking(WriteRequested {
                if_match: Some("c2".into()),
                ..requested(
                    id_crm,
                    "crm",
                    WriteOp::Update,
                    Some("c-1"),
                    json!({"name": "Ada (ERP)"}),
                )
            }),
        ),
    ]);
}

#[test]
fn race4_step3_with_owner_the_owner_keeps_its_value_and_it_is_written_back_to_the_source() {
    let id_erp = request_id(id(9), "erp", WriteOp::Update);
    let policy = ConflictPolicy::Owner;
    let conflicts = [("name".to_string(), conflict_id(id(9), "name"))].into();
    given(&refused())
        .configured(|c| {
            c.conflict = policy;
            c.owners = [("name".to_string(), "crm".to_string())].into();
        })
        .when(erp_rename())
        .then(&[
            SyncEvent::ConflictDetected(detected(policy, Some(("crm", "Ada (CRM)")))),
            verdict(policy, Some("crm")),
            SyncEvent::DecisionMade(
                DecisionMade {
                    diff: vec![change("name", json!("Ada (ERP)"), json!("Ada (CRM)"))],
                    ..decided(
                        9,
                        DecisionKind::Update,
                        ("crm", "erp"),
                        Basis::ConflictWon { conflicts },
                    )
                }
                .asking(WriteRequested {
                    if_match: Some("v2".into()),
                    ..requested(
                        id_erp,
                        "erp",
                        WriteOp::Update,
                        Some("E-1"),
                        json!({"name": "Ada (CRM)"}),
                    )
                }),
            ),
        ]);
}

/// Step 3 with `review`: the ERP renamed and changed the phone.
fn review_found() -> (Vec<SyncEvent>, Gathered) {
    let input = fetch(tagged(
        "erp",
        "E-1",
        json!({"name": "Ada (ERP)", "phone": "2"}),
        "v2",
    ));
    (refused(), input)
}

#[test]
fn race4_step3_with_review_the_field_is_held_and_the_other_fields_flow() {
    let (stream, input) = review_found();
    let id_crm = request_id(id(9), "crm", WriteOp::Update);
    let policy = ConflictPolicy::Review;
    given(&stream)
        .configured(|c| c.conflict = policy)
        .when(input)
        .then(&[
            SyncEvent::ConflictDetected(detected(policy, None)),
            verdict(policy, None),
            SyncEvent::DecisionMade(
                DecisionMade {
                    diff: vec![change("phone", json!("1"), json!("2"))],
                    ..decided(
                        9,
                        DecisionKind::Update,
                        ("erp", "crm"),
                        Basis::Changed {
                            record_id: "E-1".into(),
                            fields: vec!["phone".into()],
                        },
                    )
                }
                .asking(WriteRequested {
                    if_match: Some("c2".into()),
                    ..requested(
                        id_crm,
                        "crm",
                        WriteOp::Update,
                        Some("c-1"),
                        json!({"phone": "2"}),
                    )
                }),
            ),
        ]);
}

mod review;

/// `owner` names who keeps a field in a record both systems hold; a target with no record
/// yet keeps nothing: it is created with the source's values, and no "kept" is recorded.
#[test]
fn owner_step_a_target_without_a_record_is_created_and_keeps_nothing() {
    let then = given(&[observed("crm", "c-1", Action::Created)])
        .configured(|c| {
            c.conflict = ConflictPolicy::Owner;
            c.owners = [("phone".to_string(), "erp".to_string())].into();
        })
        .when(fetch(record(
            "crm",
            "c-1",
            json!({"name": "Ada", "email": "ada@example.com", "phone": "1"}),
        )));
    let rules: Vec<&str> = then.outcome.decisions().map(|d| d.basis.rule()).collect();
    assert_eq!(rules, ["no_record_in_target"]);
    let create = then.outcome.writes().next().expect("a create");
    assert_eq!(create.fields.get("phone"), Some(&json!("1")));
}
