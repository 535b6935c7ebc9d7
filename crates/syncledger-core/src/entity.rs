//! An entity's state, folded from its stream.
//!
//! The sync never keeps entity state anywhere but the log: before it decides anything for an
//! entity it reads the entity's stream and folds it with [`EntityState::fold`]. The fold is pure and
//! total, so the same stream always gives the same state, which is what makes replays honest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::events::{Action, DeadLetterRequest, Fields, RecordRef, SyncEvent, WorkHeld, WriteOp};
use crate::log::{Position, RecordedEvent};

/// The entity's record in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub collection: String,
    pub record_id: String,
}

/// A value the sync asked to write into a field, and when it last asked (recorded-at time).
pub type Requested = (Value, DateTime<Utc>);

/// Everything the decision core needs to know about one entity. Serialized only as an archive
/// snapshot (`crate::snapshot`), which leaves empty members out (an entity uses few of them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EntityState {
    pub entity_id: Uuid,
    pub tenant: String,
    pub entity_type: Option<String>,
    /// Last sequence number: the expected version of the next append.
    pub version: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, Link>,
    /// Canonical values last seen in each system (fetched, or returned by our write).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub known: BTreeMap<String, Fields>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_writes: BTreeMap<Uuid, PendingWrite>,
    /// Work owed, in log order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_triggers: Vec<Trigger>,
    /// Set when this stream turned out to belong to another entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirected_to: Option<Uuid>,
    /// The record that made it belong there (the first redirect's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirected_record: Option<RecordRef>,
    /// Per canonical field, the position of the observation that last changed it and in which system.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub field_sources: BTreeMap<String, (String, Position)>,
    /// Per system and canonical field, the values the sync wrote there that the system has not
    /// since been seen to replace. Only these can come back as an echo: once the system was seen
    /// holding something else, finding an older written value there again means someone put it
    /// back (an undo), which is the system's own change and must flow back (G3, G5).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sync_written: BTreeMap<String, BTreeMap<String, Vec<Value>>>,
    /// Per canonical field, the value the linked systems last agreed on: written by the sync, or
    /// seen equal on every side. The base a change is measured against: a source still holding
    /// it did not change the field, so a different value in the target is the target's own
    /// newer change and must not be overwritten (G3, G5).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub synced: BTreeMap<String, Value>,
    /// Per system and canonical field, every value the sync asked to write there, with the
    /// recorded-at time of its latest request: the facts this entity's `wrote/` rows of
    /// `round_trip_context` hold, kept here so a job reads its echo context from the stream it
    /// already read instead of querying the table (see [`EntityState::written_within`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requested_values: BTreeMap<String, BTreeMap<String, Vec<Requested>>>,
    /// Per system, the record the initial sync found filed here and its fields as listed, until
    /// the record is linked: lets another entity link it by match keys before it is worked (G8).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub discovered: BTreeMap<String, (String, Fields)>,
    /// Open triggers held until the initial sync has listed the system they would create in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held: BTreeMap<Uuid, WorkHeld>,
    /// Per system, the record this entity's sync created there and the create's request id,
    /// while it is linked: its `created` notice is settled without a fetch
    /// ([`crate::decide::created_echo`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub created: BTreeMap<String, (String, Uuid)>,
    /// ETags, observation times and conflicts (G10).
    pub conflicts: ConflictBook,
    /// The requests of this stream's dead letters (and of letters whose retry was handed over
    /// here), by the `DeadLettered` event's id: what a person's retry retries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dead_letters: BTreeMap<Uuid, DeadLetterRequest>,
}

