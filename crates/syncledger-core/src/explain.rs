//! One-line explanations of an entity's events, for the person reading its history.
//!
//! The log records facts for machines: ids, payloads, causation. A support engineer asks "why does
//! the ERP have this phone number?" and wants a sentence in the vocabulary of the connected
//! systems: `erp customer E7: phone written 555-0101 because crm contact c-42 changed it (webhook
//! crm-evt-9)`. A sentence about one event often needs others: a write's outcome names the change
//! that asked for it, which sits earlier in the same stream (outcome -> request -> decision ->
//! trigger). So [`explain_stream`] takes the whole stream, indexes it once, and walks it in order,
//! keeping what was last seen of each system so a fetch can say what changed.
//!
//! Pure and total: it reads nothing but its input and never fails. An event it cannot decode still
//! gets a line that says so, and every event gets exactly one line.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::events::{
    Action, DeadLetterRequest, DecisionMade, Fields, Resolution, SyncEvent, WriteOp, WriteRequested,
};
use crate::log::RecordedEvent;

use words::{a, aside, assignments, because, changes, decision, short, singular, value};

/// One line per event of `events` (one entity's stream, in sequence order), in the same order.
pub fn explain_stream(entity_type: &str, events: &[RecordedEvent]) -> Vec<String> {
    let mut story = Story::new(entity_type, events);
    events.iter().map(|event| story.explain(event)).collect()
}

/// What the explainer knows about the stream: an index built up front, and the systems' records
/// as last seen while walking it.
struct Story<'a> {
    entity_type: &'a str,
    decoded: HashMap<Uuid, SyncEvent>,
    /// system -> collection, so a record is called "crm contact c-42".
    collections: BTreeMap<String, String>,
    requests: HashMap<Uuid, WriteRequested>,
    decisions: HashMap<Uuid, DecisionMade>,
    /// system -> canonical fields last fetched or written.
    known: BTreeMap<String, Fields>,
}

impl<'a> Story<'a> {
    fn new(entity_type: &'a str, events: &[RecordedEvent]) -> Self {
        let mut story = Story {
            entity_type,
            decoded: HashMap::new(),
            collections: BTreeMap::new(),
            requests: HashMap::new(),
            decisions: HashMap::new(),
            known: BTreeMap::new(),
        };
        for event in events {
            let Ok(decoded) = SyncEvent::from_recorded(event) else {
                continue;
            };
            match &decoded {
                SyncEvent::ChangeObserved(e) => story.collection(&e.system, &e.collection),
                SyncEvent::RecordDiscovered(e) => story.collection(&e.system, &e.collection),
                SyncEvent::RecordLinked(e) => story.collection(&e.system, &e.collection),
                SyncEvent::WriteRequested(e) => {
                    story.collection(&e.target_system, &e.collection);
                    story.requests.insert(e.request_id, e.clone());
                }
                SyncEvent::DecisionMade(e) => {
                    if let Some(w) = &e.write {
                        story.collection(&w.target_system, &w.collection);
                        story.requests.insert(w.request_id, w.clone());
                    }
                    if let Some(request_id) = e.request_id {
                        story.decisions.insert(request_id, e.clone());
                    }
                }
                _ => {}
            }
            story.decoded.insert(event.event_id, decoded);
        }
        story
    }

    fn collection(&mut self, system: &str, collection: &str) {
        self.collections
            .entry(system.to_string())
            .or_insert_with(|| collection.to_string());
    }

