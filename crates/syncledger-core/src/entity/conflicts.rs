//! What an entity knows for conditional writes and conflicts (G10), folded from its stream: the
//! `ETag` last seen per system, when each system was first seen holding each field's current
//! value, the refusals (`412`) in a row per system, and the conflict last recorded per field
//! until the systems agree on it again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::config::ConflictPolicy;
use crate::events::{Chosen, ConflictDetected, Fields, SyncEvent};
use crate::log::RecordedEvent;

/// A conflict recorded on a field and not yet settled by the systems agreeing on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenConflict {
    pub conflict_id: Uuid,
    pub policy: ConflictPolicy,
    /// System -> the value it held when the conflict was last recorded.
    pub candidates: BTreeMap<String, Value>,
    /// What was chosen: by the policy, or by a person; `None` while a review waits.
    pub chosen: Option<Chosen>,
    /// Who chose, when a person did.
    pub resolved_by: Option<String>,
    /// The conflict as last recorded (its sides with their observation times).
    pub recorded: ConflictDetected,
    /// The entity was erased after the conflict was last recorded: its candidates' values are
    /// gone (they read as `null`), so nobody may resolve it; the systems' next change records it
    /// again, with values (docs/privacy.md). Absent from snapshots written before it existed.
    #[serde(default)]
    pub erased: bool,
}

impl OpenConflict {
    /// A review nobody has resolved yet: the field is held.
    pub fn is_held(&self) -> bool {
        self.chosen.is_none()
    }
}

/// The conflict side of an entity's state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConflictBook {
    /// Per system, the `ETag` of its record as last seen (fetched, or in a write's answer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub etags: BTreeMap<String, String>,
    /// Per system and canonical field, when the system was first seen holding its current value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub observed: BTreeMap<String, BTreeMap<String, DateTime<Utc>>>,
    /// Per system, the writes refused with `412` in a row (reset by a write that lands).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<String, u32>,
    /// Per canonical field, the conflict last recorded on it, until settled.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub open: BTreeMap<String, OpenConflict>,
}

impl ConflictBook {
    /// Folds what `event` says about ETags, observations and conflicts. `known` is the
    /// entity's last known values per system before the event.
    pub(super) fn note(
        &mut self,
        sync: &SyncEvent,
        event: &RecordedEvent,
        known: &BTreeMap<String, Fields>,
    ) {
        match sync {
            SyncEvent::RecordFetched(e) if e.found => {
                self.set_etag(&e.system, e.etag.as_ref());
                self.seen(&e.system, &e.fields, known.get(&e.system), event);
            }
            SyncEvent::RecordFetched(e) => self.forget(&e.system),
            SyncEvent::WriteSucceeded(e) => {
                self.refused.remove(&e.target_system);
                self.set_etag(&e.target_system, e.etag.as_ref());
                self.seen(
                    &e.target_system,
                    &e.fields,
                    known.get(&e.target_system),
                    event,
                );
            }
            SyncEvent::RecordUnlinked(e) => self.forget(&e.system),
            SyncEvent::WritePreconditionFailed(e) => {
                self.refused.insert(e.target_system.clone(), e.attempt);
            }
            SyncEvent::ConflictDetected(e) => {
                self.open.insert(e.field.clone(), open_conflict(e));
            }
            SyncEvent::EntityErased(_) => {
                self.open.values_mut().for_each(|open| open.erased = true);
            }
            SyncEvent::ConflictResolved(e) => {
                if let Some(open) = self
                    .open
                    .get_mut(&e.field)
                    .filter(|o| o.conflict_id == e.conflict_id)
                {
                    open.chosen = Some(e.chosen.clone());
                    open.resolved_by = Some(e.by.clone());
                }
            }
            _ => {}
        }
    }

    /// A conflict whose chosen value every linked system now holds is settled.
    pub(super) fn settle(&mut self, known: &BTreeMap<String, Fields>) {
        if known.len() < 2 {
            return;
        }
        self.open.retain(|field, open| {
            let Some(chosen) = &open.chosen else {
                return true;
            };
            !known
                .values()
                .all(|fields| fields.get(field).unwrap_or(&Value::Null) == &chosen.value)
        });
    }

    /// The refusals in a row for `system` so far.
    pub fn refusals(&self, system: &str) -> u32 {
        self.refused.get(system).copied().unwrap_or_default()
    }

    /// When `system` was first seen holding its current value of `field`.
    pub fn observed_at(&self, system: &str, field: &str) -> Option<DateTime<Utc>> {
        self.observed.get(system)?.get(field).copied()
    }

    fn set_etag(&mut self, system: &str, etag: Option<&String>) {
        match etag {
            Some(etag) => {
                self.etags.insert(system.to_string(), etag.clone());
            }
            None => {
                self.etags.remove(system);
            }
        }
    }

    fn seen(
        &mut self,
        system: &str,
        fields: &Fields,
        before: Option<&Fields>,
        event: &RecordedEvent,
    ) {
        let observed = self.observed.entry(system.to_string()).or_default();
        observed.retain(|field, _| fields.contains_key(field));
        for (field, value) in fields {
            if before.and_then(|b| b.get(field)) != Some(value) || !observed.contains_key(field) {
                observed.insert(field.clone(), event.recorded_at);
            }
        }
    }

    fn forget(&mut self, system: &str) {
        self.etags.remove(system);
        self.observed.remove(system);
    }
}

fn open_conflict(e: &ConflictDetected) -> OpenConflict {
    OpenConflict {
        conflict_id: e.conflict_id,
        policy: e.policy,
        candidates: e
            .candidates
            .iter()
            .map(|c| (c.system.clone(), c.value.clone()))
            .collect(),
        chosen: e.chosen.clone(),
        resolved_by: None,
        recorded: e.clone(),
        erased: false,
    }
}
