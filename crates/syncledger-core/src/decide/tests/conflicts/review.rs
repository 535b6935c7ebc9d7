//! Race 4, steps 4 and 5: an open review moves with later edits, and a person's resolution is
//! written where it differs, once.

use serde_json::json;

use super::super::*;
use super::{candidates, detected, refused, tagged, verdict};
use crate::config::ConflictPolicy;
use crate::events::{Candidate, Chosen, ConflictDetected, ConflictResolved, conflict_id};

/// The review recorded (positions 10-11), then the CRM user edits the name again (13).
fn held() -> Vec<SyncEvent> {
    let mut stream = refused();
    stream.extend([
        SyncEvent::RecordFetched(tagged(
            "erp",
            "E-1",
            json!({"name": "Ada (ERP)", "phone": "1"}),
            "v2",
        )),
        SyncEvent::ConflictDetected(detected(ConflictPolicy::Review, None)),
        verdict(ConflictPolicy::Review, None),
        observed("crm", "c-1", Action::Updated),
    ]);
    stream
}

#[test]
fn race4_step4_a_later_edit_moves_the_open_reviews_candidates_under_the_same_id() {
    let moved = ConflictDetected {
        trigger_id: id(13),
        candidates: vec![
            Candidate {
                system: "crm".into(),
                value: json!("Ada (CRM 2)"),
                observed_at: at(100),
            },
            Candidate {
                system: "erp".into(),
                value: json!("Ada (ERP)"),
                observed_at: at(10),
            },
        ],
        ..detected(ConflictPolicy::Review, None)
    };
    let basis = Basis::Conflict {
        conflict_id: conflict_id(id(9), "name"),
        field: "name".into(),
        policy: ConflictPolicy::Review,
        chosen: None,
    };
    given(&held())
        .configured(|c| c.conflict = ConflictPolicy::Review)
        .when(fetch(record(
            "crm",
            "c-1",
            json!({"name": "Ada (CRM 2)", "phone": "1"}),
        )))
        .then(&[
            SyncEvent::ConflictDetected(moved),
            SyncEvent::DecisionMade(decided(13, DecisionKind::Deferred, ("crm", "erp"), basis)),
        ]);
}

#[test]
fn race4_step4_the_same_conflict_met_again_is_not_recorded_twice() {
    let basis = Basis::Conflict {
        conflict_id: conflict_id(id(9), "name"),
        field: "name".into(),
        policy: ConflictPolicy::Review,
        chosen: None,
    };
    given(&held())
        .configured(|c| c.conflict = ConflictPolicy::Review)
        .when(fetch(record(
            "crm",
            "c-1",
            json!({"name": "Ada (CRM)", "phone": "1"}),
        )))
        .then(&[SyncEvent::DecisionMade(decided(
            13,
            DecisionKind::Deferred,
            ("crm", "erp"),
            basis,
        ))]);
}

/// A person keeps the ERP's value of the held field (position 13).
fn resolved() -> Vec<SyncEvent> {
    let mut stream = held();
    stream.pop();
    stream.push(SyncEvent::ConflictResolved(ConflictResolved {
        conflict_id: conflict_id(id(9), "name"),
        field: "name".into(),
        chosen: Chosen {
            system: Some("erp".into()),
            value: json!("Ada (ERP)"),
        },
        by: "admin".into(),
        candidates: candidates(),
        policy: ConflictPolicy::Review,
        detected_at: at(100),
    }));
    stream
}

fn resolution_write() -> WriteRequested {
    WriteRequested {
        if_match: Some("c2".into()),
        ..requested(
            request_id(id(13), "crm", WriteOp::Update),
            "crm",
            WriteOp::Update,
            Some("c-1"),
            json!({"name": "Ada (ERP)"}),
        )
    }
}

#[test]
fn race4_step5_a_persons_choice_is_written_where_it_differs_once() {
    let write = resolution_write();
    let basis = Basis::ResolvedByPerson {
        conflict_id: conflict_id(id(9), "name"),
        field: "name".into(),
        by: "admin".into(),
    };
    given(&resolved())
        .configured(|c| c.conflict = ConflictPolicy::Review)
        .when(Gathered::default())
        .then(&[
            SyncEvent::DecisionMade(
                DecisionMade {
                    diff: vec![change("name", json!("Ada (CRM)"), json!("Ada (ERP)"))],
                    ..decided(
                        13,
                        DecisionKind::ConflictResolved,
                        ("erp", "crm"),
                        basis.clone(),
                    )
                }
                .asking(write),
            ),
            SyncEvent::DecisionMade(decided(13, DecisionKind::Skip, ("erp", "erp"), basis)),
        ]);
}

#[test]
fn race4_step5_once_written_the_conflict_settles_and_the_echo_changes_nothing() {
    let write = resolution_write();
    let mut stream = resolved();
    stream.extend([
        SyncEvent::DecisionMade(decided(
            13,
            DecisionKind::Skip,
            ("erp", "erp"),
            Basis::InSync,
        )),
        SyncEvent::WriteRequested(write.clone()),
        SyncEvent::WriteSucceeded(WriteSucceeded {
            fields: fields(json!({"name": "Ada (ERP)", "phone": "1"})),
            ..match succeeded(&write, "c-1") {
                SyncEvent::WriteSucceeded(s) => s,
                _ => unreachable!(),
            }
        }),
        observed("crm", "c-1", Action::Updated),
    ]);
    let given = given(&stream).configured(|c| c.conflict = ConflictPolicy::Review);
    assert!(given.state().conflicts.open.is_empty(), "settled");
    given
        .when(fetch(record(
            "crm",
            "c-1",
            json!({"name": "Ada (ERP)", "phone": "1"}),
        )))
        .then(&[SyncEvent::DecisionMade(decided(
            17,
            DecisionKind::Skip,
            ("crm", "erp"),
            Basis::InSync,
        ))]);
}

#[test]
fn an_open_review_recorded_before_its_entity_was_erased_is_refused_and_one_recorded_again_is_not() {
    use crate::decide::conflict::{Choice, Refused, resolution};
    use crate::events::EntityErased;
    let conflict = conflict_id(id(9), "name");
    let mut stream = held();
    stream.pop();
    stream.push(SyncEvent::EntityErased(EntityErased {
        reason: "GDPR request 7".into(),
        by: "admin".into(),
    }));
    let erased = given(&stream);
    for choice in [Choice::Keep("erp".into()), Choice::Write(json!("Ada"))] {
        assert_eq!(
            resolution(erased.state(), conflict, choice, "admin"),
            Err(Refused::Erased(conflict))
        );
    }
    // The systems' next change records the conflict again, with its values: resolvable.
    stream.push(SyncEvent::ConflictDetected(detected(
        ConflictPolicy::Review,
        None,
    )));
    let again = given(&stream);
    assert!(resolution(again.state(), conflict, Choice::Keep("erp".into()), "admin").is_ok());
}
