//! `whyField`: the causal chain that gave a field its current value in a system.
//!
//! Two steps. First, find the event that set the value: walking the entity's stream forward, the
//! last `WriteSucceeded` into that system that wrote the field (or returned it changed), or the
//! last `RecordFetched` from it in which the field changed; a fetch that merely sees the value
//! the sync wrote does not take the credit from the write. Second, follow causation ids back from
//! there: `WriteSucceeded <- DecisionMade <- RecordFetched <- ChangeObserved` (a decision
//! carries its write request; in a log recorded before it did, `WriteSucceeded <-
//! WriteRequested <- DecisionMade`)
//! (a decision on a record G8's first step recorded has that fetch before its group instead:
//! `InputsGathered.fetched_first`, followed like a causation link),
//! usually within the stream, sometimes into another entity's stream (a forwarded change, whose
//! cause is looked up by event id: an index lookup, never a scan).
//!
//! The engine chains every event of one work item to the one before it, so the raw causation path
//! also passes through the decisions and writes for *other* targets of the same change. Those are
//! dropped: the chain keeps the writes of the request being followed, the decision that asked for
//! it, the fetch of that decision's source, and the work item (webhook, resync, retry) at its root.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use syncledger_core::events::{SyncEvent, WriteOp, WriteRequested, write_request};
use syncledger_core::log::RecordedEvent;
use syncledger_store::Store;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiResult;

/// A chain never follows more causation links than this (a cycle would be a bug elsewhere).
const MAX_LINKS: usize = 256;

/// The event types [`origin`] reads; every other event leaves a field's origin where it was.
/// (A `DecisionMade` is read only when it carries a write.)
const ORIGIN_TYPES: [&str; 5] = [
    "DecisionMade",
    "WriteRequested",
    "RecordFetched",
    "WriteSucceeded",
    "RecordUnlinked",
];

/// The event types of a conflict, the only ones [`with_conflicts`] decodes.
const CONFLICT_TYPES: [&str; 2] = ["ConflictDetected", "ConflictResolved"];

/// The event that set a field's current value in a system.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub system: String,
    pub value: Value,
    /// Index of the setting event in the stream.
    pub index: usize,
}

/// Where the field got its current value: in `system`, or (without one) in whichever system it
/// was set most recently. `None` when no system holds the field.
pub fn origin(events: &[RecordedEvent], field: &str, system: Option<&str>) -> Option<Origin> {
    let mut requests: HashMap<Uuid, WriteRequested> = HashMap::new();
    let mut current: BTreeMap<String, Origin> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        // Only these types move a field's origin: the others are not even decoded (on a
        // stream of thousands of events, decoding is most of the walk's cost).
        if !ORIGIN_TYPES.contains(&event.event_type.as_str()) {
            continue;
        }
        if event.event_type == "DecisionMade" && event.payload.get("write").is_none() {
            continue;
        }
        let Ok(decoded) = SyncEvent::from_recorded(event) else {
            continue;
        };
        if let Some(w) = write_request(&decoded) {
            requests.insert(w.request_id, w.clone());
        }
        match decoded {
            SyncEvent::RecordFetched(f) => match f.fields.get(field) {
                Some(value) if f.found => {
                    if current.get(&f.system).is_none_or(|o| o.value != *value) {
                        let origin = Origin {
                            system: f.system.clone(),
                            value: value.clone(),
                            index,
                        };
                        current.insert(f.system, origin);
                    }
                }
                _ => {
                    current.remove(&f.system);
                }
            },
            SyncEvent::WriteSucceeded(w) => {
                let request = requests.get(&w.request_id);
                if request.is_some_and(|r| r.op == WriteOp::Delete) {
                    current.remove(&w.target_system);
                    continue;
                }
                let Some(value) = w.fields.get(field) else {
                    continue;
                };
                let wrote_it = request.is_some_and(|r| r.fields.contains_key(field));
                if wrote_it
                    || current
                        .get(&w.target_system)
                        .is_none_or(|o| o.value != *value)
                {
                    let origin = Origin {
                        system: w.target_system.clone(),
                        value: value.clone(),
                        index,
                    };
                    current.insert(w.target_system, origin);
                }
            }
            SyncEvent::RecordUnlinked(u) => {
                current.remove(&u.system);
            }
            _ => {}
        }
    }
    match system {
        Some(system) => current.remove(system),
        None => current.into_values().max_by_key(|o| o.index),
    }
}

/// Decides, walking back from the origin, which events of the causation path belong to the chain.
struct Relevance {
    requests: HashSet<Uuid>,
    sources: HashSet<String>,
}

impl Relevance {
    fn new(origin: &RecordedEvent) -> Self {
        let mut relevance = Relevance {
            requests: HashSet::new(),
            sources: HashSet::new(),
        };
        match SyncEvent::from_recorded(origin) {
            Ok(SyncEvent::WriteSucceeded(w)) => {
                relevance.requests.insert(w.request_id);
            }
            Ok(SyncEvent::RecordFetched(f)) => {
                relevance.sources.insert(f.system);
            }
            _ => {}
        }
        relevance
    }

