//! An entity's state, folded from its stream.
//!
//! The sync never keeps entity state anywhere but the log: before it decides anything for an
//! entity it reads the entity's stream and folds it with [`EntityState::fold`]. The fold is pure and
//! total, so the same stream always gives the same state, which is what makes replays honest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::events::{Action, Fields, SyncEvent, WriteOp, WriteRequested};
use crate::log::{Position, RecordedEvent};

/// The entity's record in one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub collection: String,
    pub record_id: String,
}

/// A unit of work owed to the entity: an observed change, a resync or a dead-letter retry.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub event_id: Uuid,
    pub position: Position,
    pub kind: TriggerKind,
    /// The chain this work belongs to (the observed change that started it).
    pub correlation_id: Uuid,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TriggerKind {
    Observed { system: String, collection: String, record_id: String, action: Action },
    Resync { system: String, record_id: String },
    DeadLetterRetry { dead_letter_id: Uuid },
}

impl Trigger {
    /// The system and record whose state this work must fetch, when it names one.
    pub fn source(&self) -> Option<(&str, &str)> {
        match &self.kind {
            TriggerKind::Observed { system, record_id, .. }
            | TriggerKind::Resync { system, record_id } => Some((system, record_id)),
            TriggerKind::DeadLetterRetry { .. } => None,
        }
    }
}

/// A write recorded as requested whose outcome the log does not hold yet (or that failed and will
/// be retried).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingWrite {
    pub request: WriteRequested,
    pub requested_event_id: Uuid,
    pub correlation_id: Option<Uuid>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Set when the last attempt failed transiently: not before this time.
    pub retry_at: Option<DateTime<Utc>>,
}

/// Everything the decision core needs to know about one entity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityState {
    pub entity_id: Uuid,
    pub tenant: String,
    pub entity_type: Option<String>,
    /// Last sequence number: the expected version of the next append.
    pub version: u64,
    pub links: BTreeMap<String, Link>,
    /// Canonical values last seen in each system (fetched, or returned by our write).
    pub known: BTreeMap<String, Fields>,
    pub pending_writes: BTreeMap<Uuid, PendingWrite>,
    /// Work owed, in log order.
    pub open_triggers: Vec<Trigger>,
    /// Set when this stream turned out to belong to another entity.
    pub redirected_to: Option<Uuid>,
    /// Per canonical field, the position of the observation that last changed it and in which system.
    pub field_sources: BTreeMap<String, (String, Position)>,
    /// Per system and canonical field, the values the sync wrote there that the system has not
    /// since been seen to replace. Only these can come back as an echo: once the system was seen
    /// holding something else, finding an older written value there again means someone put it
    /// back (an undo), which is the system's own change and must flow back (G3, G5).
    pub sync_written: BTreeMap<String, BTreeMap<String, Vec<Value>>>,
}

