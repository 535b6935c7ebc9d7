//! `pending_queue`: the work the sync still owes, ordered by when it is due.
//!
//! Two kinds of rows. A trigger (`trigger/{event_id}`) is a change observed, a resync or a dead
//! letter retry not yet settled by a decision (or handed to another entity by a redirect). A
//! write (`write/{request_id}`) is a requested write whose outcome is not known yet, or that
//! failed and waits for its retry. The sort key is the due time followed by the position, so a
//! worker takes everything with `sort_key <= due_sort_key(now)` in order. Inline, so work a
//! webhook's 202 promised is in the queue in the same commit as the observation (G4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, doc, row, time_position_key};
use crate::events::{SyncEvent, WriteRequested};
use crate::log::{Position, RecordedEvent};
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "pending_queue";
pub const TRIGGER_PREFIX: &str = "trigger/";
pub const WRITE_PREFIX: &str = "write/";

pub fn trigger_key(trigger_id: Uuid) -> String {
    format!("{TRIGGER_PREFIX}{trigger_id}")
}

/// The sort keys of the triggers held for an initial sync (`WorkHeld`) start with this: after
/// every time, so never due, until `WorkReleased` puts the row back in time order.
pub fn held_prefix(initial_sync: Uuid) -> String {
    format!("~held/{initial_sync}/")
}

pub fn write_key(request_id: Uuid) -> String {
    format!("{WRITE_PREFIX}{request_id}")
}

/// The upper bound of the rows due at `now`: every row due at or before it sorts below it.
pub fn due_sort_key(now: DateTime<Utc>) -> String {
    format!("{}/{}", super::sortable_time(now), "9".repeat(20))
}

/// A trigger row's doc: work asked for by an observation or a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// The event type that asked for the work (`ChangeObserved`, `RecordDiscovered`,
    /// `ResyncRequested`, `DeadLetterRetried`, `ConflictResolved`, `WritePreconditionFailed`), or that last moved it (`WorkHeld`: waiting for
    /// an initial sync, not due; `WorkReleased`: due again).
    pub kind: String,
    pub entity_id: Uuid,
    /// The record to fetch (absent for a dead letter retry: the letter says what to redo).
    pub system: Option<String>,
    pub record_id: Option<String>,
    /// The asking event's id; the decision that settles it names it.
    pub trigger_id: Uuid,
    pub dead_letter_id: Option<Uuid>,
    pub due_at: DateTime<Utc>,
    pub position: Position,
}

/// A write row's doc: a write whose outcome is still owed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingWrite {
    /// `WriteRequested` (not tried yet, or its outcome was lost; whether the request came as its
    /// own event or in its decision) or `WriteFailed` (awaiting retry).
    pub kind: String,
    pub entity_id: Uuid,
    pub request_id: Uuid,
    pub target_system: String,
    /// Attempts made so far: 0 when just requested.
    pub attempt: u32,
    pub due_at: DateTime<Utc>,
    /// The position of the event that put this row.
    pub position: Position,
    /// The request itself, on the row its request put; a retry row leaves it out (a
    /// handler sees one event only), and the worker reads it from the entity's stream.
    pub request: Option<WriteRequested>,
    pub last_status: Option<u16>,
    // No response body here: this table is not sealed, and a body may quote a person's values
    // (docs/privacy.md). The body stays in the `WriteFailed` event at `position`, sealed; the
    // API reads it from there. Rows written before kept it as `last_error`, ignored on read.
}

impl PendingWrite {
    /// Whether the write was requested and no attempt at it has an outcome (its process died,
    /// or another process has it in flight): only the row its `WriteRequested` put carries the
    /// request; a failed attempt's row, awaiting its retry, does not.
    pub fn unanswered(&self) -> bool {
        self.request.is_some()
    }
}

pub struct PendingQueue;

