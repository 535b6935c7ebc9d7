//! Working one entity: read its stream, settle what is owed, one item at a time, in log order.
//!
//! A job reads the entity's stream once and keeps the folded state in memory, folding in what
//! its own appends add. Every append carries the version the state was folded to, so two
//! workers that somehow hold the same entity (an expired lease), or a webhook recorded for the
//! entity meanwhile, cannot be overlooked: the append fails with a conflict, the job reads the
//! stream again and continues from what is there now (G1, G9).

use chrono::Utc;
use syncledger_core::decide::{Outcome, decide};
use syncledger_core::entity::{EntityState, NextWork, Trigger, TriggerKind};
use syncledger_core::events::{
    Basis, ChangeObserved, DeadLetterRetried, RecordFetched, RedirectedTo, ResyncRequested,
    SyncEvent,
};
use syncledger_core::log::{Appended, EventMeta, ExpectedVersion, RecordedEvent, StreamAppend};
use uuid::Uuid;

use crate::error::EngineError;
use crate::ledger::Ledger;

/// Steps one entity may take in one job before it yields to others.
const MAX_STEPS: usize = 64;

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Progress,
    /// Nothing due now (work may remain, e.g. a retry scheduled later).
    Idle,
}

impl Ledger {
    /// Reads and folds an entity's stream.
    pub async fn load(&self, entity_id: Uuid) -> Result<EntityState, EngineError> {
        let events = self.store().read_stream(entity_id, 1, i64::MAX).await?;
        Ok(EntityState::fold(entity_id, &events))
    }

