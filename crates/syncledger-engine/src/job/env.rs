//! What a job is given, and how it records: the context, the one retry policy, and the helpers
//! every step appends with. A leaf of the job room: each step module uses it, it uses none.

use chrono::{DateTime, Utc};
use rand::Rng;
use std::time::Duration;
use syncledger_core::decide::retry::{AfterFailure, RetryPolicy};
use syncledger_core::entity::EntityState;
use syncledger_core::events::SyncEvent;
use syncledger_core::log::{Appended, EventMeta, NewEvent, RecordedEvent, StreamAppend};
use uuid::Uuid;

use crate::context::Context;
use crate::error::EngineError;
use crate::settings::Gate;

/// Cheap to clone.
#[derive(Clone)]
pub(crate) struct Env {
    pub ctx: Context,
    pub retry: RetryPolicy,
    /// The tests' seam between recording a record first and deciding on it (G8).
    pub gate: Option<Gate>,
}

impl Env {
    /// Whether attempt `attempt` that just failed is tried again, and when: the core's one
    /// retry policy (`decide::retry`), with the jitter drawn here.
    pub fn retry_after_failure(
        &self,
        attempt: u32,
        asked: Option<Duration>,
    ) -> (bool, Option<DateTime<Utc>>) {
        let jitter = rand::rng().random_range(0.0..=1.0);
        match self
            .retry
            .after_failure(attempt, true, asked, Utc::now(), jitter)
        {
            AfterFailure::RetryAt(at) => (true, Some(at)),
            AfterFailure::GiveUp => (false, None),
        }
    }

    /// When a record refused a write with `412` for the `refusals`-th time in a row is fetched
    /// again (`RetryPolicy::after_refusal`), with the jitter drawn here.
    pub fn refetch_after_refusal(&self, refusals: u32) -> Option<DateTime<Utc>> {
        let jitter = rand::rng().random_range(0.0..=1.0);
        self.retry.after_refusal(refusals, Utc::now(), jitter)
    }

    /// Appends, and on success folds the events of the state's own stream into it. A conflict
    /// leaves the state as it was: the caller reads the stream again.
    pub async fn append_here(
        &self,
        state: &mut EntityState,
        appends: Vec<StreamAppend>,
    ) -> Result<Vec<Appended>, EngineError> {
        let own: Vec<_> = appends
            .iter()
            .filter(|a| a.stream_id == state.entity_id)
            .flat_map(|a| a.events.iter().cloned())
            .collect();
        let appended = self.ctx.store.append(appends).await?;
        for event in own {
            let Some(at) = appended.iter().find(|a| a.event_id == event.event_id) else {
                continue;
            };
            state.apply(&RecordedEvent::landed(event, at));
        }
        Ok(appended)
    }
}

/// The envelope fields of events an entity's job appends.
pub(crate) fn meta(state: &EntityState, correlation: Uuid, causation: Option<Uuid>) -> EventMeta {
    EventMeta {
        tenant: state.tenant.clone(),
        correlation_id: Some(correlation),
        causation_id: causation,
    }
}

/// Envelopes for a run of events where each one is caused by the one before it (the first by the
/// work item given in `meta`).
pub(crate) fn chain(events: Vec<SyncEvent>, meta: &EventMeta) -> Vec<NewEvent> {
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
