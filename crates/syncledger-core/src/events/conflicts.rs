//! The events of a conflict (CONTRACT §3, G10): a field both linked records changed since the
//! ledger last synced it, what the policy chose, a person's choice, and a conditional write
//! refused because the record changed under the ledger (`412`).
//!
//! A conflict keeps both values with their systems and observation times, whatever the policy
//! chose, so the loser's value is always in the log. `conflict_id` is derived from the work item
//! that found it and the field ([`conflict_id`]), so a replay finds the same ids; an open review
//! whose candidates change is recorded again under the same id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::config::ConflictPolicy;

/// One side of a conflict: the value a system held when the ledger observed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub system: String,
    pub value: Value,
    /// When the ledger first saw the system holding this value (the fetch's time).
    pub observed_at: DateTime<Utc>,
}

/// The value a conflict ends with: one system's (`system`), or a value a person entered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chosen {
    pub system: Option<String>,
    pub value: Value,
}

/// Both linked records changed `field` since the last sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictDetected {
    pub conflict_id: Uuid,
    /// The work item whose decision found it.
    pub trigger_id: Uuid,
    pub field: String,
    /// Every side's value, in system order.
    pub candidates: Vec<Candidate>,
    pub policy: ConflictPolicy,
    /// What the policy chose; `None` while a review waits for a person.
    pub chosen: Option<Chosen>,
    /// When the conflict was first found (an open review recorded again keeps it).
    pub detected_at: DateTime<Utc>,
}

impl ConflictDetected {
    /// The candidates that lost: every side whose value is not the chosen one.
    pub fn losers(&self) -> impl Iterator<Item = &Candidate> {
        let chosen = self.chosen.as_ref().map(|c| &c.value);
        self.candidates
            .iter()
            .filter(move |c| chosen.is_some_and(|v| *v != c.value))
    }
}

/// A person resolved a conflict: keep one system's value, or write a value of their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictResolved {
    pub conflict_id: Uuid,
    pub field: String,
    pub chosen: Chosen,
    /// Who decided (the token's owner, never the token).
    pub by: String,
    /// The conflict as it stood when the person decided: its sides, policy and first detection,
    /// so the event tells the whole story on its own.
    pub candidates: Vec<Candidate>,
    pub policy: ConflictPolicy,
    pub detected_at: DateTime<Utc>,
}

/// A conditional write was refused with `412 Precondition Failed`: the target record changed
/// since the ledger last saw it. Not a failure: the record is fetched again and the entity
/// decided again (the event opens that work), after a wait that grows while the record keeps
/// changing (`attempt` counts the refusals in a row for this system).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WritePreconditionFailed {
    pub request_id: Uuid,
    pub target_system: String,
    pub record_id: String,
    /// The `If-Match` sent.
    pub if_match: Option<String>,
    pub attempt: u32,
    /// Not before this time is the record fetched again (none: at once).
    pub retry_at: Option<DateTime<Utc>>,
}

/// The id of the conflict on `field` found by the work item `trigger_id`.
pub fn conflict_id(trigger_id: Uuid, field: &str) -> Uuid {
    Uuid::new_v5(&trigger_id, format!("conflict/{field}").as_bytes())
}