    /// Settles what an entity is owed, as far as it is due now.
    pub async fn process_entity(&self, entity_id: Uuid) -> Result<(), EngineError> {
        let mut state = self.load(entity_id).await?;
        for _ in 0..MAX_STEPS {
            match self.step(&mut state).await {
                Ok(Step::Progress) => continue,
                Err(EngineError::Conflict(_)) => state = self.load(entity_id).await?,
                Ok(Step::Idle) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Appends, and on success folds the events of the state's own stream into it. A conflict
    /// leaves the state as it was: the caller reads the stream again.
    pub(crate) async fn append_here(
        &self,
        state: &mut EntityState,
        appends: Vec<StreamAppend>,
    ) -> Result<Vec<Appended>, EngineError> {
        let own: Vec<_> = appends
            .iter()
            .filter(|a| a.stream_id == state.entity_id)
            .flat_map(|a| a.events.iter().cloned())
            .collect();
        let appended = self.store().append(appends).await?;
        for event in own {
            let Some(at) = appended.iter().find(|a| a.event_id == event.event_id) else {
                continue;
            };
            state.apply(&RecordedEvent::landed(event, at));
        }
        Ok(appended)
    }

    async fn step(&self, state: &mut EntityState) -> Result<Step, EngineError> {
        match state.next_work(Utc::now()) {
            NextWork::Forward { trigger, to } => {
                let trigger = trigger.clone();
                self.forward(state, to, &trigger).await?;
            }
            NextWork::Settle(pending) => {
                let pending = pending.clone();
                self.settle_pending(state, &pending).await?;
            }
            NextWork::Decide(_) if state.first_trigger_held().is_some() => {
                // Waiting for an initial sync's listing (see `hold`); released here once done.
                return Ok(match self.still_held(state).await? {
                    true => Step::Idle,
                    false => Step::Progress,
                });
            }
            NextWork::Decide(trigger) => {
                let trigger = trigger.clone();
                self.decide_trigger(state, &trigger).await?;
            }
            NextWork::Wait => return Ok(Step::Idle),
        }
        Ok(Step::Progress)
    }

    async fn decide_trigger(
        &self,
        state: &mut EntityState,
        trigger: &Trigger,
    ) -> Result<(), EngineError> {
        // A resync asked for a record no webhook ever announced has no type in its stream yet:
        // it is the one configured entity that syncs that system.
        let entity_type = match (&state.entity_type, &trigger.kind) {
            (Some(t), _) => t.clone(),
            (None, TriggerKind::Resync { system, .. }) => {
                let mut candidates = self
                    .config()
                    .entities
                    .iter()
                    .filter(|e| e.systems.contains_key(system));
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => only.name.clone(),
                    _ => String::new(),
                }
            }
            (None, _) => String::new(),
        };
        let config = self
            .entity_config(&entity_type)
            .ok_or_else(|| {
                EngineError::Invalid(format!("entity type {entity_type} is not configured"))
            })?
            .clone();
        if let TriggerKind::DeadLetterRetry { dead_letter_id } = &trigger.kind {
            return self
                .retry_dead_letter(state, trigger, *dead_letter_id)
                .await;
        }
        let Some(gathered) = self.gather(&config, state, trigger).await? else {
            return Ok(()); // the record was recorded first (G8): decided on the next step
        };
        let outcome = decide(&config, state, trigger, &gathered);
        if let Some(held) = self
            .hold_for_listing(state, &config.name, trigger, &outcome)
            .await?
        {
            return self.hold(state, trigger, held).await;
        }
        // What was looked up and everything fetched is recorded first, so a replay hands
        // today's code exactly the same inputs.
        let mut own = vec![SyncEvent::InputsGathered(gathered.recorded(trigger))];
        own.extend(gathered.fetched.clone().map(SyncEvent::RecordFetched));
        for (system, fields) in &gathered.fresh_targets {
            let record_id = state
                .links
                .get(system)
                .map(|l| l.record_id.clone())
                .unwrap_or_default();
            own.push(SyncEvent::RecordFetched(RecordFetched {
                system: system.clone(),
                record_id,
                found: true,
                fields: fields.clone(),
            }));
        }
        own.extend(outcome.own.iter().cloned());
        let meta = self.meta(state, trigger.correlation_id, Some(trigger.event_id));
        let mut appends = vec![StreamAppend {
            stream_id: state.entity_id,
            expected: ExpectedVersion::Exact(state.version),
            events: chain(own, &meta),
        }];
        for effect in &outcome.effects {
            appends.push(StreamAppend {
                stream_id: effect.stream,
                expected: ExpectedVersion::Exact(effect.expected),
                events: chain(effect.events.clone(), &meta),
            });
        }
        self.append_here(state, appends).await?;
        count_decisions(&outcome);
        self.perform_writes(state, trigger.correlation_id, &outcome)
            .await
    }

    /// The record of this stream belongs to another entity: its work continues there.
    async fn forward(
        &self,
        state: &mut EntityState,
        target: Uuid,
        trigger: &Trigger,
    ) -> Result<(), EngineError> {
        let target_state = self.load(target).await?;
        let handed = match &trigger.kind {
            TriggerKind::Observed {
                system,
                collection,
                record_id,
                action,
            } => SyncEvent::ChangeObserved(ChangeObserved {
                entity_type: state.entity_type.clone().unwrap_or_default(),
                system: system.clone(),
                collection: collection.clone(),
                record_id: record_id.clone(),
                action: *action,
                webhook_event_id: format!("forwarded:{}", trigger.event_id),
                occurred_at: Utc::now(),
            }),
            TriggerKind::Resync { system, record_id } => {
                SyncEvent::ResyncRequested(ResyncRequested {
                    by: "forwarded".into(),
                    system: system.clone(),
                    record_id: record_id.clone(),
                })
            }
            TriggerKind::DeadLetterRetry { dead_letter_id } => {
                SyncEvent::DeadLetterRetried(DeadLetterRetried {
                    by: "forwarded".into(),
                    dead_letter_id: *dead_letter_id,
                })
            }
        };
        let (system, record_id) = trigger
            .source()
            .map(|(s, r)| (s.to_string(), r.to_string()))
            .unwrap_or_default();
        let meta = self.meta(state, trigger.correlation_id, Some(trigger.event_id));
        let here = SyncEvent::RedirectedTo(RedirectedTo {
            trigger_id: Some(trigger.event_id),
            entity_id: target,
            system,
            record_id: record_id.clone(),
            basis: Basis::LinkedElsewhere {
                record_id,
                entity_id: target,
            },
        });
        let appends = vec![
            StreamAppend {
                stream_id: state.entity_id,
                expected: ExpectedVersion::Exact(state.version),
                events: chain(vec![here], &meta),
            },
            StreamAppend {
                stream_id: target,
                expected: ExpectedVersion::Exact(target_state.version),
                events: chain(vec![handed], &meta),
            },
        ];
        self.append_here(state, appends).await?;
        self.wake_workers();
        Ok(())
    }

    pub(crate) fn meta(
        &self,
        state: &EntityState,
        correlation: Uuid,
        causation: Option<Uuid>,
    ) -> EventMeta {
        EventMeta {
            tenant: state.tenant.clone(),
            correlation_id: Some(correlation),
            causation_id: causation,
        }
    }
}

/// Envelopes for a run of events where each one is caused by the one before it (the first by the
/// work item given in `meta`).
pub(crate) fn chain(
    events: Vec<SyncEvent>,
    meta: &EventMeta,
) -> Vec<syncledger_core::log::NewEvent> {
    let mut causation = meta.causation_id;
    events
        .into_iter()
        .map(|event| {
            let new = event.to_new(EventMeta {
                causation_id: causation,
                ..meta.clone()
            });
            causation = Some(new.event_id);
            new
        })
        .collect()
}

fn count_decisions(outcome: &Outcome) {
    for d in outcome.decisions() {
        metrics::counter!("syncledger_decisions_total", "kind" => d.kind.as_str()).increment(1);
    }
}
