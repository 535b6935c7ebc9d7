//! A person's retry of a dead letter (`DeadLetterRetried`), decided from the letter the
//! entity's stream holds ([`EntityState::dead_letters`]): nothing is looked up, so a replay
//! decides it again from the stream alone.
//!
//! 1. **A refused write** is requested again under a new id (derived from the retry, so the
//!    retry retried sends the same `Idempotency-Key`), on the record as the ledger last saw it
//!    (its latest `ETag`, not the one of the refused attempt). What happened since is not
//!    undone: a create whose target links a record since (or has a create on its way), or
//!    whose source record is gone, is not sent again; an update or delete of a record no
//!    longer linked neither; a delete neither once the entity links a record in another system
//!    again (edited and created there while the delete waited); an update writes only the
//!    values some other linked system still holds (a value replaced since is stale). With
//!    nothing left, the retry is superseded.
//! 2. **A failed work item that names a record**: the record is fetched again (a resync).
//! 3. **A letter that holds nothing to retry** (a work item that named no record, or a
//!    version-1 letter whose request could not be read) closes the retry as failed work, with
//!    the reason, and writes nothing. (`retryDeadLetter` refuses such letters up front; this is
//!    for retries recorded before that check.)

use serde_json::Value;
use uuid::Uuid;

use super::{Outcome, request_id};
use crate::entity::{EntityState, Trigger};
use crate::events::{
    Basis, DeadLetterRequest, DecisionKind, DecisionMade, Fields, ResyncRequested, SyncEvent,
    WorkFailed, WriteOp, WriteRequested,
};

/// What the retry `trigger` of dead letter `dead_letter_id` does.
pub fn retry(state: &EntityState, trigger: &Trigger, dead_letter_id: Uuid) -> Outcome {
    let decided = |kind, system: &str, basis| {
        SyncEvent::DecisionMade(DecisionMade {
            trigger_id: Some(trigger.event_id),
            kind,
            source_system: system.to_string(),
            target_system: system.to_string(),
            basis,
            diff: vec![],
            request_id: None,
            write: None,
        })
    };
    match state.dead_letters.get(&dead_letter_id) {
        // Step 1.
        Some(DeadLetterRequest::Write(original)) => {
            let Some(again) = still_to_write(state, original) else {
                let basis = Basis::RetrySuperseded { dead_letter_id };
                let target = &original.target_system;
                return decided(DecisionKind::Skip, target, basis).into();
            };
            let id = request_id(trigger.event_id, &again.target_system, again.op);
            let if_match = (again.op != WriteOp::Create)
                .then(|| state.conflicts.etags.get(&again.target_system).cloned())
                .flatten();
            let again = WriteRequested {
                if_match,
                request_id: id,
                ..again
            };
            let kind = match again.op {
                WriteOp::Create => DecisionKind::Create,
                WriteOp::Update => DecisionKind::Update,
                WriteOp::Delete => DecisionKind::Delete,
            };
            let basis = Basis::RetryWrite { dead_letter_id };
            let decision = decided(kind, &again.target_system, basis);
            super::asking(decision, again).into()
        }
        // Step 2.
        Some(DeadLetterRequest::Work {
            record: Some(record),
            ..
        }) => {
            let basis = Basis::RetryRefetch {
                dead_letter_id,
                record_id: record.record_id.clone(),
            };
            Outcome {
                own: vec![
                    decided(DecisionKind::Skip, &record.system, basis),
                    SyncEvent::ResyncRequested(ResyncRequested {
                        by: format!("retry of dead letter {dead_letter_id}"),
                        system: record.system.clone(),
                        record_id: record.record_id.clone(),
                    }),
                ],
                effects: vec![],
            }
        }
        // Step 3.
        _ => SyncEvent::WorkFailed(WorkFailed {
            trigger_id: trigger.event_id,
            reason: format!("dead letter {dead_letter_id} holds nothing to retry"),
            attempt: trigger.attempts + 1,
            will_retry: false,
            retry_at: None,
            system: None,
            record_id: None,
        })
        .into(),
    }
}

/// Step 1: what of `original` is still to be written, `None` when the sync has done it
/// otherwise since: a create whose target has a record of the entity (or one on its way), or
/// whose entity no longer links a record elsewhere to copy; an update or a delete of a record
/// the entity no longer links; an update whose every value was replaced since; a delete whose
/// entity links a record in another system again.
fn still_to_write(state: &EntityState, original: &WriteRequested) -> Option<WriteRequested> {
    let target = original.target_system.as_str();
    let linked_here = state
        .links
        .get(target)
        .is_some_and(|l| Some(&l.record_id) == original.record_id.as_ref());
    match original.op {
        WriteOp::Create => {
            let done = state.links.contains_key(target) || state.pending_create(target).is_some();
            let source = state.links.keys().any(|system| system != target);
            (!done && source).then(|| original.clone())
        }
        WriteOp::Update => {
            let held_elsewhere = |field: &str, value: &Value| {
                state
                    .known
                    .iter()
                    .any(|(system, fields)| system != target && fields.get(field) == Some(value))
            };
            let fields: Fields = original
                .fields
                .iter()
                .filter(|(field, value)| held_elsewhere(field, value))
                .map(|(field, value)| (field.clone(), value.clone()))
                .collect();
            (linked_here && !fields.is_empty()).then(|| WriteRequested {
                fields,
                ..original.clone()
            })
        }
        // A delete follows from the entity's records elsewhere being gone. One linked since
        // (the record was edited and created there again while the delete waited) makes the
        // delete stale: sent, it would leave that record without its twin.
        WriteOp::Delete => {
            let alive_elsewhere = state.links.keys().any(|system| system != target);
            (linked_here && !alive_elsewhere).then(|| original.clone())
        }
    }
}