    fn explain(&mut self, event: &RecordedEvent) -> String {
        let Some(decoded) = self.decoded.get(&event.event_id).cloned() else {
            return format!(
                "{} (schema version {}): an event this version of syncledger cannot read",
                event.event_type, event.schema_version
            );
        };
        match decoded {
            SyncEvent::ChangeObserved(e) => {
                let action = match e.action {
                    Action::Created => "created",
                    Action::Updated => "updated",
                    Action::Deleted => "deleted",
                };
                let at = e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC");
                let record = self.record(&e.system, Some(&e.record_id));
                format!(
                    "{record} {action} (webhook {}, at {at})",
                    e.webhook_event_id
                )
            }
            SyncEvent::InputsGathered(e) => words::inputs(&e),
            SyncEvent::RecordFetched(e) => {
                let record = self.record(&e.system, Some(&e.record_id));
                if !e.found {
                    self.known.remove(&e.system);
                    return format!("fetched {record}: it no longer exists");
                }
                let what = match self.known.get(&e.system) {
                    None if e.fields.is_empty() => "no mapped field".to_string(),
                    None => assignments(&e.fields),
                    Some(before) => changes(before, &e.fields),
                };
                self.known.insert(e.system, e.fields);
                format!("fetched {record}: {what}")
            }
            SyncEvent::DecisionMade(e) => {
                let write = e.request_id.and_then(|id| self.requests.get(&id));
                let decided = decision(&e, &self.noun(&e.target_system), write);
                match &e.write {
                    Some(w) => format!("{decided}; {}", self.asked(w)),
                    None => decided,
                }
            }
            SyncEvent::WriteRequested(e) => self.asked(&e),
            SyncEvent::WriteSucceeded(e) => {
                let request = self.requests.get(&e.request_id).cloned();
                let record = self.record(&e.target_system, Some(&e.record_id));
                let written = request.as_ref().map_or(&e.fields, |r| &r.fields);
                let plural = written.len() > 1;
                let cause = self.cause(
                    self.decisions.get(&e.request_id).and_then(|d| d.trigger_id),
                    plural,
                );
                let how = match e.resolution {
                    Resolution::Response => "",
                    Resolution::ExistingLink => {
                        " (its answer was lost; found as the record its echo had linked)"
                    }
                    Resolution::LookupByMatchKeys => {
                        " (its answer was lost; found again by match keys)"
                    }
                    Resolution::IdempotentRetry => {
                        " (its answer was lost; confirmed by a retry with the same idempotency key)"
                    }
                };
                let op = request.as_ref().map(|r| r.op);
                let line = match op {
                    Some(WriteOp::Create) => {
                        format!("{record} created with {}", assignments(written))
                    }
                    Some(WriteOp::Delete) => format!("{record} deleted"),
                    _ if written.is_empty() => format!("{record} written (no field changed)"),
                    _ => {
                        let parts: Vec<String> = written
                            .iter()
                            .map(|(f, v)| format!("{f} written {}", value(v)))
                            .collect();
                        format!("{record}: {}", parts.join(", "))
                    }
                };
                if op == Some(WriteOp::Delete) {
                    self.known.remove(&e.target_system);
                } else {
                    self.known.insert(e.target_system.clone(), e.fields.clone());
                }
                format!("{line}{cause}{how}")
            }
            SyncEvent::WriteFailed(e) => {
                let status = e
                    .status
                    .map_or("no answer".to_string(), |s| format!("HTTP {s}"));
                let next = match (e.will_retry, e.retry_at) {
                    (true, Some(at)) => {
                        format!("will retry at {}", at.format("%Y-%m-%d %H:%M:%S UTC"))
                    }
                    (true, None) => "will retry".to_string(),
                    (false, _) => "will not retry".to_string(),
                };
                format!(
                    "writing to {} failed ({status}) on attempt {}; {next}",
                    e.target_system, e.attempt
                )
            }
            SyncEvent::RecordLinked(e) => {
                let record = self.record(&e.system, Some(&e.record_id));
                format!("linked {record}{}", aside(&e.reason))
            }
            SyncEvent::RecordUnlinked(e) => {
                self.known.remove(&e.system);
                let record = self.record(&e.system, Some(&e.record_id));
                format!("unlinked {record}{}", aside(&e.reason))
            }
            // A dead letter retry handed over names no record.
            SyncEvent::RedirectedTo(e) if e.system.is_empty() => format!(
                "handed this work over to entity {}{}",
                e.entity_id,
                aside(&e.reason())
            ),
            SyncEvent::RedirectedTo(e) => format!(
                "{} belongs to entity {}: its work was handed over there{}",
                self.record(&e.system, Some(&e.record_id)),
                e.entity_id,
                aside(&e.reason())
            ),
            SyncEvent::DeadLettered(e) => {
                let status = e.status.map_or(String::new(), |s| format!(" (HTTP {s})"));
                // A failed trigger's letter (`WorkFailed`) names the work, not a write.
                // A version-1 letter of no known shape naming a system was a write's.
                let target = match &e.request {
                    DeadLetterRequest::Write(w) => Some(&w.target_system),
                    DeadLetterRequest::Unreadable { .. } => e.target_system.as_ref(),
                    DeadLetterRequest::Work { .. } => None,
                };
                let gave_up = match target {
                    Some(target) => format!("gave up writing to {target}{status}"),
                    None => "gave up on this work".to_string(),
                };
                format!(
                    "{}; kept as dead letter {}",
                    because(gave_up, &e.reason),
                    event.event_id
                )
            }
            SyncEvent::ReplayRequested(e) => {
                let how = if e.dry_run {
                    "a dry-run replay"
                } else {
                    "a replay (decide again from fresh fetches)"
                };
                format!("{} asked for {how} of this {}", e.by, self.entity_type)
            }
            SyncEvent::ResyncRequested(e) => {
                format!(
                    "{} asked to resync {}",
                    e.by,
                    self.record(&e.system, Some(&e.record_id))
                )
            }
            SyncEvent::DeadLetterRetried(e) => {
                format!("{} retried dead letter {}", e.by, e.dead_letter_id)
            }
            SyncEvent::DeadLetterDiscarded(e) => format!(
                "{} discarded dead letter {}: {}",
                e.by, e.dead_letter_id, e.reason
            ),
            SyncEvent::EntityErased(e) => format!(
                "{} erased this {}: every value it held now reads as erased ({})",
                e.by, self.entity_type, e.reason
            ),
            SyncEvent::WorkFailed(e) => {
                let record = match (&e.system, &e.record_id) {
                    (Some(system), id) => format!(" on {}", self.record(system, id.as_deref())),
                    _ => String::new(),
                };
                let next = match (e.will_retry, e.retry_at) {
                    (true, Some(at)) => {
                        format!("will retry at {}", at.format("%Y-%m-%d %H:%M:%S UTC"))
                    }
                    (true, None) => "will retry".to_string(),
                    (false, _) => "gave up".to_string(),
                };
                format!(
                    "work{record} failed on attempt {} ({}); {next}",
                    e.attempt, e.reason
                )
            }
            SyncEvent::ConflictDetected(e) => conflicts::detected(&e),
            SyncEvent::ConflictResolved(e) => conflicts::resolved(&e),
            SyncEvent::WritePreconditionFailed(e) => conflicts::refused(&e),
            e @ (SyncEvent::RecordDiscovered(_)
            | SyncEvent::InitialSyncStarted(_)
            | SyncEvent::InitialSyncPageRead(_)
            | SyncEvent::InitialSyncCompleted(_)
            | SyncEvent::WorkHeld(_)
            | SyncEvent::WorkReleased(_)) => bringup::line(self, &e).unwrap_or_default(),
        }
    }