impl EntityState {
    /// Folds a stream (in sequence order) into state. Undecodable events are skipped.
    pub fn fold<'a>(entity_id: Uuid, events: impl IntoIterator<Item = &'a RecordedEvent>) -> Self {
        let mut state = EntityState {
            entity_id,
            ..Default::default()
        };
        for event in events {
            state.apply(event);
        }
        state
    }

    /// Applies one more event of this entity's stream.
    pub fn apply(&mut self, event: &RecordedEvent) {
        self.apply_decoded(event, SyncEvent::from_recorded(event).ok());
    }

    /// [`EntityState::apply`] of an event its caller already decoded (`None`: undecodable, so
    /// only its envelope counts): a reader that needs the decoded event too decodes it once.
    pub fn apply_decoded(&mut self, event: &RecordedEvent, sync: Option<SyncEvent>) {
        self.version = event.sequence;
        if self.tenant.is_empty() {
            self.tenant = event.meta.tenant.clone();
        }
        let Some(sync) = sync else {
            return;
        };
        let correlation = event.meta.correlation_id.unwrap_or(event.event_id);
        self.conflicts.note(&sync, event, &self.known);
        match sync {
            SyncEvent::ChangeObserved(e) => {
                self.entity_type.get_or_insert(e.entity_type);
                self.open(
                    event,
                    correlation,
                    TriggerKind::Observed {
                        system: e.system,
                        collection: e.collection,
                        record_id: e.record_id,
                        action: e.action,
                    },
                );
            }
            // A record found by the initial sync is owed what an `updated` webhook is owed.
            SyncEvent::RecordDiscovered(e) => {
                self.entity_type.get_or_insert(e.entity_type);
                if !self.links.contains_key(&e.system) {
                    self.discovered
                        .insert(e.system.clone(), (e.record_id.clone(), e.fields));
                }
                self.open(
                    event,
                    correlation,
                    TriggerKind::Observed {
                        system: e.system,
                        collection: e.collection,
                        record_id: e.record_id,
                        action: Action::Updated,
                    },
                );
            }
            SyncEvent::WorkHeld(e) => {
                if self
                    .open_triggers
                    .iter()
                    .any(|t| t.event_id == e.trigger_id)
                {
                    self.held.insert(e.trigger_id, e);
                }
            }
            SyncEvent::WorkReleased(e) => {
                self.held.remove(&e.trigger_id);
            }
            // A discarded dead letter owes no work: nothing to fold.
            SyncEvent::InitialSyncStarted(_)
            | SyncEvent::InitialSyncPageRead(_)
            | SyncEvent::InitialSyncCompleted(_)
            | SyncEvent::DeadLetterDiscarded(_)
            | SyncEvent::EntityErased(_) => {}
            SyncEvent::ResyncRequested(e) => self.open(
                event,
                correlation,
                TriggerKind::Resync {
                    system: e.system,
                    record_id: e.record_id,
                },
            ),
            SyncEvent::DeadLetterRetried(e) => {
                if let Some(request) = e.request {
                    self.dead_letters.insert(e.dead_letter_id, request);
                }
                let kind = TriggerKind::DeadLetterRetry {
                    dead_letter_id: e.dead_letter_id,
                };
                self.open(event, correlation, kind)
            }
            SyncEvent::RecordFetched(e) => {
                if e.found {
                    let previous = self.known.get(&e.system);
                    for (field, value) in &e.fields {
                        if previous.and_then(|p| p.get(field)) != Some(value) {
                            self.field_sources
                                .insert(field.clone(), (e.system.clone(), event.position));
                        }
                    }
                    self.seen_holding(&e.system, &e.fields);
                    self.known.insert(e.system, e.fields);
                    self.note_agreement();
                } else {
                    self.known.remove(&e.system);
                    self.sync_written.remove(&e.system);
                    self.created.remove(&e.system);
                    self.synced.clear();
                }
            }
            SyncEvent::DecisionMade(e) => {
                self.close(e.trigger_id);
                if let Some(write) = e.write {
                    self.requested(event, write);
                }
            }
            SyncEvent::RedirectedTo(e) => {
                self.redirected_to = Some(e.entity_id);
                self.redirected_record.get_or_insert(RecordRef {
                    system: e.system,
                    record_id: e.record_id,
                });
                self.close(e.trigger_id);
            }
            // A write requested before decisions carried it (`DecisionMade` version 2).
            SyncEvent::WriteRequested(e) => self.requested(event, e),
            SyncEvent::WriteSucceeded(e) => {
                match self.pending_writes.remove(&e.request_id).map(|p| p.request) {
                    Some(request) if request.op == WriteOp::Delete => {
                        self.known.remove(&e.target_system);
                        self.sync_written.remove(&e.target_system);
                        self.created.remove(&e.target_system);
                        self.synced.clear();
                    }
                    request => {
                        if let Some(request) = request {
                            self.written_through(&e.target_system, &request.fields);
                            if request.op == WriteOp::Create {
                                self.created.insert(
                                    e.target_system.clone(),
                                    (e.record_id.clone(), e.request_id),
                                );
                            }
                        }
                        self.seen_holding(&e.target_system, &e.fields);
                        self.known.insert(e.target_system, e.fields);
                        self.note_agreement();
                    }
                }
            }
            SyncEvent::WriteFailed(e) => {
                if e.will_retry {
                    if let Some(p) = self.pending_writes.get_mut(&e.request_id) {
                        p.attempts = e.attempt;
                        p.retry_at = e.retry_at;
                    }
                } else {
                    self.pending_writes.remove(&e.request_id);
                }
            }
            SyncEvent::DeadLettered(e) => {
                if let Some(id) = e.request_id {
                    self.pending_writes.remove(&id);
                }
                self.dead_letters.insert(event.event_id, e.request);
            }
            SyncEvent::RecordLinked(e) => {
                self.entity_type.get_or_insert(e.entity_type);
                self.discovered.remove(&e.system);
                self.links.insert(
                    e.system,
                    Link {
                        collection: e.collection,
                        record_id: e.record_id,
                    },
                );
            }
            SyncEvent::RecordUnlinked(e) => {
                if self
                    .links
                    .get(&e.system)
                    .is_some_and(|l| l.record_id == e.record_id)
                {
                    self.links.remove(&e.system);
                    self.known.remove(&e.system);
                    self.sync_written.remove(&e.system);
                    self.created.remove(&e.system);
                    self.synced.clear();
                }
            }
            SyncEvent::WorkFailed(e) if e.will_retry => {
                if let Some(t) = self
                    .open_triggers
                    .iter_mut()
                    .find(|t| t.event_id == e.trigger_id)
                {
                    t.attempts = e.attempt;
                    t.retry_at = e.retry_at;
                }
            }
            SyncEvent::WorkFailed(e) => self.close(Some(e.trigger_id)),
            // Queued observations this group's fetch settles too (`decide::coalesce`).
            SyncEvent::InputsGathered(e) => {
                for covered in e.covers {
                    self.close(Some(covered));
                }
            }
            SyncEvent::ReplayRequested(_) | SyncEvent::ConflictDetected(_) => {}
            SyncEvent::ConflictResolved(e) => {
                let kind = TriggerKind::Resolution {
                    conflict_id: e.conflict_id,
                };
                self.open(event, correlation, kind);
            }
            // Refused with 412: not a failure; the record is fetched again and decided again.
            SyncEvent::WritePreconditionFailed(e) => {
                self.pending_writes.remove(&e.request_id);
                let kind = TriggerKind::Resync {
                    system: e.target_system,
                    record_id: e.record_id,
                };
                self.open(event, correlation, kind);
                if let Some(t) = self.open_triggers.last_mut() {
                    t.retry_at = e.retry_at;
                }
            }
        }
        self.conflicts.settle(&self.known);
    }

    fn open(&mut self, event: &RecordedEvent, correlation_id: Uuid, kind: TriggerKind) {
        self.open_triggers.push(Trigger {
            event_id: event.event_id,
            position: event.position,
            kind,
            correlation_id,
            attempts: 0,
            retry_at: None,
        });
    }

    fn close(&mut self, trigger_id: Option<Uuid>) {
        if let Some(id) = trigger_id {
            self.open_triggers.retain(|t| t.event_id != id);
            self.held.remove(&id);
        }
    }
}

mod conflicts;
mod echo;
mod work;
pub use conflicts::{ConflictBook, OpenConflict};
pub use work::{NextWork, PendingWrite, Trigger, TriggerKind};

#[cfg(test)]
mod tests;
