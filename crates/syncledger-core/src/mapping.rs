//! Field paths and the translation between a system's records and canonical fields.
//!
//! An entity speaks one vocabulary (its canonical field names); each connected system stores those
//! fields at its own places, named by a [`FieldPath`]: `field`, `a.b` (nested objects, any depth) or
//! `list[0]` (the first element of a list, at any segment: `contact.phones[0]`). The same path reads
//! and writes, so both directions of the sync share one mapping.
//!
//! Writing follows the contract: `list[0] = v` sets the first element and keeps the rest (creating
//! the list when missing); clearing `list[0]` (writing `null`) removes the first element so the
//! next one becomes first; clearing a plain field sets it to `null`. A clear never creates the
//! containers on its way: clearing `a.b` where `a` is absent leaves `a` absent, and reads as `null`
//! all the same.
//!
//! A PATCH carries the system's top-level keys, so [`write_body`] applies the changes to the
//! current record and sends each touched top-level value whole: a nested object with the change
//! applied, or the recomputed list.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, EntitySystemConfig};
use crate::events::Fields;

mod path;

pub use path::Step;

/// Where a canonical field lives in one system's records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    text: String,
    steps: Vec<Step>,
}

impl FieldPath {
    /// The path as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Never empty, and always starts with a [`Step::Key`].
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The record's top-level key this path lives under: what a PATCH for it sends.
    pub fn top(&self) -> &str {
        match &self.steps[0] {
            Step::Key(key) => key,
            Step::First => unreachable!("a parsed path starts with a key"),
        }
    }

    /// Whether writing one path can change what the other reads: one is a prefix of the other,
    /// or they part where one wants a list and the other an object (`c[0]` and `c.a`).
    pub fn overlaps(&self, other: &FieldPath) -> bool {
        let parting = self.steps.iter().zip(&other.steps).find(|(a, b)| a != b);
        !matches!(parting, Some((Step::Key(_), Step::Key(_))))
    }

    /// The value at this path, if the record has one there.
    pub fn get<'a>(&self, record: &'a Value) -> Option<&'a Value> {
        self.steps.iter().try_fold(record, |at, step| match step {
            Step::Key(key) => at.as_object()?.get(key),
            Step::First => at.as_array()?.first(),
        })
    }

    /// Writes `value` at this path (`null` clears; see the module docs for lists).
    pub fn write(&self, record: &mut Value, value: &Value) {
        path::write_at(record, &self.steps, value);
    }
}

impl FromStr for FieldPath {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let steps = path::parse(text).map_err(|reason| ConfigError::FieldPath {
            path: text.to_string(),
            reason,
        })?;
        Ok(FieldPath {
            text: text.to_string(),
            steps,
        })
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for FieldPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// Every canonical field the system maps, read from `record`; absent and `null` both give `null`.
pub fn to_canonical(map: &EntitySystemConfig, record: &Value) -> Fields {
    map.fields
        .iter()
        .map(|(canonical, path)| {
            let value = path.get(record).cloned().unwrap_or(Value::Null);
            (canonical.clone(), value)
        })
        .collect()
}

/// The JSON body that writes these canonical changes to the system.
///
/// With `current` (a PATCH of that record): the touched top-level keys only, each holding its
/// whole new value (`null` when a clear left nothing there). Without (a POST): an object built
/// from scratch; `null` changes are left out, since absent is what a new record has anyway.
/// Changes to fields this system does not map are ignored.
pub fn write_body(map: &EntitySystemConfig, changes: &Fields, current: Option<&Value>) -> Value {
    let mapped = changes
        .iter()
        .filter_map(|(canonical, value)| map.fields.get(canonical).map(|path| (path, value)));
    let Some(current) = current else {
        let mut body = Value::Object(Map::new());
        for (path, value) in mapped.filter(|(_, value)| !value.is_null()) {
            path.write(&mut body, value);
        }
        return body;
    };
    let mut working = match current {
        Value::Object(_) => current.clone(),
        _ => Value::Object(Map::new()),
    };
    let mut touched = BTreeSet::new();
    for (path, value) in mapped {
        path.write(&mut working, value);
        touched.insert(path.top().to_string());
    }
    let body = touched
        .into_iter()
        .map(|top| {
            let value = working.get(&top).cloned().unwrap_or(Value::Null);
            (top, value)
        })
        .collect();
    Value::Object(body)
}

/// A stable hash of the match keys' values (strings trimmed and lower-cased), in key order.
///
/// `None` when there are no match keys or any of them is blank: a record missing a key value
/// matches nothing, rather than everything else that misses it too.
pub fn match_fingerprint(match_keys: &[String], fields: &Fields) -> Option<String> {
    if match_keys.is_empty() {
        return None;
    }
    let normalised = match_keys
        .iter()
        .map(|key| Some((key.as_str(), match_text(fields.get(key)?)?)))
        .collect::<Option<Vec<_>>>()?;
    // JSON keeps the pairs unambiguous whatever characters the values hold.
    let input = serde_json::to_string(&normalised).expect("pairs of strings always serialize");
    Some(hex::encode(Sha256::digest(input.as_bytes())))
}

/// A value as match keys compare it: strings trimmed and lower-cased, anything else as its JSON;
/// `None` for a blank value, which matches nothing.
pub fn match_text(value: &Value) -> Option<String> {
    match value {
        _ if is_blank(value) => None,
        Value::String(s) => Some(s.trim().to_lowercase()),
        other => Some(other.to_string()),
    }
}

/// A short stable hash of [`match_text`]: what the `match_index` projection files a value under.
pub fn match_value_hash(value: &Value) -> Option<String> {
    let text = match_text(value)?;
    Some(hex::encode(&Sha256::digest(text.as_bytes())[..16]))
}

/// The `required` fields that are blank in `fields`, in the order they are required.
pub fn missing_required(required: &[String], fields: &Fields) -> Vec<String> {
    required
        .iter()
        .filter(|field| fields.get(*field).is_none_or(is_blank))
        .cloned()
        .collect()
}

/// Null, an empty or all-whitespace string, an empty list or an empty object: no value.
pub fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests;
