//! The order of an entity's work: what a job does next, as a pure function of its state (G9).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::EntityState;
use crate::events::{Action, WorkHeld, WriteOp, WriteRequested};
use crate::log::{Position, RecordedEvent};

/// A unit of work owed to the entity: an observed change, a resync or a dead-letter retry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub event_id: Uuid,
    pub position: Position,
    pub kind: TriggerKind,
    /// The chain this work belongs to (the observed change that started it).
    pub correlation_id: Uuid,
    /// Failed attempts at this work so far ([`crate::events::WorkFailed`]).
    pub attempts: u32,
    /// Set after a failed attempt: not before this time.
    pub retry_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TriggerKind {
    Observed {
        system: String,
        collection: String,
        record_id: String,
        action: Action,
    },
    Resync {
        system: String,
        record_id: String,
    },
    DeadLetterRetry {
        dead_letter_id: Uuid,
    },
    /// A person resolved a conflict: the chosen value is written where it differs.
    Resolution {
        conflict_id: Uuid,
    },
}

impl Trigger {
    /// The system and record whose state this work must fetch, when it names one.
    pub fn source(&self) -> Option<(&str, &str)> {
        match &self.kind {
            TriggerKind::Observed {
                system, record_id, ..
            }
            | TriggerKind::Resync { system, record_id } => Some((system, record_id)),
            TriggerKind::DeadLetterRetry { .. } | TriggerKind::Resolution { .. } => None,
        }
    }
}

/// A write recorded as requested whose outcome the log does not hold yet (or that failed and will
/// be retried).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingWrite {
    pub request: WriteRequested,
    /// The event that requested it: the decision carrying it, or (in a log recorded before
    /// decisions carried their writes) its `WriteRequested`. The outcome's cause.
    pub requested_event_id: Uuid,
    pub correlation_id: Option<Uuid>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Set when the last attempt failed transiently: not before this time.
    pub retry_at: Option<DateTime<Utc>>,
}

/// What a job does next for an entity (see [`EntityState::next_work`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NextWork<'a> {
    /// This stream's record belongs to another entity: hand the trigger over to it.
    Forward { trigger: &'a Trigger, to: Uuid },
    /// A write without a final outcome whose (re)try is due.
    Settle(&'a PendingWrite),
    /// The oldest open trigger: fetch, decide, write.
    Decide(&'a Trigger),
    /// Nothing due now: no work, or the next work waits for a retry time.
    Wait,
}

impl EntityState {
    /// What to work next at `now`, in the engine's order:
    ///
    /// 1. a stream redirected to another entity hands its oldest trigger over;
    /// 2. a write without a final outcome is settled when its retry is due (or it never had an
    ///    answer), and while one waits for its retry, nothing else is done (work stays in order);
    /// 3. otherwise the oldest open trigger is decided, unless it failed and waits for its retry.
    pub fn next_work(&self, now: DateTime<Utc>) -> NextWork<'_> {
        if let (Some(to), Some(trigger)) = (self.redirected_to, self.open_triggers.first()) {
            return NextWork::Forward { trigger, to };
        }
        if let Some(pending) = self
            .pending_writes
            .values()
            .find(|p| p.retry_at.is_none_or(|at| at <= now))
        {
            return NextWork::Settle(pending);
        }
        if !self.pending_writes.is_empty() {
            return NextWork::Wait;
        }
        match self.open_triggers.first() {
            Some(trigger) if trigger.retry_at.is_none_or(|at| at <= now) => {
                NextWork::Decide(trigger)
            }
            _ => NextWork::Wait,
        }
    }

    /// The pending create towards `system`, if one is in flight.
    pub fn pending_create(&self, system: &str) -> Option<&PendingWrite> {
        self.pending_writes
            .values()
            .find(|p| p.request.op == WriteOp::Create && p.request.target_system == system)
    }

    /// The hold on the work owed first, when it waits for an initial sync's listing.
    pub fn first_trigger_held(&self) -> Option<&WorkHeld> {
        self.open_triggers
            .first()
            .and_then(|t| self.held.get(&t.event_id))
    }

    /// A write requested, by a decision (version 3) or by a `WriteRequested` of an older log:
    /// pending until its outcome, and what the sync wrote (its echoes, G3).
    pub(super) fn requested(&mut self, event: &RecordedEvent, e: WriteRequested) {
        let requested = self
            .requested_values
            .entry(e.target_system.clone())
            .or_default();
        for (field, value) in &e.fields {
            let values = requested.entry(field.clone()).or_default();
            match values.iter_mut().find(|(v, _)| v == value) {
                Some((_, at)) => *at = (*at).max(event.recorded_at),
                None => values.push((value.clone(), event.recorded_at)),
            }
        }
        if e.op != WriteOp::Delete {
            let written = self
                .sync_written
                .entry(e.target_system.clone())
                .or_default();
            for (field, value) in &e.fields {
                let values = written.entry(field.clone()).or_default();
                if !values.contains(value) {
                    values.push(value.clone());
                }
            }
        }
        self.pending_writes.insert(
            e.request_id,
            PendingWrite {
                request: e,
                requested_event_id: event.event_id,
                correlation_id: event.meta.correlation_id,
                attempts: 0,
                retry_at: None,
            },
        );
    }
}