impl EntityState {
    /// Folds a stream (in sequence order) into state. Undecodable events are skipped.
    pub fn fold<'a>(entity_id: Uuid, events: impl IntoIterator<Item = &'a RecordedEvent>) -> Self {
        let mut state = EntityState { entity_id, ..Default::default() };
        for event in events {
            state.apply(event);
        }
        state
    }

    /// Applies one more event of this entity's stream.
    pub fn apply(&mut self, event: &RecordedEvent) {
        self.version = event.sequence;
        if self.tenant.is_empty() {
            self.tenant = event.meta.tenant.clone();
        }
        let Ok(sync) = SyncEvent::from_recorded(event) else { return };
        let correlation = event.meta.correlation_id.unwrap_or(event.event_id);
        match sync {
            SyncEvent::ChangeObserved(e) => {
                self.entity_type.get_or_insert(e.entity_type);
                self.open(event, correlation, TriggerKind::Observed {
                    system: e.system,
                    collection: e.collection,
                    record_id: e.record_id,
                    action: e.action,
                });
            }
            SyncEvent::ResyncRequested(e) => self.open(event, correlation, TriggerKind::Resync {
                system: e.system,
                record_id: e.record_id,
            }),
            SyncEvent::DeadLetterRetried(e) => self.open(event, correlation, TriggerKind::DeadLetterRetry {
                dead_letter_id: e.dead_letter_id,
            }),
            SyncEvent::RecordFetched(e) => {
                if e.found {
                    let previous = self.known.get(&e.system);
                    for (field, value) in &e.fields {
                        if previous.and_then(|p| p.get(field)) != Some(value) {
                            self.field_sources.insert(field.clone(), (e.system.clone(), event.position));
                        }
                    }
                    self.seen_holding(&e.system, &e.fields);
                    self.known.insert(e.system, e.fields);
                } else {
                    self.known.remove(&e.system);
                    self.sync_written.remove(&e.system);
                }
            }
            SyncEvent::DecisionMade(e) => self.close(e.trigger_id),
            SyncEvent::RedirectedTo(e) => {
                self.redirected_to = Some(e.entity_id);
                self.close(e.trigger_id);
            }
            SyncEvent::WriteRequested(e) => {
                if e.op != WriteOp::Delete {
                    let written = self.sync_written.entry(e.target_system.clone()).or_default();
                    for (field, value) in &e.fields {
                        let values = written.entry(field.clone()).or_default();
                        if !values.contains(value) {
                            values.push(value.clone());
                        }
                    }
                }
                self.pending_writes.insert(e.request_id, PendingWrite {
                    request: e,
                    requested_event_id: event.event_id,
                    correlation_id: event.meta.correlation_id,
                    attempts: 0,
                    retry_at: None,
                });
            }
            SyncEvent::WriteSucceeded(e) => {
                let op = self.pending_writes.remove(&e.request_id).map(|p| p.request.op);
                if op == Some(WriteOp::Delete) {
                    self.known.remove(&e.target_system);
                    self.sync_written.remove(&e.target_system);
                } else {
                    self.seen_holding(&e.target_system, &e.fields);
                    self.known.insert(e.target_system, e.fields);
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
            }
            SyncEvent::RecordLinked(e) => {
                self.entity_type.get_or_insert(e.entity_type);
                self.links.insert(e.system, Link { collection: e.collection, record_id: e.record_id });
            }
            SyncEvent::RecordUnlinked(e) => {
                if self.links.get(&e.system).is_some_and(|l| l.record_id == e.record_id) {
                    self.links.remove(&e.system);
                    self.known.remove(&e.system);
                    self.sync_written.remove(&e.system);
                }
            }
            SyncEvent::ReplayRequested(_) => {}
        }
    }

    /// `system` was seen holding `fields`: written values it no longer holds are not echoes any more.
    fn seen_holding(&mut self, system: &str, fields: &Fields) {
        let Some(written) = self.sync_written.get_mut(system) else { return };
        for (field, values) in written.iter_mut() {
            let held = fields.get(field).unwrap_or(&Value::Null);
            values.retain(|v| v == held);
        }
        written.retain(|_, values| !values.is_empty());
    }

    /// Whether `value` in `system`'s `field` may be the echo of the sync's own write there.
    pub fn may_be_echo(&self, system: &str, field: &str, value: &Value) -> bool {
        self.sync_written
            .get(system)
            .and_then(|fields| fields.get(field))
            .is_some_and(|values| values.contains(value))
    }

    fn open(&mut self, event: &RecordedEvent, correlation_id: Uuid, kind: TriggerKind) {
        self.open_triggers.push(Trigger {
            event_id: event.event_id,
            position: event.position,
            kind,
            correlation_id,
        });
    }

    fn close(&mut self, trigger_id: Option<Uuid>) {
        if let Some(id) = trigger_id {
            self.open_triggers.retain(|t| t.event_id != id);
        }
    }

    /// The pending create towards `system`, if one is in flight.
    pub fn pending_create(&self, system: &str) -> Option<&PendingWrite> {
        self.pending_writes
            .values()
            .find(|p| p.request.op == WriteOp::Create && p.request.target_system == system)
    }

    /// Whether any work is owed: a trigger, or a write without a final outcome.
    pub fn has_work(&self) -> bool {
        !self.open_triggers.is_empty() || !self.pending_writes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::{RecordFetched, WriteSucceeded, Resolution};
    use crate::log::EventMeta;

    fn recorded(sequence: u64, event: SyncEvent) -> RecordedEvent {
        let new = event.to_new(EventMeta { tenant: "acme".into(), correlation_id: None, causation_id: None });
        RecordedEvent {
            position: Position(sequence as i64),
            stream_id: Uuid::nil(),
            sequence,
            event_id: new.event_id,
            event_type: new.event_type,
            schema_version: new.schema_version,
            payload: new.payload,
            meta: new.meta,
            recorded_at: Utc::now(),
        }
    }

    fn phone(value: &str) -> Fields {
        [("phone".to_string(), json!(value))].into()
    }

    fn write(id: u128, value: &str) -> [SyncEvent; 2] {
        let request_id = Uuid::from_u128(id);
        [
            SyncEvent::WriteRequested(WriteRequested {
                request_id,
                target_system: "erp".into(),
                collection: "customers".into(),
                op: WriteOp::Update,
                record_id: Some("E-1".into()),
                fields: phone(value),
                match_fingerprint: None,
            }),
            SyncEvent::WriteSucceeded(WriteSucceeded {
                request_id,
                target_system: "erp".into(),
                record_id: "E-1".into(),
                fields: phone(value),
                resolution: Resolution::Response,
            }),
        ]
    }

    #[test]
    fn a_written_value_stops_being_an_echo_once_the_system_was_seen_holding_another() {
        let events: Vec<RecordedEvent> = write(1, "111")
            .into_iter()
            .chain(write(2, "222"))
            .enumerate()
            .map(|(i, e)| recorded(i as u64 + 1, e))
            .collect();
        let state = EntityState::fold(Uuid::nil(), &events);
        assert!(state.may_be_echo("erp", "phone", &json!("222")));
        assert!(!state.may_be_echo("erp", "phone", &json!("111")), "the ERP was seen holding 222 since");
        assert!(!state.may_be_echo("crm", "phone", &json!("222")));
    }

    #[test]
    fn a_written_value_the_system_never_confirmed_replacing_stays_an_echo() {
        let [requested, _] = write(2, "222");
        let fetched = SyncEvent::RecordFetched(RecordFetched {
            system: "erp".into(),
            record_id: "E-1".into(),
            found: true,
            fields: phone("111"),
        });
        let events: Vec<RecordedEvent> = write(1, "111")
            .into_iter()
            .chain([requested, fetched])
            .enumerate()
            .map(|(i, e)| recorded(i as u64 + 1, e))
            .collect();
        let state = EntityState::fold(Uuid::nil(), &events);
        assert!(state.may_be_echo("erp", "phone", &json!("111")), "the write of 222 never landed");
        assert!(!state.may_be_echo("erp", "phone", &json!("222")), "the ERP was seen holding 111 after it was asked");
    }
}
