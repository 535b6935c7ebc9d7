//! Format 2: an event's values sealed together, once (docs/privacy.md, "The sealed formats").
//!
//! At seal time every value part of the payload (`privacy::for_each_value`, the non-null ones)
//! is taken out, in the order the walk meets them, into one JSON array, and its place keeps the
//! value's index in that array (`0`, `1`, ...: one byte for the first ten). The array is sealed
//! once under the entity's data key and stored in the payload's reserved member `"$s2"`. The
//! payload keeps its shape: field names, ids and the rest stay in clear where they were.
//!
//! Why indices and not a canonical order: the walk's order follows the members' order in
//! storage, which PostgreSQL's jsonb changes (shorter keys first) and an upcaster may change
//! (moving a part elsewhere, as `DeadLettered` version 1 to 2 does with its request). An index
//! travels with its part, so opening does not depend on any order.
//!
//! Opening removes `"$s2"` (no reader above the store ever sees it) and puts each value back
//! in place. A blob that does not open (destroyed or unknown key, a changed byte, anything but
//! an array) makes every value part of the event `null`, never the index or the blob. A value
//! part that is no index is opened as a format-1 value: events sealed before format 2, and the
//! parts `migrate --seal` found sealed already.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use syncledger_core::log::RecordedEvent;
use syncledger_core::privacy;
use uuid::Uuid;

use super::{DataKey, Keyring, head_key_id, seal_bytes, sealed_key_id};

/// The payload member that holds an event's sealed values (format 2).
pub(crate) const EVENT_MEMBER: &str = "$s2";
const EVENT_AAD: &[u8] = b"syncledger/s2";

/// Which value parts [`Keyring::seal_event`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Every one (a new event).
    All,
    /// Those not sealed already (`migrate --seal`, over events written before sealing).
    Plaintext,
}

impl Keyring {
    /// Seals the value parts of a payload in one blob under `key` (format 2); returns how many
    /// it sealed. A payload that is not an object (none of the catalog's) has its values
    /// sealed one by one (format 1).
    pub(crate) fn seal_event(
        &self,
        key_id: Uuid,
        key: &DataKey,
        event_type: &str,
        payload: &mut Value,
        take: Take,
    ) -> usize {
        if !payload.is_object() {
            let mut n = 0;
            privacy::for_each_value(event_type, payload, &mut |v| {
                if take == Take::All || sealed_key_id(v).is_none() {
                    *v = self.seal(key_id, key, v);
                    n += 1;
                }
            });
            return n;
        }
        let mut values = Vec::new();
        privacy::for_each_value(event_type, payload, &mut |v| {
            if take == Take::All || sealed_key_id(v).is_none() {
                values.push(std::mem::replace(v, Value::from(values.len())));
            }
        });
        let n = values.len();
        if n > 0 {
            let plain = serde_json::to_vec(&values).expect("JSON values always serialize");
            let blob = URL_SAFE_NO_PAD.encode(seal_bytes(EVENT_AAD, key_id, key, &plain));
            if let Some(map) = payload.as_object_mut() {
                map.insert(EVENT_MEMBER.into(), Value::String(blob));
            }
        }
        n
    }

    /// Opens the sealed values of an event in place (either format); returns the live key the
    /// event was sealed under, if any (a projection's rows derived from it are sealed under the
    /// same key).
    pub(crate) fn open_event(&self, event: &mut RecordedEvent) -> Option<(Uuid, DataKey)> {
        let blob = event
            .payload
            .as_object_mut()
            .and_then(|map| map.remove(EVENT_MEMBER));
        // `None`: no blob; `Some(None)`: a blob that does not open.
        let opened = blob.map(|blob| self.open_blob(&blob));
        let mut used = None;
        let mut values = match opened {
            Some(Some((values, key_id, key))) => {
                used = Some((key_id, key));
                Some(values)
            }
            Some(None) => None,
            None => Some(Vec::new()),
        };
        let sealed_whole = used.is_some();
        privacy::for_each_value(&event.event_type, &mut event.payload, &mut |v| {
            let Some(values) = values.as_mut() else {
                *v = Value::Null;
                return;
            };
            if sealed_whole && let Some(index) = v.as_u64() {
                // Taken, not copied: an index met twice (a changed payload) reads `null`.
                *v = usize::try_from(index)
                    .ok()
                    .and_then(|i| values.get_mut(i))
                    .map(std::mem::take)
                    .unwrap_or(Value::Null);
            } else if let Some(key) = self.open_value(v) {
                used.get_or_insert(key);
            }
        });
        used
    }

    /// The values of a blob, and the key that opened it; `None` when it does not open.
    fn open_blob(&self, blob: &Value) -> Option<(Vec<Value>, Uuid, DataKey)> {
        let (plain, key_id, key) = self.open_bytes(EVENT_AAD, blob.as_str()?)?;
        match serde_json::from_slice(&plain).ok()? {
            Value::Array(values) => Some((values, key_id, key)),
            _ => None,
        }
    }

    /// The key ids of the sealed values among these payloads (either format) that the cache
    /// does not know.
    pub(crate) fn missing<'a>(
        &self,
        payloads: impl Iterator<Item = (&'a str, &'a Value)>,
    ) -> Vec<Uuid> {
        let mut missing = Vec::new();
        let mut note = |id: Uuid| {
            if !missing.contains(&id) && !self.is_fresh(id) {
                missing.push(id);
            }
        };
        for (event_type, payload) in payloads {
            if let Some(id) = blob_key_id(payload) {
                note(id);
            }
            privacy::for_each_value_ref(event_type, payload, &mut |v| {
                if let Some(id) = sealed_key_id(v) {
                    note(id);
                }
            });
        }
        missing
    }
}

/// The key id an event's blob (format 2) names; `None` for a payload without one.
fn blob_key_id(payload: &Value) -> Option<Uuid> {
    head_key_id(payload.get(EVENT_MEMBER)?.as_str()?)
}

/// Whether a payload holds its values in a blob (format 2).
pub(crate) fn is_sealed_whole(payload: &Value) -> bool {
    payload.get(EVENT_MEMBER).is_some()
}

#[cfg(test)]
mod tests;
