//! `conflicts`: every conflict the sync recorded (G10), for people to find and resolve.
//!
//! One row per conflict, keyed by its id. `ConflictDetected` puts the row (an open review
//! recorded again with new candidates replaces it); a person's `ConflictResolved` puts it again,
//! closed, with the choice and who made it (the event carries the whole conflict, so the handler
//! needs nothing but the event). Sort keys start with `open/` or `closed/` then the time of
//! detection, so the open reviews of a tenant are one range, oldest first.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, doc, row, time_position_key};
use crate::config::ConflictPolicy;
use crate::events::{Candidate, Chosen, SyncEvent};
use crate::log::RecordedEvent;
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "conflicts";
/// Sort key prefix of the conflicts waiting for a person.
pub const OPEN_PREFIX: &str = "open/";
/// Sort key prefix of the conflicts decided (by the policy or a person).
pub const CLOSED_PREFIX: &str = "closed/";

pub fn key(conflict_id: Uuid) -> String {
    conflict_id.to_string()
}

/// A conflict's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictRow {
    pub conflict_id: Uuid,
    pub entity_id: Uuid,
    pub field: String,
    pub policy: ConflictPolicy,
    pub open: bool,
    pub detected_at: DateTime<Utc>,
    pub candidates: Vec<Candidate>,
    pub chosen: Option<Chosen>,
    pub resolved_by: Option<String>,
}

pub struct Conflicts;

impl Projection for Conflicts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::CatchUp
    }

    fn holds_values(&self) -> bool {
        true
    }

    fn lookups(&self) -> Lookups {
        Lookups::ALL
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let conflict = match decode(event) {
            Some(SyncEvent::ConflictDetected(e)) => ConflictRow {
                conflict_id: e.conflict_id,
                entity_id: event.stream_id,
                open: e.chosen.is_none(),
                field: e.field,
                policy: e.policy,
                detected_at: e.detected_at,
                candidates: e.candidates,
                chosen: e.chosen,
                resolved_by: None,
            },
            Some(SyncEvent::ConflictResolved(e)) => ConflictRow {
                conflict_id: e.conflict_id,
                entity_id: event.stream_id,
                open: false,
                field: e.field,
                policy: e.policy,
                detected_at: e.detected_at,
                candidates: e.candidates,
                chosen: Some(e.chosen),
                resolved_by: Some(e.by),
            },
            _ => return vec![],
        };
        let prefix = if conflict.open {
            OPEN_PREFIX
        } else {
            CLOSED_PREFIX
        };
        let sort_key = format!(
            "{prefix}{}",
            time_position_key(conflict.detected_at, event.position)
        );
        let key = key(conflict.conflict_id);
        vec![RowOp::Put(row(
            event,
            key,
            Some(event.stream_id),
            sort_key,
            doc(conflict),
        ))]
    }
}
