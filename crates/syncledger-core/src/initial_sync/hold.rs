//! Creates wait for the initial sync's listing of their target: which work is held, and when
//! it is released. Pure over the initial sync's fold and the entity's; the engine reads both
//! and appends what these return (`job::hold`).
//!
//! While a run of the initial sync has not listed a system, a record there with the same match
//! keys as the one being decided may be unknown to the log: creating now could duplicate it, the
//! bring-up's own version of the seed's race 1 (issue 16). So:
//!
//! 1. **Hold** ([`hold_for_listing`]): a decision that would create in a system the running
//!    initial sync has not listed yet is not recorded; its work item is held instead
//!    (`WorkHeld`, its queue row no longer due). Updates, links and everything else go on
//!    throughout: live webhooks keep being worked during a bring-up.
//! 2. **Release** ([`release`]): once the system is listed, the entity's first held work item
//!    is released (`WorkReleased`) and decided again (the initial sync releases what it held
//!    when a system is listed; a job that finds its first work item held releases it too, so a
//!    hold recorded just as the listing finished is not left behind).

use crate::decide::Outcome;
use crate::entity::{EntityState, Trigger};
use crate::events::{DecisionKind, WorkHeld, WorkReleased};
use crate::projections::pending_queue;

use super::{InitialSync, stream_id};

/// Whether `outcome` creates anywhere: only then does the initial sync's state matter (the
/// engine reads it only then).
pub fn creates(outcome: &Outcome) -> bool {
    outcome.decisions().any(|d| d.kind == DecisionKind::Create)
}

/// Step 1: the hold `outcome` (the decision of `trigger` for `state`, of type `entity_type`)
/// waits under instead of being recorded, when it creates in a system `sync` has not listed.
pub fn hold_for_listing(
    sync: &InitialSync,
    state: &EntityState,
    entity_type: &str,
    trigger: &Trigger,
    outcome: &Outcome,
) -> Option<WorkHeld> {
    let (target, run_id) = outcome
        .decisions()
        .filter(|d| d.kind == DecisionKind::Create)
        .find_map(|d| {
            Some((
                &d.target_system,
                sync.holds_creates_towards(&d.target_system)?,
            ))
        })?;
    let (system, record_id) = trigger
        .source()
        .map(|(s, r)| (s.to_string(), r.to_string()))
        .unzip();
    Some(WorkHeld {
        trigger_id: trigger.event_id,
        system,
        record_id,
        target_system: target.clone(),
        initial_sync: stream_id(&state.tenant, entity_type),
        run_id,
    })
}

/// Step 2: the release of the entity's first work item, held until `sync` listed its target;
/// `None` while it still waits (or when nothing is held).
pub fn release(sync: &InitialSync, state: &EntityState) -> Option<WorkReleased> {
    let held = state.first_trigger_held()?;
    if sync.holds_creates_towards(&held.target_system).is_some() {
        return None;
    }
    Some(WorkReleased {
        trigger_id: held.trigger_id,
        system: held.system.clone(),
        record_id: held.record_id.clone(),
    })
}

/// Step 2 as the initial sync takes it when it has listed a system: the release of a work item
/// held for its run (`held`, its row in the pending queue). Items still waiting for another
/// system are held again by their next decision.
pub fn release_held(held: &pending_queue::Trigger) -> WorkReleased {
    WorkReleased {
        trigger_id: held.trigger_id,
        system: held.system.clone(),
        record_id: held.record_id.clone(),
    }
}
