//! Creates wait for the initial sync's listing of their target.
//!
//! While a run of the initial sync has not listed a system, a record there with the same match
//! keys as the one being decided may be unknown to the log: creating now could duplicate it, the
//! bring-up's own version of the seed's race 1 (issue 16). So a decision that would create in
//! such a system is not recorded; its work item is held instead (`WorkHeld`, its queue row no
//! longer due) and released (`WorkReleased`) once the system is listed. Updates, links and
//! everything else go on throughout: live webhooks keep being worked during a bring-up.
//!
//! Every record listed is in `match_index` from its page's append on (`RecordDiscovered`), so a
//! released decision finds its twin even before a worker reached it (`gather`'s `unpaired_match`).
//!
//! The release is done by the initial sync when a system is listed, and again by any job of
//! the entity that finds its first work item held while the sync no longer holds it: so a hold
//! recorded just as the listing finished (it read the sync before the listing's last append,
//! appended after the release pass) is released by its own job's next step, which reads the
//! sync again after its own append.

use syncledger_core::decide::Outcome;
use syncledger_core::entity::{EntityState, Trigger};
use syncledger_core::events::{DecisionKind, SyncEvent, WorkHeld, WorkReleased};
use syncledger_core::initial_sync;
use syncledger_core::log::{ExpectedVersion, StreamAppend};

use super::env::{Env, chain, meta};
use crate::error::EngineError;
use crate::held::initial_sync_state;

/// The hold `outcome` must wait under instead of being recorded: when it creates in a
/// system the entity type's running initial sync has not listed yet.
pub(super) async fn hold_for_listing(
    env: &Env,
    state: &EntityState,
    entity_type: &str,
    trigger: &Trigger,
    outcome: &Outcome,
) -> Result<Option<WorkHeld>, EngineError> {
    // Collected before the await: the future must stay `Send` for the worker pool.
    let targets: Vec<String> = outcome
        .decisions()
        .filter(|d| d.kind == DecisionKind::Create)
        .map(|d| d.target_system.clone())
        .collect();
    if targets.is_empty() {
        return Ok(None);
    }
    let sync = initial_sync_state(&env.ctx, &state.tenant, entity_type).await?;
    for target in targets {
        if let Some(run_id) = sync.holds_creates_towards(&target) {
            let (system, record_id) = trigger
                .source()
                .map(|(s, r)| (s.to_string(), r.to_string()))
                .unzip();
            return Ok(Some(WorkHeld {
                trigger_id: trigger.event_id,
                system,
                record_id,
                target_system: target,
                initial_sync: initial_sync::stream_id(&state.tenant, entity_type),
                run_id,
            }));
        }
    }
    Ok(None)
}

/// Records the hold. Not caused by the work item: a replay does not take it for a decision.
pub(super) async fn hold(
    env: &Env,
    state: &mut EntityState,
    trigger: &Trigger,
    held: WorkHeld,
) -> Result<(), EngineError> {
    tracing::debug!(entity = %state.entity_id, target = %held.target_system, "work held until the initial sync has listed its target");
    let meta = meta(state, trigger.correlation_id, None);
    let append = StreamAppend {
        stream_id: state.entity_id,
        expected: ExpectedVersion::Exact(state.version),
        events: chain(vec![SyncEvent::WorkHeld(held)], &meta),
    };
    env.append_here(state, vec![append]).await?;
    Ok(())
}

/// Whether the entity's first work item is still held: its initial sync still has not
/// listed the target. When it has, the hold is released here and now.
pub(super) async fn still_held(env: &Env, state: &mut EntityState) -> Result<bool, EngineError> {
    let (Some(held), Some(entity_type)) = (
        state.first_trigger_held().cloned(),
        state.entity_type.clone(),
    ) else {
        return Ok(false);
    };
    let sync = initial_sync_state(&env.ctx, &state.tenant, &entity_type).await?;
    if sync.holds_creates_towards(&held.target_system).is_some() {
        return Ok(true);
    }
    let correlation = state
        .open_triggers
        .first()
        .map_or(held.trigger_id, |t| t.correlation_id);
    let meta = meta(state, correlation, None);
    let append = StreamAppend {
        stream_id: state.entity_id,
        expected: ExpectedVersion::Exact(state.version),
        events: chain(vec![released(&held)], &meta),
    };
    env.append_here(state, vec![append]).await?;
    Ok(false)
}

fn released(held: &WorkHeld) -> SyncEvent {
    SyncEvent::WorkReleased(WorkReleased {
        trigger_id: held.trigger_id,
        system: held.system.clone(),
        record_id: held.record_id.clone(),
    })
}
