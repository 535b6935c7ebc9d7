//! The job: one entity's work, a state machine over its folded [`EntityState`].
//!
//! Each step asks the state what is next (`EntityState::next_work`) and does exactly that:
//! forward a record that belongs to another entity, settle a write whose outcome is owed, wait
//! for an initial sync's listing, or gather, decide (the core's pure `decide`), record and write.
//! It repeats until nothing is due now.
//!
//! A job reads the entity's stream once and keeps the folded state in memory, folding in what
//! its own appends add. Every append carries the version the state was folded to, so two
//! workers that somehow hold the same entity (an expired lease), or a webhook recorded for the
//! entity meanwhile, cannot be overlooked: the append fails with a conflict, the job reads the
//! stream again and continues from what is there now (G1, G9).

use chrono::Utc;
use syncledger_core::decide::route::{self, entity_config_for};
use syncledger_core::decide::{Outcome, decide};
use syncledger_core::entity::{EntityState, NextWork, Trigger};
use syncledger_core::events::{SyncEvent, conflict_id};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use uuid::Uuid;

use super::env::{Env, chain, meta};
use super::gather::{FirstSeen, Gather, gather};
use super::hold::{held_by_listing, hold, still_held};
use super::writes::{perform_writes, settle_pending};
use crate::error::EngineError;

/// Steps one entity may take in one job before it yields to others.
const MAX_STEPS: usize = 64;

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Progress,
    /// Nothing due now (work may remain, e.g. a retry scheduled later).
    Idle,
}

/// One entity's job: the entity's state, folded once and kept up to date with the job's own
/// appends.
pub(super) struct Job<'a> {
    env: &'a Env,
    state: EntityState,
    /// The fetch of a record recorded first on the last step (G8), for the decision on this one.
    first_seen: Option<FirstSeen>,
}

impl<'a> Job<'a> {
    /// Settles what an entity is owed, as far as it is due now.
    pub(super) async fn work(env: &'a Env, entity_id: Uuid) -> Result<(), EngineError> {
        let mut job = Job {
            env,
            state: env.ctx.load(entity_id).await?,
            first_seen: None,
        };
        for _ in 0..MAX_STEPS {
            match job.step().await {
                Ok(Step::Progress) => continue,
                Err(EngineError::Conflict(_) | EngineError::Claimed(_)) => {
                    job.state = env.ctx.load(entity_id).await?
                }
                Ok(Step::Idle) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn step(&mut self) -> Result<Step, EngineError> {
        let (env, state) = (self.env, &mut self.state);
        let first_seen = self.first_seen.take();
        match state.next_work(Utc::now()) {
            NextWork::Forward { trigger, to } => {
                let trigger = trigger.clone();
                forward(env, state, to, &trigger).await?;
            }
            NextWork::Settle(pending) => {
                let pending = pending.clone();
                settle_pending(env, state, &pending).await?;
            }
            NextWork::Decide(_) if state.first_trigger_held().is_some() => {
                // Waiting for an initial sync's listing (see `hold`); released here once done.
                return Ok(match still_held(env, state).await? {
                    true => Step::Idle,
                    false => Step::Progress,
                });
            }
            NextWork::Decide(trigger) => {
                let trigger = trigger.clone();
                self.first_seen = decide_trigger(env, state, &trigger, first_seen).await?;
            }
            NextWork::Wait => return Ok(Step::Idle),
        }
        Ok(Step::Progress)
    }
}

/// Gathers, decides, records and writes; or, for a record seen for the first time, records it
/// and returns its fetch for the decision on the next step (G8).
async fn decide_trigger(
    env: &Env,
    state: &mut EntityState,
    trigger: &Trigger,
    first_seen: Option<FirstSeen>,
) -> Result<Option<FirstSeen>, EngineError> {
    let config = entity_config_for(&env.ctx.config.entities, state, trigger)
        .map_err(|e| EngineError::Invalid(e.to_string()))?
        .clone();
    let gathered = match gather(env, &config, state, trigger, first_seen).await? {
        Gather::Ready(gathered) => gathered,
        Gather::Recorded(first) => return Ok(Some(first)), // decided on the next step (G8)
    };
    let outcome = decide(&config, state, trigger, &gathered);
    if let Some(held) = held_by_listing(env, state, &config.name, trigger, &outcome).await? {
        hold(env, state, trigger, held).await?;
        return Ok(None);
    }
    // What was looked up and everything fetched is recorded first, so a replay hands
    // today's code exactly the same inputs.
    let mut own = gathered.recorded_events(trigger, state);
    own.extend(outcome.own.iter().cloned());
    let meta = meta(state, trigger.correlation_id, Some(trigger.event_id));
    let mut appends = vec![StreamAppend {
        stream_id: state.entity_id,
        expected: ExpectedVersion::Exact(state.version),
        events: chain(own, &meta),
    }];
    appends.extend(effects(&outcome, &meta));
    env.append_here(state, appends).await?;
    count_decisions(&outcome);
    count_conflicts(&state.tenant, &config.name, &outcome);
    perform_writes(env, state, trigger.correlation_id, &outcome).await?;
    Ok(None)
}

/// The appends of a decision's effects on other streams, each expecting the version the
/// decision saw.
fn effects(outcome: &Outcome, meta: &EventMeta) -> Vec<StreamAppend> {
    outcome
        .effects
        .iter()
        .map(|effect| StreamAppend {
            stream_id: effect.stream,
            expected: ExpectedVersion::Exact(effect.expected),
            events: chain(effect.events.clone(), meta),
        })
        .collect()
}

/// The record of this stream belongs to another entity: its work continues there
/// (`route::forward`).
async fn forward(
    env: &Env,
    state: &mut EntityState,
    target: Uuid,
    trigger: &Trigger,
) -> Result<(), EngineError> {
    let target_version = env.ctx.load(target).await?.version;
    let outcome =
        route::forward(state, trigger, (target, target_version), Utc::now()).ok_or_else(|| {
            EngineError::Invalid(format!(
                "the work {} of entity {} names no record to hand over to entity {target}",
                trigger.event_id, state.entity_id
            ))
        })?;
    let meta = meta(state, trigger.correlation_id, Some(trigger.event_id));
    let mut appends = vec![StreamAppend {
        stream_id: state.entity_id,
        expected: ExpectedVersion::Exact(state.version),
        events: chain(outcome.own.clone(), &meta),
    }];
    appends.extend(effects(&outcome, &meta));
    env.append_here(state, appends).await?;
    env.ctx.wake_workers();
    Ok(())
}

/// Conflicts found by this decision (an open review whose candidates moved is the same one).
fn count_conflicts(tenant: &str, entity: &str, outcome: &Outcome) {
    for event in &outcome.own {
        if let SyncEvent::ConflictDetected(c) = event
            && c.conflict_id == conflict_id(c.trigger_id, &c.field)
        {
            let labels = [
                ("tenant", tenant.to_string()),
                ("entity", entity.to_string()),
                ("field", c.field.clone()),
                ("policy", c.policy.as_str().to_string()),
            ];
            metrics::counter!("syncledger_conflicts_total", &labels).increment(1);
        }
    }
}

fn count_decisions(outcome: &Outcome) {
    for d in outcome.decisions() {
        metrics::counter!("syncledger_decisions_total", "kind" => d.kind.as_str()).increment(1);
    }
}
