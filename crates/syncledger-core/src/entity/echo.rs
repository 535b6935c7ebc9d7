//! What an entity knows of the sync's own writes and of agreement between its systems: the
//! facts the echo rule (G3) and the "changed in the target" rule (G5) read.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::EntityState;
use crate::decide::EchoContext;
use crate::events::Fields;

impl EntityState {
    /// A write of `fields` into `system` landed: both sides now hold what the source held, and
    /// values written into those fields before are superseded (no longer echoes).
    pub(super) fn written_through(&mut self, system: &str, fields: &Fields) {
        let written = self.sync_written.entry(system.to_string()).or_default();
        for (field, value) in fields {
            written.insert(field.clone(), vec![value.clone()]);
            self.synced.insert(field.clone(), value.clone());
        }
    }

    /// Fields every known system holds equally are in sync: that value is their new base.
    pub(super) fn note_agreement(&mut self) {
        let mut systems = self.known.values();
        let (Some(first), Some(_)) = (systems.next(), self.known.values().nth(1)) else {
            return;
        };
        let agreed: Vec<(String, Value)> = first
            .iter()
            .filter(|(field, value)| {
                self.known
                    .values()
                    .all(|other| other.get(*field) == Some(*value))
            })
            .map(|(field, value)| (field.clone(), value.clone()))
            .collect();
        self.synced.extend(agreed);
    }

    /// `system` was seen holding `fields`: written values it no longer holds are not echoes any more.
    pub(super) fn seen_holding(&mut self, system: &str, fields: &Fields) {
        let Some(written) = self.sync_written.get_mut(system) else {
            return;
        };
        for (field, values) in written.iter_mut() {
            let held = fields.get(field).unwrap_or(&Value::Null);
            values.retain(|v| v == held);
        }
        written.retain(|_, values| !values.is_empty());
    }

    /// The values the sync asked to write into each system that are still inside the round-trip
    /// window at `now`: requested less than `ttl` ago (G3). The same answer as this entity's
    /// live `wrote/` rows of `round_trip_context`, whose expiry is the request's recorded-at
    /// time plus the same TTL.
    pub fn written_within(&self, ttl: chrono::Duration, now: DateTime<Utc>) -> EchoContext {
        let mut echo = EchoContext::default();
        for (system, fields) in &self.requested_values {
            for (field, values) in fields {
                for (value, at) in values {
                    let expires_at = at
                        .checked_add_signed(ttl)
                        .unwrap_or(DateTime::<Utc>::MAX_UTC);
                    if now < expires_at {
                        echo.record(system, field, value.clone());
                    }
                }
            }
        }
        echo
    }

    /// Whether `value` in `system`'s `field` may be the echo of the sync's own write there.
    pub fn may_be_echo(&self, system: &str, field: &str, value: &Value) -> bool {
        self.sync_written
            .get(system)
            .and_then(|fields| fields.get(field))
            .is_some_and(|values| values.contains(value))
    }
}
