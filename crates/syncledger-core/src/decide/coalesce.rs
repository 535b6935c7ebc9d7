//! Coalescing: queued observations of one record are settled by one fetch and one decision.
//!
//! A webhook is a hint that a record changed; the fetch is the truth. When a job decides the
//! oldest work item about a record, every later item about the same record that is already in
//! the entity's queue was recorded before the fetch, so the fetch already holds whatever change
//! it announced. Deciding it again would fetch the same record again and, at worst, write the same
//! values again. So:
//!
//! 1. Only items that ask for the same thing are covered: an observed change (a webhook or an
//!    initial sync's discovery) or a resync, of the same system and record as the item decided.
//!    A dead letter's retry never is (it asks a person's question).
//! 2. They are covered only when they are in the queue before the fetch, which is when the
//!    engine asks (the state the job gathers with). One observed after the fetch stays open and
//!    gets a fetch of its own.
//! 3. Nothing is covered when the record belongs to another entity (G2, the round trip found
//!    by the gather): this group hands its item over instead of deciding on the fetch, and the
//!    stream's later items go over one by one, to be decided where the record belongs.
//! 4. The decision's `InputsGathered` names them (`covers`), in the same append as the fetch and
//!    the decision: each covered observation stays in the log, and its history says which group
//!    settled it. Folding that event closes them, and the pending queue drops their rows.

use uuid::Uuid;

use crate::entity::{EntityState, Trigger, TriggerKind};
use crate::events::RoundTrip;

/// The open items after `trigger` that its fetch and decision settle too (steps 1 to 3), given
/// the round trip the gather found for the fetched record.
pub fn covered(
    state: &EntityState,
    trigger: &Trigger,
    round_trip: Option<&RoundTrip>,
) -> Vec<Uuid> {
    let Some(source) = fetches(&trigger.kind).filter(|_| round_trip.is_none()) else {
        return Vec::new();
    };
    state
        .open_triggers
        .iter()
        .filter(|t| t.event_id != trigger.event_id && t.position > trigger.position)
        .filter(|t| fetches(&t.kind) == Some(source))
        .map(|t| t.event_id)
        .collect()
}

/// The record an item asks to fetch and decide: `(system, record id)`.
fn fetches(kind: &TriggerKind) -> Option<(&str, &str)> {
    match kind {
        TriggerKind::Observed {
            system, record_id, ..
        }
        | TriggerKind::Resync { system, record_id } => Some((system, record_id)),
        TriggerKind::DeadLetterRetry { .. } | TriggerKind::Resolution { .. } => None,
    }
}
