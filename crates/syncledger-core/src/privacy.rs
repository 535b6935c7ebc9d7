//! What in the log is personal: the value-bearing parts of each event type's payload, and the
//! few pure functions every layer shares to work with them (docs/privacy.md).
//!
//! The store seals exactly the parts [`value_paths`] names, under the entity's data key, and
//! opens them again on every read; everything else of a payload (ids, field names, types, times,
//! decisions) stays in clear. Because the description is data, the store's seal/open layer, the
//! erasure's search for residue and the display of erased history all read the same table, and
//! the decision core never sees anything but plaintext. An erased value opens as `null`;
//! [`mark_erased`] turns those into [`erased_mark`] for people to read.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// One step of a path into a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The object's member of this name.
    Field(&'static str),
    /// Every member value of an object (a record's fields, keyed by field name).
    EachValue,
    /// Every element of an array.
    EachItem,
}

use Step::{EachItem, EachValue, Field};

/// A path to value-bearing parts of a payload.
pub type Path = &'static [Step];

const FIELDS: Path = &[Field("fields"), EachValue];

/// The value-bearing parts of an event type's payload; `None` for a type this build does not
/// know (a test keeps the table complete for [`crate::events::EVENT_TYPES`]).
pub fn value_paths(event_type: &str) -> Option<&'static [Path]> {
    Some(match event_type {
        "RecordFetched" | "RecordDiscovered" | "WriteSucceeded" => &[FIELDS],
        "WriteRequested" => &[FIELDS, &[Field("match_fingerprint")]],
        // Version 3: the write it asks for, sealed as a `WriteRequested` is.
        "DecisionMade" => &[
            &[Field("diff"), EachItem, Field("before")],
            &[Field("diff"), EachItem, Field("after")],
            &[Field("write"), Field("fields"), EachValue],
            &[Field("write"), Field("match_fingerprint")],
        ],
        "WriteFailed" => &[&[Field("body")]],
        // A letter's request is typed (version 2): a refused write's fields and fingerprint are
        // values, a work item names only ids.
        "DeadLettered" => &[
            &[Field("request"), Field("fields"), EachValue],
            &[Field("request"), Field("match_fingerprint")],
            &[Field("body")],
        ],
        "ConflictDetected" => &[
            &[Field("candidates"), EachItem, Field("value")],
            &[Field("chosen"), Field("value")],
        ],
        "ConflictResolved" => &[
            &[Field("candidates"), EachItem, Field("value")],
            &[Field("chosen"), Field("value")],
        ],
        "ChangeObserved"
        | "InitialSyncStarted"
        | "InitialSyncPageRead"
        | "InitialSyncCompleted"
        | "WorkHeld"
        | "WorkReleased"
        | "InputsGathered"
        | "RecordLinked"
        | "RecordUnlinked"
        | "RedirectedTo"
        | "ReplayRequested"
        | "ResyncRequested"
        | "DeadLetterRetried"
        | "WorkFailed"
        | "WritePreconditionFailed"
        | "DeadLetterDiscarded"
        | "EntityErased" => &[],
        _ => return None,
    })
}

/// Calls `f` on every value-bearing part of `payload` that is present and not `null`.
pub fn for_each_value(event_type: &str, payload: &mut Value, f: &mut impl FnMut(&mut Value)) {
    for path in value_paths(event_type).unwrap_or(&[]) {
        visit(payload, path, f);
    }
}

fn visit(value: &mut Value, path: &[Step], f: &mut impl FnMut(&mut Value)) {
    let Some((step, rest)) = path.split_first() else {
        if !value.is_null() {
            f(value);
        }
        return;
    };
    match (step, value) {
        (Field(name), Value::Object(map)) => {
            if let Some(member) = map.get_mut(*name) {
                visit(member, rest, f);
            }
        }
        (EachValue, Value::Object(map)) => map.values_mut().for_each(|v| visit(v, rest, f)),
        (EachItem, Value::Array(items)) => items.iter_mut().for_each(|v| visit(v, rest, f)),
        _ => {}
    }
}

/// [`for_each_value`] for a reader that changes nothing.
pub fn for_each_value_ref(event_type: &str, payload: &Value, f: &mut impl FnMut(&Value)) {
    for path in value_paths(event_type).unwrap_or(&[]) {
        visit_ref(payload, path, f);
    }
}

fn visit_ref(value: &Value, path: &[Step], f: &mut impl FnMut(&Value)) {
    let Some((step, rest)) = path.split_first() else {
        if !value.is_null() {
            f(value);
        }
        return;
    };
    match (step, value) {
        (Field(name), Value::Object(map)) => {
            if let Some(member) = map.get(*name) {
                visit_ref(member, rest, f);
            }
        }
        (EachValue, Value::Object(map)) => map.values().for_each(|v| visit_ref(v, rest, f)),
        (EachItem, Value::Array(items)) => items.iter().for_each(|v| visit_ref(v, rest, f)),
        _ => {}
    }
}