impl Projection for PendingQueue {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    /// Due work in time order, every tenant's (the workers) or one tenant's (the API); the
    /// queue's depth (`syncStatus`, the gauges) from the kept count.
    fn lookups(&self) -> Lookups {
        Lookups {
            entity: false,
            counted: true,
            ..Lookups::ALL
        }
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let Some(decoded) = decode(event) else {
            return vec![];
        };
        let trigger = |system: Option<String>, record_id: Option<String>, letter: Option<Uuid>| {
            let item = Trigger {
                kind: decoded.event_type().to_string(),
                entity_id: event.stream_id,
                system,
                record_id,
                trigger_id: event.event_id,
                dead_letter_id: letter,
                due_at: event.recorded_at,
                position: event.position,
            };
            let sort_key = time_position_key(event.recorded_at, event.position);
            let key = trigger_key(event.event_id);
            vec![RowOp::Put(row(
                event,
                key,
                Some(event.stream_id),
                sort_key,
                doc(item),
            ))]
        };
        // An existing trigger's row put again (a retry time, a hold, a release), under the
        // sort key that says when it is due.
        let requeue = |trigger_id: Uuid,
                       system: &Option<String>,
                       record_id: &Option<String>,
                       due_at: DateTime<Utc>,
                       sort_key: String| {
            let item = Trigger {
                kind: decoded.event_type().to_string(),
                entity_id: event.stream_id,
                system: system.clone(),
                record_id: record_id.clone(),
                trigger_id,
                dead_letter_id: None,
                due_at,
                position: event.position,
            };
            vec![RowOp::Put(row(
                event,
                trigger_key(trigger_id),
                Some(event.stream_id),
                sort_key,
                doc(item),
            ))]
        };
        let write = |item: PendingWrite| {
            let sort_key = time_position_key(item.due_at, event.position);
            let key = write_key(item.request_id);
            vec![RowOp::Put(row(
                event,
                key,
                Some(event.stream_id),
                sort_key,
                doc(item),
            ))]
        };
        // A requested write, carried by its decision or (an older log) a `WriteRequested`: the
        // row is the same, its kind `WriteRequested` either way.
        let requested = |e: &WriteRequested| {
            write(PendingWrite {
                kind: "WriteRequested".into(),
                entity_id: event.stream_id,
                request_id: e.request_id,
                target_system: e.target_system.clone(),
                attempt: 0,
                due_at: event.recorded_at,
                position: event.position,
                request: Some(e.clone()),
                last_status: None,
            })
        };
        match &decoded {
            SyncEvent::ChangeObserved(e) => {
                trigger(Some(e.system.clone()), Some(e.record_id.clone()), None)
            }
            SyncEvent::ResyncRequested(e) => {
                trigger(Some(e.system.clone()), Some(e.record_id.clone()), None)
            }
            SyncEvent::DeadLetterRetried(e) => trigger(None, None, Some(e.dead_letter_id)),
            // A person's choice is written by the workers: work owed like a resync.
            SyncEvent::ConflictResolved(_) => trigger(None, None, None),
            // A write refused with 412 is settled; the record is fetched again and the entity
            // decided again (the event is that work), when its wait is over.
            SyncEvent::WritePreconditionFailed(e) => {
                let due_at = e.retry_at.unwrap_or(event.recorded_at);
                let sort_key = time_position_key(due_at, event.position);
                let (system, record_id) =
                    (Some(e.target_system.clone()), Some(e.record_id.clone()));
                let mut ops = vec![RowOp::Delete {
                    key: write_key(e.request_id),
                }];
                ops.extend(requeue(
                    event.event_id,
                    &system,
                    &record_id,
                    due_at,
                    sort_key,
                ));
                ops
            }
            // A failed trigger waits for its retry: its row moves to the retry time.
            SyncEvent::WorkFailed(e) if e.will_retry => {
                let due_at = e.retry_at.unwrap_or(event.recorded_at);
                let sort_key = time_position_key(due_at, event.position);
                requeue(e.trigger_id, &e.system, &e.record_id, due_at, sort_key)
            }
            SyncEvent::WorkFailed(e) => settle(Some(e.trigger_id)),
            SyncEvent::RecordDiscovered(e) => {
                trigger(Some(e.system.clone()), Some(e.record_id.clone()), None)
            }
            SyncEvent::WorkHeld(e) => {
                let sort_key = format!(
                    "{}{:020}",
                    held_prefix(e.initial_sync),
                    event.position.0.max(0)
                );
                let (system, record_id) = (&e.system, &e.record_id);
                requeue(e.trigger_id, system, record_id, event.recorded_at, sort_key)
            }
            SyncEvent::WorkReleased(e) => {
                let sort_key = time_position_key(event.recorded_at, event.position);
                let (system, record_id) = (&e.system, &e.record_id);
                requeue(e.trigger_id, system, record_id, event.recorded_at, sort_key)
            }
            SyncEvent::DecisionMade(e) => {
                let mut ops = settle(e.trigger_id);
                ops.extend(e.write.as_ref().map(requested).unwrap_or_default());
                ops
            }
            // Coalesced: settled by this group's fetch and decision (`decide::coalesce`).
            SyncEvent::InputsGathered(e) => {
                e.covers.iter().flat_map(|t| settle(Some(*t))).collect()
            }
            SyncEvent::RedirectedTo(e) => settle(e.trigger_id),
            // An older log's request (before decisions carried theirs).
            SyncEvent::WriteRequested(e) => requested(e),
            SyncEvent::WriteFailed(e) if e.will_retry => write(PendingWrite {
                kind: decoded.event_type().to_string(),
                entity_id: event.stream_id,
                request_id: e.request_id,
                target_system: e.target_system.clone(),
                attempt: e.attempt,
                due_at: e.retry_at.unwrap_or(event.recorded_at),
                position: event.position,
                request: None,
                last_status: e.status,
            }),
            SyncEvent::WriteFailed(e) => vec![RowOp::Delete {
                key: write_key(e.request_id),
            }],
            SyncEvent::WriteSucceeded(e) => vec![RowOp::Delete {
                key: write_key(e.request_id),
            }],
            SyncEvent::DeadLettered(e) => match e.request_id {
                Some(request_id) => vec![RowOp::Delete {
                    key: write_key(request_id),
                }],
                None => vec![],
            },
            _ => vec![],
        }
    }
}

fn settle(trigger_id: Option<Uuid>) -> Vec<RowOp> {
    trigger_id
        .map(|t| RowOp::Delete {
            key: trigger_key(t),
        })
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests;
