//! One entity in one line: what a person opening its page first needs to know. Is it linked, and
//! where? Was it deleted, when and because of which record? Is a record held back from a system,
//! and why? The answer is read from the entity's stream alone (pure and total, like
//! [`crate::explain`]): `Deleted 2026-11-21 05:41 UTC because erp customer E-1 was deleted`,
//! `Linked in crm. Not in erp: it requires email (held since ...)`, `Unlinked`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::events::{Basis, DecisionKind, Fields, SyncEvent};
use crate::log::RecordedEvent;

use super::words::singular;

/// Where the entity stands, as the summary's first words say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// At least one record is linked.
    Linked,
    /// Its records were deleted and none is linked any more.
    Deleted,
    /// No record is linked, and no deletion says why.
    Unlinked,
    /// The stream turned out to belong to another entity.
    Redirected,
}

/// A system the entity has no record in although the sync would create one, and why not.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub system: String,
    pub reason: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub standing: Standing,
    /// The whole line, in sentences.
    pub text: String,
    /// The last name any system was seen holding: a title for a page whose records are gone.
    pub name: Option<String>,
    pub held: Vec<Held>,
    pub redirected_to: Option<Uuid>,
}

struct Deleted {
    at: DateTime<Utc>,
    system: String,
    record_id: String,
}

/// The summary of one entity's stream (in sequence order).
pub fn summarize(events: &[RecordedEvent]) -> Summary {
    let mut links: BTreeMap<String, String> = BTreeMap::new();
    let mut collections: BTreeMap<String, String> = BTreeMap::new();
    let mut held: BTreeMap<String, Held> = BTreeMap::new();
    let mut deleted: Option<Deleted> = None;
    let mut name = None;
    let mut redirected_to = None;
    for event in events {
        let Ok(decoded) = SyncEvent::from_recorded(event) else {
            continue;
        };
        let at = event.recorded_at;
        match decoded {
            SyncEvent::RecordLinked(e) => {
                collections.insert(e.system.clone(), e.collection);
                held.remove(&e.system);
                links.insert(e.system, e.record_id);
                deleted = None;
            }
            SyncEvent::RecordUnlinked(e) => {
                links.remove(&e.system);
            }
            SyncEvent::ChangeObserved(e) => {
                collections.entry(e.system).or_insert(e.collection);
            }
            SyncEvent::RecordFetched(e) if e.found => name = name_in(&e.fields).or(name),
            SyncEvent::RecordDiscovered(e) => name = name_in(&e.fields).or(name),
            SyncEvent::WriteSucceeded(e) => name = name_in(&e.fields).or(name),
            SyncEvent::DecisionMade(d) => match &d.basis {
                Basis::DeletedPropagated { record_id }
                | Basis::DeletedKept { record_id, .. }
                | Basis::DeletedAlone { record_id } => {
                    held.remove(&d.target_system);
                    deleted = Some(Deleted {
                        at,
                        system: d.source_system.clone(),
                        record_id: record_id.clone(),
                    });
                }
                Basis::RequiredEmpty { fields } if d.kind == DecisionKind::Deferred => {
                    let since = held.get(&d.target_system).map_or(at, |h| h.since);
                    let reason = format!("it requires {}", and_list(fields));
                    held.insert(
                        d.target_system.clone(),
                        Held {
                            system: d.target_system.clone(),
                            reason,
                            since,
                        },
                    );
                }
                _ => {}
            },
            SyncEvent::WorkHeld(e) => {
                let since = held.get(&e.target_system).map_or(at, |h| h.since);
                let reason = format!("waiting for the initial sync to list {}", e.target_system);
                held.insert(
                    e.target_system.clone(),
                    Held {
                        system: e.target_system,
                        reason,
                        since,
                    },
                );
            }
            SyncEvent::RedirectedTo(e) => redirected_to = Some(e.entity_id),
            _ => {}
        }
    }
    let held: Vec<Held> = held
        .into_values()
        .filter(|h| !links.contains_key(&h.system))
        .collect();
    let record = |system: &str, id: &str| match collections.get(system) {
        Some(c) => format!("{system} {} {id}", singular(c)),
        None => format!("{system} {id}"),
    };
    let (standing, mut text) = if let Some(other) = redirected_to {
        (
            Standing::Redirected,
            format!("Redirected: its records belong to entity {other}."),
        )
    } else if links.is_empty() {
        match &deleted {
            Some(d) => (
                Standing::Deleted,
                format!(
                    "Deleted {} because {} was deleted.",
                    clock(d.at),
                    record(&d.system, &d.record_id)
                ),
            ),
            None => (
                Standing::Unlinked,
                "Unlinked: no record is linked.".to_string(),
            ),
        }
    } else {
        let places: Vec<String> = links.iter().map(|(s, id)| record(s, id)).collect();
        let mut line = format!("Linked in {}.", and_list(&places));
        if let Some(d) = &deleted {
            line.push_str(&format!(
                " {} was deleted {}.",
                record(&d.system, &d.record_id),
                clock(d.at)
            ));
        }
        (Standing::Linked, line)
    };
    for h in &held {
        text.push_str(&format!(
            " Not in {}: {} (held since {}).",
            h.system,
            h.reason,
            clock(h.since)
        ));
    }
    Summary {
        standing,
        text,
        name,
        held,
        redirected_to,
    }
}

fn name_in(fields: &Fields) -> Option<String> {
    match fields.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn clock(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