/// How an erased value reads to people (GraphQL history payloads, the CLI, the console).
pub fn erased_mark() -> Value {
    json!({ "$erased": true })
}

/// Whether a value is [`erased_mark`].
pub fn is_erased_mark(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.get("$erased") == Some(&Value::Bool(true)))
}

/// Replaces every value-bearing part of a payload (erased values open as `null`) by
/// [`erased_mark`]: for showing the history of an erased entity. A response `body` is text in
/// its event type, so an erased one stays `null` (the event still decodes).
pub fn mark_erased(event_type: &str, payload: &mut Value) {
    for path in value_paths(event_type).unwrap_or(&[]) {
        if path.last() != Some(&Field("body")) {
            mark(payload, path);
        }
    }
}

/// Marks the values of every event recorded before the stream's last `EntityErased` as erased
/// ([`mark_erased`]): what GraphQL's `history`, the CLI's `history` and the console show.
pub fn show_erased(events: &mut [crate::log::RecordedEvent]) {
    let Some(last) = events.iter().rposition(|e| e.event_type == "EntityErased") else {
        return;
    };
    for event in &mut events[..last] {
        mark_erased(&event.event_type, &mut event.payload);
    }
}

/// When and why the stream's entity was last erased: `(recorded_at, reason, by)`.
pub fn erasure(
    events: &[crate::log::RecordedEvent],
) -> Option<(chrono::DateTime<chrono::Utc>, crate::events::EntityErased)> {
    events
        .iter()
        .rev()
        .find_map(|e| match crate::events::SyncEvent::from_recorded(e) {
            Ok(crate::events::SyncEvent::EntityErased(erased)) => Some((e.recorded_at, erased)),
            _ => None,
        })
}

fn mark(value: &mut Value, path: &[Step]) {
    let Some((step, rest)) = path.split_first() else {
        *value = erased_mark();
        return;
    };
    match (step, value) {
        (Field(name), Value::Object(map)) => {
            if let Some(member) = map.get_mut(*name) {
                mark(member, rest);
            }
        }
        (EachValue, Value::Object(map)) => map.values_mut().for_each(|v| mark(v, rest)),
        (EachItem, Value::Array(items)) => items.iter_mut().for_each(|v| mark(v, rest)),
        _ => {}
    }
}

/// The shortest text searched for when an erasure verifies itself: shorter strings (`"UK"`,
/// `"yes"`) occur by chance in ids and names and would be reported as residue that is not.
pub const MIN_SEARCHED_CHARS: usize = 4;

/// The texts an erasure searches the database for: every string (at any depth) of the
/// value-bearing parts of `payload` of at least [`MIN_SEARCHED_CHARS`] characters, and, where
/// JSON escapes it differently, its escaped form (how it appears inside a JSON column).
pub fn searched_texts(event_type: &str, payload: &Value, into: &mut Vec<String>) {
    for_each_value_ref(event_type, payload, &mut |v| strings_of(v, into));
}

/// The strings of a value (at any depth), as [`searched_texts`] takes them.
pub fn strings_of(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(s) if s.chars().count() >= MIN_SEARCHED_CHARS => {
            let escaped = serde_json::to_string(s).expect("a string always serializes");
            let escaped = &escaped[1..escaped.len() - 1];
            if escaped != s {
                into.push(escaped.to_string());
            }
            into.push(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| strings_of(v, into)),
        Value::Object(map) => map.values().for_each(|v| strings_of(v, into)),
        _ => {}
    }
}

/// A tenant's key for [`keyed_digest`].
pub type DigestKey = [u8; 32];

/// The keyed digest (HMAC-SHA256, hex) of `text`: what a lookup that needs only equality keeps
/// instead of the text or its plain hash, which a dictionary of likely values would reverse.
pub fn keyed_digest(key: &DigestKey, text: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What starts a keyed sort-key digest ([`keyed_sort_key`]): a reader can tell a row filed
/// under a keyed digest from one filed under an older, unkeyed one.
pub const KEYED_PREFIX: &str = "k1.";

/// Hex digits of the HMAC a keyed sort key keeps (128 bits: ample for equality, and half the
/// index bytes of the whole digest).
const KEYED_HEX: usize = 32;

/// A sort key whose last `/`-separated segment is a digest of values (the projections that
/// [`crate::projection::Projection::keys_sort_keys`]), with that segment replaced by its keyed
/// digest under the tenant's key: `crm/email/<sha256>` becomes `crm/email/k1.<hmac>`. The part
/// before it (system, field) stays, so a listing by system keeps working; equality lookups
/// compute the same keyed form from the unkeyed sort key. Without the tenant's key nobody can
/// test a guessed value (an email from a list) against the table.
pub fn keyed_sort_key(key: &DigestKey, sort_key: &str) -> String {
    let (head, last) = match sort_key.rfind('/') {
        Some(at) => sort_key.split_at(at + 1),
        None => ("", sort_key),
    };
    let digest = keyed_digest(key, last);
    format!("{head}{KEYED_PREFIX}{}", &digest[..KEYED_HEX])
}

#[cfg(test)]
mod tests;
