//! Work that failed for good or may be retried, and what people asked for: dead letters, failed
//! work items, replays, resyncs, and a person's retry or discard of a dead letter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Work that will not succeed by retrying: kept with its request and response for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLettered {
    pub request_id: Option<Uuid>,
    pub target_system: String,
    pub reason: String,
    pub request: Value,
    pub status: Option<u16>,
    /// The response body; `None` once the entity is erased (docs/privacy.md).
    pub body: Option<String>,
}

/// Work on a trigger failed for a reason other than a write's answer: a fetch answered in a way
/// that breaks the connector contract (a hostile id, another record), the configuration no
/// longer knows the system, or the job panicked. Like a failed write, the work is retried with
/// backoff (`will_retry`, `retry_at`) and, once the budget is spent, closed and dead-lettered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkFailed {
    /// The work item that failed (see [`super::DecisionMade::trigger_id`]).
    pub trigger_id: Uuid,
    pub reason: String,
    pub attempt: u32,
    pub will_retry: bool,
    pub retry_at: Option<DateTime<Utc>>,
    /// The record the work item names, when it names one (the queue row and a later retry
    /// of the dead letter fetch it again).
    pub system: Option<String>,
    pub record_id: Option<String>,
}

/// A person asked for something; `by` names them (the token's owner, never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayRequested {
    pub by: String,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResyncRequested {
    pub by: String,
    pub system: String,
    pub record_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterRetried {
    pub by: String,
    /// The event id of the `DeadLettered` event being retried.
    pub dead_letter_id: Uuid,
}

/// A person set a dead letter aside for good, saying why: it leaves the dead-letter list and
/// nothing is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterDiscarded {
    pub by: String,
    /// The event id of the `DeadLettered` event being discarded.
    pub dead_letter_id: Uuid,
    pub reason: String,
}
