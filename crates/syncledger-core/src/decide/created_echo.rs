//! The `created` notice of a record the sync created itself, settled without a fetch.
//!
//! When the sync creates a record in a target, the target answers with the record it made
//! (`WriteSucceeded`: its id and the values it holds), and soon after sends a `created` webhook
//! for it, the echo of that create. Fetching the record to decide that webhook only learns what
//! the answer already said: any later change to the record sends a webhook of its own, which is
//! decided with a fetch as usual. So:
//!
//! 1. Only an observed `created` notice qualifies (not an update, a resync or a dead letter's
//!    retry, which ask for the record's current values).
//! 2. Its record must be the one this entity's sync created in that system (the create's
//!    `WriteSucceeded` is in the stream) and still be linked to this entity there.
//! 3. Then the notice is settled by a decision of its own (`echo_suppressed`, basis
//!    `created_by_sync`, naming the create's request), and nothing is fetched. Later queued
//!    notices of the record are not covered by it (they have no fetch to share).

use uuid::Uuid;

use crate::entity::{EntityState, Trigger, TriggerKind};
use crate::events::{Action, Basis, DecisionKind, DecisionMade, SyncEvent};

/// The create request whose echo `trigger` is, when it is settled without a fetch (steps 1
/// and 2). The engine asks before it fetches; `decide` asks again and settles it (step 3).
pub fn settled_without_fetch(state: &EntityState, trigger: &Trigger) -> Option<Uuid> {
    let TriggerKind::Observed {
        system,
        record_id,
        action: Action::Created,
        ..
    } = &trigger.kind
    else {
        return None;
    };
    let (created, request_id) = state.created.get(system)?;
    let linked = state
        .links
        .get(system)
        .is_some_and(|l| l.record_id == *record_id);
    (created == record_id && linked).then_some(*request_id)
}

/// The decision settling `trigger`, the echo of create `request_id` (step 3).
pub fn settle(trigger: &Trigger, request_id: Uuid) -> Option<SyncEvent> {
    let (system, record_id) = trigger.source()?;
    Some(SyncEvent::DecisionMade(DecisionMade {
        trigger_id: Some(trigger.event_id),
        kind: DecisionKind::EchoSuppressed,
        source_system: system.into(),
        target_system: system.into(),
        basis: Basis::CreatedBySync {
            record_id: record_id.into(),
            request_id,
        },
        diff: vec![],
        request_id: None,
        write: None,
    }))
}
