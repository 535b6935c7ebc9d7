//! The phrasing [`super::explain_stream`] builds its lines from: nouns, values, field lists and
//! decisions, each in the words a support engineer uses.

use serde_json::Value;
use uuid::Uuid;

use crate::events::{
    Basis, DecisionKind, DecisionMade, Fields, InputsGathered, RoundTrip, WriteRequested,
};

/// Values longer than this are cut: a line must stay a line.
const MAX_VALUE_CHARS: usize = 60;

/// A decision, in words: what the sync chose and its reason. A decision whose diff is empty (a
/// person's retry of a dead letter repeats the refused write as it was) is told with the fields
/// of the write it asked for, when the stream holds that write, and without any field otherwise.
pub(super) fn decision(d: &DecisionMade, noun: &str, write: Option<&WriteRequested>) -> String {
    let target = &d.target_system;
    let asked = write.map(|w| &w.fields).filter(|f| !f.is_empty());
    let what = match d.kind {
        DecisionKind::Create => {
            let fields: Fields = d
                .diff
                .iter()
                .map(|c| (c.field.clone(), c.after.clone()))
                .collect();
            let with = match asked {
                _ if !fields.is_empty() => format!(" with {}", assignments(&fields)),
                Some(asked) => format!(" with {}", assignments(asked)),
                None => String::new(),
            };
            format!("decided to create {}{with}", a(&format!("{target} {noun}")))
        }
        DecisionKind::Update => {
            let diff: Vec<String> = d
                .diff
                .iter()
                .map(|c| format!("{} {} -> {}", c.field, value(&c.before), value(&c.after)))
                .collect();
            let how = match asked {
                _ if !diff.is_empty() => format!(" ({})", diff.join(", ")),
                Some(asked) => format!(" with {}", assignments(asked)),
                None => String::new(),
            };
            format!("decided to update the {target} {noun}{how}")
        }
        DecisionKind::Delete => format!("decided to delete the {target} {noun}"),
        DecisionKind::Skip if target.is_empty() => "decided to do nothing".to_string(),
        DecisionKind::Skip => format!("decided to do nothing in {target}"),
        DecisionKind::EchoSuppressed if d.source_system.is_empty() => {
            "recognised the sync's own write coming back".to_string()
        }
        DecisionKind::EchoSuppressed => {
            format!(
                "recognised the sync's own write coming back from {}",
                d.source_system
            )
        }
        DecisionKind::Deferred if matches!(d.basis, Basis::Conflict { .. }) => {
            format!("held the field in {} and {target}", d.source_system)
        }
        DecisionKind::Deferred => {
            format!("postponed creating {}", a(&format!("{target} {noun}")))
        }
        DecisionKind::ConflictResolved => format!(
            "resolved a conflict between {} and {target}",
            d.source_system
        ),
        DecisionKind::Link => format!("decided to link the existing {target} {noun}"),
        DecisionKind::Unlink => format!("decided to unlink the {target} {noun}"),
    };
    because(what, &d.reason())
}

/// `line: reason`, or the line alone when no reason was recorded.
pub(super) fn because(line: String, reason: &str) -> String {
    match reason.trim() {
        "" => line,
        reason => format!("{line}: {reason}"),
    }
}

/// ` (reason)`, or nothing when no reason was recorded.
pub(super) fn aside(reason: &str) -> String {
    match reason.trim() {
        "" => String::new(),
        reason => format!(" ({reason})"),
    }
}

/// `contacts` -> `contact`, `companies` -> `company`, `addresses` -> `address`.
pub(super) fn singular(collection: &str) -> String {
    if let Some(stem) = collection.strip_suffix("ies") {
        format!("{stem}y")
    } else if ["sses", "xes", "ches", "shes"]
        .iter()
        .any(|s| collection.ends_with(s))
    {
        collection[..collection.len() - 2].to_string()
    } else if let Some(stem) = collection.strip_suffix('s').filter(|s| !s.ends_with('s')) {
        stem.to_string()
    } else {
        collection.to_string()
    }
}

/// `email=a@x.io, phone=555-0101`.
pub(super) fn assignments(fields: &Fields) -> String {
    if fields.is_empty() {
        return "no fields".to_string();
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|(f, v)| format!("{f}={}", value(v)))
        .collect();
    parts.join(", ")
}

/// What changed from `before` to `after`, field by field (a field gone since is now empty).
pub(super) fn changes(before: &Fields, after: &Fields) -> String {
    let changed = after
        .iter()
        .filter(|(f, v)| before.get(*f) != Some(*v))
        .map(|(f, v)| (f, before.get(f).unwrap_or(&Value::Null), v));
    let gone = before
        .iter()
        .filter(|(f, v)| !after.contains_key(*f) && !v.is_null())
        .map(|(f, v)| (f, v, &Value::Null));
    let mut parts: Vec<(&String, &Value, &Value)> = changed.chain(gone).collect();
    parts.sort_by_key(|(f, _, _)| *f);
    if parts.is_empty() {
        return "no field changed since last seen".to_string();
    }
    let parts: Vec<String> = parts
        .into_iter()
        .map(|(f, was, now)| format!("{f} {} -> {}", value(was), value(now)))
        .collect();
    parts.join(", ")
}

/// A value as a person reads it: strings bare, `null` as `(empty)`, long values cut.
pub(super) fn value(v: &Value) -> String {
    let text = match v {
        Value::Null => return "(empty)".to_string(),
        v if crate::privacy::is_erased_mark(v) => return "(erased)".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = text.replace(['\n', '\r'], " ");
    if text.chars().count() > MAX_VALUE_CHARS {
        let cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// `an erp customer`, `a crm contact`.
pub(super) fn a(phrase: &str) -> String {
    let vowel = phrase
        .chars()
        .next()
        .is_some_and(|c| "aeiouAEIOU".contains(c));
    format!("{} {phrase}", if vowel { "an" } else { "a" })
}

pub(super) fn short(id: Uuid) -> String {
    id.simple().to_string()[..8].to_string()
}

/// What the engine looked up before a decision, in words.
pub(super) fn inputs(e: &InputsGathered) -> String {
    let at = e.at.format("%Y-%m-%d %H:%M:%S UTC");
    let mut found: Vec<String> = Vec::new();
    match &e.round_trip {
        Some(RoundTrip::LinkedTo { entity_id }) => {
            found.push(format!("the record is linked to entity {entity_id}"))
        }
        Some(RoundTrip::EchoOf {
            entity_id,
            request_id,
        }) => found.push(format!(
            "the record matches create request {request_id} of entity {entity_id}"
        )),
        None => {}
    }
    for (system, candidate) in &e.link_candidates {
        found.push(format!(
            "{system} {} has equal match keys (entity {})",
            candidate.record_id, candidate.entity_id
        ));
    }
    if !e.covers.is_empty() {
        let ids: Vec<String> = e.covers.iter().map(|id| id.to_string()).collect();
        found.push(format!(
            "this fetch also settles {} later observation{} of the record ({})",
            e.covers.len(),
            if e.covers.len() == 1 { "" } else { "s" },
            ids.join(", ")
        ));
    }
    if let Some(fetch) = e.fetched_first {
        found.push(format!(
            "the record's fetch is the one recorded just before ({fetch})"
        ));
    }
    match found.is_empty() {
        true => format!("gathered what the decision needs (at {at})"),
        false => format!(
            "gathered what the decision needs (at {at}): {}",
            found.join("; ")
        ),
    }
}