    /// ` because crm contact c-42 changed it (webhook crm-evt-9)`, or empty when the trigger is
    /// not in this stream.
    fn cause(&self, trigger_id: Option<Uuid>, plural: bool) -> String {
        let it = if plural { "them" } else { "it" };
        match trigger_id.and_then(|id| self.decoded.get(&id)) {
            Some(SyncEvent::ChangeObserved(e)) => {
                let record = self.record(&e.system, Some(&e.record_id));
                let what = match e.action {
                    Action::Created => "was created".to_string(),
                    Action::Updated => format!("changed {it}"),
                    Action::Deleted => "was deleted".to_string(),
                };
                format!(" because {record} {what} (webhook {})", e.webhook_event_id)
            }
            Some(SyncEvent::ResyncRequested(e)) => {
                format!(
                    " because {} asked to resync {}",
                    e.by,
                    self.record(&e.system, Some(&e.record_id))
                )
            }
            Some(SyncEvent::DeadLetterRetried(e)) => {
                format!(" because {} retried dead letter {}", e.by, e.dead_letter_id)
            }
            Some(SyncEvent::ConflictResolved(e)) => {
                format!(" because {} resolved the conflict on {}", e.by, e.field)
            }
            Some(SyncEvent::WritePreconditionFailed(e)) => format!(
                " because {} refused a write (412) and {} was fetched again",
                e.target_system,
                self.record(&e.target_system, Some(&e.record_id))
            ),
            Some(SyncEvent::RecordDiscovered(e)) => format!(
                " because the initial sync found {}",
                self.record(&e.system, Some(&e.record_id))
            ),
            _ => String::new(),
        }
    }

    /// `crm contact c-42`: the system, its word for the entity, the record id (each left out
    /// when the event holds none).
    fn record(&self, system: &str, record_id: Option<&str>) -> String {
        let noun = self.noun(system);
        let words: Vec<&str> = [system, noun.as_str(), record_id.unwrap_or_default()]
            .into_iter()
            .filter(|w| !w.is_empty())
            .collect();
        words.join(" ")
    }

    /// A write request in words (carried by its decision, or an older log's `WriteRequested`).
    fn asked(&self, e: &WriteRequested) -> String {
        let record = self.target_record(&e.target_system, e.op, e.record_id.as_deref());
        let request = short(e.request_id);
        let (system, fields) = (&e.target_system, assignments(&e.fields));
        match e.op {
            WriteOp::Delete => format!("asked {system} to delete {record} (request {request})"),
            WriteOp::Create => {
                format!("asked {system} to create {record} with {fields} (request {request})")
            }
            WriteOp::Update => {
                format!("asked {system} to update {record} with {fields} (request {request})")
            }
        }
    }

    fn target_record(&self, system: &str, op: WriteOp, record_id: Option<&str>) -> String {
        match (op, record_id) {
            (WriteOp::Create, _) | (_, None) => a(&format!("{system} {}", self.noun(system))),
            (_, Some(id)) => self.record(system, Some(id)),
        }
    }

    fn noun(&self, system: &str) -> String {
        self.collections
            .get(system)
            .map_or_else(|| self.entity_type.to_string(), |c| singular(c))
    }
}

mod bringup;
mod conflicts;
pub mod summary;
mod words;

#[cfg(test)]
mod tests;
