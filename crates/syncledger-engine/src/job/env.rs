//! What a job is given, and how it records: the context, the one retry policy, and the helpers
//! every step appends with. A leaf of the job room: each step module uses it, it uses none.

use chrono::Utc;
use rand::Rng;
use syncledger_core::decide::attempt::Around;
use syncledger_core::decide::retry::RetryPolicy;
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
    /// What the core's `after_attempt` reads around an attempt besides its answer: the clock,
    /// and the jitter of the one retry policy's backoff, drawn here so the choice stays pure.
    pub fn around(&self, announced_before_link: bool, linked_elsewhere: bool) -> Around {
        Around {
            now: Utc::now(),
            jitter: rand::rng().random_range(0.0..=1.0),
            announced_before_link,
            linked_elsewhere,
        }
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
