//! Creates wait for the initial sync's listing of their target: the IO around the core's
//! `initial_sync::hold` (which work is held, and when it is released). This module reads the
//! initial sync's state when a decision creates, and appends the hold or the release.
//!
//! Every record listed is in `match_index` from its page's append on (`RecordDiscovered`), so a
//! released decision finds its twin even before a worker reached it (`gather`'s `unpaired_match`).

use syncledger_core::decide::Outcome;
use syncledger_core::entity::{EntityState, Trigger};
use syncledger_core::events::{SyncEvent, WorkHeld};
use syncledger_core::initial_sync::hold::{creates, hold_for_listing, release};
use syncledger_core::log::{ExpectedVersion, StreamAppend};

use super::env::{Env, chain, meta};
use crate::error::EngineError;
use crate::held::initial_sync_state;

/// The hold `outcome` must wait under instead of being recorded (`hold::hold_for_listing`).
pub(super) async fn held_by_listing(
    env: &Env,
    state: &EntityState,
    entity_type: &str,
    trigger: &Trigger,
    outcome: &Outcome,
) -> Result<Option<WorkHeld>, EngineError> {
    if !creates(outcome) {
        return Ok(None);
    }
    let sync = initial_sync_state(&env.ctx, &state.tenant, entity_type).await?;
    Ok(hold_for_listing(
        &sync,
        state,
        entity_type,
        trigger,
        outcome,
    ))
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
/// listed the target. When it has, the hold is released here and now (`hold::release`).
pub(super) async fn still_held(env: &Env, state: &mut EntityState) -> Result<bool, EngineError> {
    let (Some(held), Some(entity_type)) = (
        state.first_trigger_held().cloned(),
        state.entity_type.clone(),
    ) else {
        return Ok(false);
    };
    let sync = initial_sync_state(&env.ctx, &state.tenant, &entity_type).await?;
    let Some(released) = release(&sync, state) else {
        return Ok(true);
    };
    let correlation = state
        .open_triggers
        .first()
        .map_or(held.trigger_id, |t| t.correlation_id);
    let meta = meta(state, correlation, None);
    let append = StreamAppend {
        stream_id: state.entity_id,
        expected: ExpectedVersion::Exact(state.version),
        events: chain(vec![SyncEvent::WorkReleased(released)], &meta),
    };
    env.append_here(state, vec![append]).await?;
    Ok(false)
}