    fn keep(&mut self, event: &RecordedEvent) -> bool {
        let Ok(decoded) = SyncEvent::from_recorded(event) else {
            return false;
        };
        match decoded {
            SyncEvent::WriteSucceeded(w) => self.requests.contains(&w.request_id),
            SyncEvent::WriteRequested(w) => self.requests.contains(&w.request_id),
            SyncEvent::WriteFailed(w) => self.requests.contains(&w.request_id),
            SyncEvent::DecisionMade(d) => {
                let keep = d.request_id.is_some_and(|r| self.requests.contains(&r));
                if keep {
                    self.sources.insert(d.source_system);
                }
                keep
            }
            SyncEvent::RecordFetched(f) => self.sources.contains(&f.system),
            SyncEvent::DeadLettered(d) => {
                // A retried dead letter: the chain goes on into the original attempt.
                self.requests.extend(d.request_id);
                true
            }
            // The conflict the decision acted on, the person's choice or the 412 behind the
            // work item (kept for the asked field only: see `with_conflicts`).
            SyncEvent::ConflictDetected(_)
            | SyncEvent::ConflictResolved(_)
            | SyncEvent::WritePreconditionFailed(_) => true,
            SyncEvent::ChangeObserved(_)
            | SyncEvent::ResyncRequested(_)
            | SyncEvent::DeadLetterRetried(_)
            | SyncEvent::ReplayRequested(_) => true,
            // A record the initial sync found: the page that listed it is the root cause.
            SyncEvent::RecordDiscovered(_) | SyncEvent::InitialSyncPageRead(_) => true,
            SyncEvent::InitialSyncStarted(_)
            | SyncEvent::InitialSyncCompleted(_)
            | SyncEvent::WorkHeld(_)
            | SyncEvent::WorkReleased(_) => false,
            SyncEvent::RecordLinked(_)
            | SyncEvent::RecordUnlinked(_)
            | SyncEvent::RedirectedTo(_)
            | SyncEvent::InputsGathered(_)
            | SyncEvent::WorkFailed(_)
            | SyncEvent::DeadLetterDiscarded(_)
            // The erasure ends a chain itself, when it came after the value (`Entity::why_field`).
            | SyncEvent::EntityErased(_) => false,
        }
    }
}

/// The chain from the origin at `stream[index]` back to its root cause, in log order (the root
/// cause first, the event that set the value last). Causes outside the stream are looked up by
/// id and must belong to a tenant the caller sees, or the chain stops there.
pub async fn chain(
    store: &Store,
    caller: &Caller,
    stream: &[RecordedEvent],
    index: usize,
) -> ApiResult<Vec<RecordedEvent>> {
    let by_id: HashMap<Uuid, &RecordedEvent> = stream.iter().map(|e| (e.event_id, e)).collect();
    let origin = stream[index].clone();
    let mut relevance = Relevance::new(&origin);
    let mut path = vec![origin];
    let mut seen = HashSet::from([path[0].event_id]);
    let mut first_fetches: Vec<RecordedEvent> = Vec::new();
    while path.len() < MAX_LINKS {
        let Some(cause) = path.last().and_then(|e| e.meta.causation_id) else {
            break;
        };
        if !seen.insert(cause) {
            break;
        }
        let event = match by_id.get(&cause) {
            Some(event) => (*event).clone(),
            None => match store.event(cause).await? {
                Some(event) if caller.sees(&event.meta.tenant) => event,
                _ => break,
            },
        };
        // A decision on a record G8's first step recorded: its group refers to that fetch
        // instead of holding it, and the fetch (no causation of its own) joins the path here.
        let first = match SyncEvent::from_recorded(&event) {
            Ok(SyncEvent::InputsGathered(inputs)) => inputs.fetched_first,
            _ => None,
        };
        path.push(event);
        first_fetches.extend(first.and_then(|id| by_id.get(&id)).map(|e| (*e).clone()));
    }
    let mut kept: Vec<RecordedEvent> = Vec::with_capacity(path.len());
    for (i, event) in path.into_iter().enumerate() {
        if i == 0 || relevance.keep(&event) {
            kept.push(event);
        }
    }
    kept.extend(first_fetches.into_iter().filter(|e| relevance.keep(e)));
    // Causes come first in the log: log order is the chain's order.
    kept.sort_by_key(|e| e.position);
    Ok(kept)
}

/// The chain with the conflicts about `field` that concern the value it explains (G10): those
/// in the causation path, and the last one recorded on the field where `value` was a side or
/// the choice, so the winner's side tells of the loser too. Conflicts about other fields of
/// the same work item are left out. In log order.
pub fn with_conflicts(
    stream: &[RecordedEvent],
    mut chain: Vec<RecordedEvent>,
    field: &str,
    value: &Value,
) -> Vec<RecordedEvent> {
    let about = |event: &RecordedEvent| match SyncEvent::from_recorded(event) {
        Ok(SyncEvent::ConflictDetected(c)) => Some(c.field == field),
        Ok(SyncEvent::ConflictResolved(c)) => Some(c.field == field),
        _ => None,
    };
    chain.retain(|e| about(e).unwrap_or(true));
    let last = stream
        .iter()
        .rev()
        .filter(|event| CONFLICT_TYPES.contains(&event.event_type.as_str()))
        .find(|event| match SyncEvent::from_recorded(event) {
            Ok(SyncEvent::ConflictDetected(c)) => {
                c.field == field
                    && (c.candidates.iter().any(|s| s.value == *value)
                        || c.chosen.is_some_and(|s| s.value == *value))
            }
            Ok(SyncEvent::ConflictResolved(c)) => c.field == field && c.chosen.value == *value,
            _ => false,
        });
    if let Some(last) = last
        && !chain.iter().any(|e| e.event_id == last.event_id)
    {
        chain.push(last.clone());
        chain.sort_by_key(|e| e.position);
    }
    chain
}

#[cfg(test)]
mod tests;
