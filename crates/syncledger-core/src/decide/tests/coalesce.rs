//! Coalescing, step by step (`decide::coalesce`): queued observations of one record are settled
//! by the fetch and decision of the oldest.

use super::*;
use crate::decide::coalesce::covered;
use crate::events::{DeadLetterRetried, ResyncRequested, RoundTrip};
use crate::projection::{Projection, RowOp};
use crate::projections::pending_queue::{PendingQueue, trigger_key};

fn oldest(given: &Given) -> Trigger {
    given.state().open_triggers[0].clone()
}

#[test]
fn coalesce_step1_later_observations_and_resyncs_of_the_same_record_are_covered() {
    let given = given(&[
        observed("crm", "c-42", Action::Updated),
        observed("crm", "c-42", Action::Updated),
        observed("crm", "c-42", Action::Deleted),
        SyncEvent::ResyncRequested(ResyncRequested {
            by: "admin".into(),
            system: "crm".into(),
            record_id: "c-42".into(),
        }),
    ]);
    assert_eq!(
        covered(given.state(), &oldest(&given), None),
        vec![id(2), id(3), id(4)]
    );
}

#[test]
fn coalesce_step1_other_records_other_systems_and_dead_letter_retries_are_not() {
    let given = given(&[
        observed("crm", "c-42", Action::Updated),
        observed("crm", "c-43", Action::Updated),
        observed("erp", "c-42", Action::Updated),
        SyncEvent::DeadLetterRetried(DeadLetterRetried {
            by: "admin".into(),
            dead_letter_id: id(90),
            request: None,
        }),
        observed("crm", "c-42", Action::Updated),
    ]);
    assert_eq!(covered(given.state(), &oldest(&given), None), vec![id(5)]);
}

#[test]
fn coalesce_step2_only_items_queued_after_the_one_decided_are_covered() {
    let given = given(&[
        observed("crm", "c-42", Action::Updated),
        observed("crm", "c-42", Action::Updated),
    ]);
    // Deciding the later one (as after a failure of the first) covers nothing before it.
    let later = given.state().open_triggers[1].clone();
    assert_eq!(covered(given.state(), &later, None), Vec::<Uuid>::new());
}

#[test]
fn coalesce_step3_nothing_is_covered_when_the_record_belongs_to_another_entity() {
    let given = given(&[
        observed("erp", "E-1", Action::Created),
        observed("erp", "E-1", Action::Updated),
    ]);
    let echo = RoundTrip::EchoOf {
        entity_id: id(50),
        request_id: id(51),
    };
    let linked = RoundTrip::LinkedTo { entity_id: id(50) };
    for found in [echo, linked] {
        assert_eq!(
            covered(given.state(), &oldest(&given), Some(&found)),
            Vec::<Uuid>::new()
        );
    }
}

#[test]
fn coalesce_step4_the_recorded_inputs_close_the_covered_items_and_drop_their_queue_rows() {
    let given = given(&[
        observed("crm", "c-42", Action::Updated),
        observed("crm", "c-42", Action::Updated),
        observed("crm", "c-42", Action::Updated),
    ]);
    let trigger = oldest(&given);
    let input = Gathered {
        covers: covered(given.state(), &trigger, None),
        ..Gathered::default()
    };
    let inputs = SyncEvent::InputsGathered(input.recorded(&trigger));

    let mut state = given.state().clone();
    state.apply(&recorded(4, inputs.clone()));
    let open: Vec<Uuid> = state.open_triggers.iter().map(|t| t.event_id).collect();
    assert_eq!(
        open,
        vec![id(1)],
        "the oldest stays open until its decision"
    );

    let ops = PendingQueue.apply(&recorded(4, inputs));
    assert_eq!(
        ops,
        vec![
            RowOp::Delete {
                key: trigger_key(id(2))
            },
            RowOp::Delete {
                key: trigger_key(id(3))
            },
        ]
    );
}
