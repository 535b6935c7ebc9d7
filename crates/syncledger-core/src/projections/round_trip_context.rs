//! `round_trip_context`: what the sync itself just wrote, so it recognises the echo.
//!
//! A connected system announces the sync's own writes back by webhook, sometimes before the write
//! request has even answered. Two kinds of rows, both put inline by the `WriteRequested` that is
//! recorded before the outbound call:
//!
//! - `create/{request_id}`, sort key `{target_system}/{fingerprint}`: a create in flight, found by
//!   the match-key fingerprint of the target's create webhook before any id mapping exists (G2).
//! - `wrote/{entity}/{target_system}/{field}/{value hash}`, sort key `{target_system}/{field}`: a
//!   value the sync wrote, diffed out of the echo so a stale echo cannot overwrite a newer value,
//!   while a change the target made itself still differs and flows back (G3).
//!
//! Nothing deletes these rows; each carries `expires_at` and readers ignore the expired ones.
//! Because a handler may not read the clock, expiry is computed from the event's recorded time,
//! which also keeps a rebuild identical to the incremental path.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{decode, doc, row};
use crate::events::{Fields, SyncEvent, WriteOp};
use crate::log::RecordedEvent;
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "round_trip_context";
pub const CREATE_PREFIX: &str = "create/";
pub const WROTE_PREFIX: &str = "wrote/";

pub fn create_key(request_id: Uuid) -> String {
    format!("{CREATE_PREFIX}{request_id}")
}

/// The sort key a target's create webhook is looked up by (with the `create/` key prefix).
pub fn create_sort_key(target_system: &str, fingerprint: &str) -> String {
    format!("{target_system}/{fingerprint}")
}

pub fn wrote_key(entity_id: Uuid, target_system: &str, field: &str, value: &Value) -> String {
    format!(
        "{}{}",
        wrote_prefix(entity_id, target_system),
        format_args!("{field}/{}", value_hash(value))
    )
}

/// The key prefix of every value the sync wrote to one entity's record in `target_system`.
pub fn wrote_prefix(entity_id: Uuid, target_system: &str) -> String {
    format!("{WROTE_PREFIX}{entity_id}/{target_system}/")
}

pub fn wrote_sort_key(target_system: &str, field: &str) -> String {
    format!("{target_system}/{field}")
}

/// The first 16 hex digits of the SHA-256 of the value's JSON: one row per value written.
pub fn value_hash(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    hex::encode(&digest[..8])
}

/// A create in flight, as its `create/` row's doc holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateContext {
    pub request_id: Uuid,
    pub entity_id: Uuid,
    pub target_system: String,
    pub fields: Fields,
    pub fingerprint: String,
    pub expires_at: DateTime<Utc>,
}

/// One value the sync wrote, as its `wrote/` row's doc holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WroteValue {
    pub field: String,
    pub value: Value,
    pub target_system: String,
    pub request_id: Uuid,
    pub written_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl CreateContext {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

impl WroteValue {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

pub struct RoundTripContext {
    ttl: chrono::Duration,
}

impl RoundTripContext {
    /// `ttl`: how long after a write its echo is still recognised.
    pub fn new(ttl: chrono::Duration) -> Self {
        RoundTripContext { ttl }
    }
}

impl Projection for RoundTripContext {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    /// An entity's written values; a tenant's creates in flight by fingerprint.
    fn lookups(&self) -> Lookups {
        Lookups {
            sort_key: false,
            ..Lookups::ALL
        }
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let Some(SyncEvent::WriteRequested(write)) = decode(event) else {
            return vec![];
        };
        let entity = event.stream_id;
        let expires_at = event
            .recorded_at
            .checked_add_signed(self.ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut ops = Vec::new();
        if let (WriteOp::Create, Some(fingerprint)) = (write.op, &write.match_fingerprint) {
            let context = CreateContext {
                request_id: write.request_id,
                entity_id: entity,
                target_system: write.target_system.clone(),
                fields: write.fields.clone(),
                fingerprint: fingerprint.clone(),
                expires_at,
            };
            let sort_key = create_sort_key(&write.target_system, fingerprint);
            let key = create_key(write.request_id);
            ops.push(RowOp::Put(row(
                event,
                key,
                Some(entity),
                sort_key,
                doc(context),
            )));
        }
        for (field, value) in &write.fields {
            let wrote = WroteValue {
                field: field.clone(),
                value: value.clone(),
                target_system: write.target_system.clone(),
                request_id: write.request_id,
                written_at: event.recorded_at,
                expires_at,
            };
            let key = wrote_key(entity, &write.target_system, field, value);
            let sort_key = wrote_sort_key(&write.target_system, field);
            ops.push(RowOp::Put(row(
                event,
                key,
                Some(entity),
                sort_key,
                doc(wrote),
            )));
        }
        ops
    }
}

#[cfg(test)]
mod tests;
