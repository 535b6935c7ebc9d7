//! `round_trip_context`: the creates the sync has in flight, so it recognises their echoes.
//!
//! A connected system announces the sync's own create back by webhook, sometimes before the
//! create request has even answered. One row per create, put inline by the request recorded
//! before the outbound call (the decision that carries it, or an older log's `WriteRequested`): `create/{request_id}`, sort key
//! `{target_system}/{fingerprint}`, found by the match-key fingerprint of the target's create
//! webhook before any id mapping exists (G2).
//!
//! The values the sync wrote (G3) are read from the entity's own stream, which a job has folded
//! anyway (`EntityState::written_within`); this table kept rows for them once (`wrote/...`), but
//! nothing read them and they were dropped. A database written by an older version keeps those
//! rows until `syncledger rebuild round_trip_context`.
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
use crate::events::{Fields, WriteOp};
use crate::log::RecordedEvent;
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "round_trip_context";
pub const CREATE_PREFIX: &str = "create/";

pub fn create_key(request_id: Uuid) -> String {
    format!("{CREATE_PREFIX}{request_id}")
}

/// The sort key a target's create webhook is looked up by (with the `create/` key prefix).
pub fn create_sort_key(target_system: &str, fingerprint: &str) -> String {
    format!("{target_system}/{fingerprint}")
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

impl CreateContext {
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

    fn holds_values(&self) -> bool {
        true
    }

    /// Its sort keys end in a digest of values, keyed by the store (docs/privacy.md).
    fn keys_sort_keys(&self) -> bool {
        true
    }

    /// An entity's written values; a tenant's creates in flight by fingerprint.
    fn lookups(&self) -> Lookups {
        Lookups {
            sort_key: false,
            ..Lookups::ALL
        }
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let Some(decoded) = decode(event) else {
            return vec![];
        };
        let Some(write) = crate::events::write_request(&decoded) else {
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
        ops
    }
}

#[cfg(test)]
mod tests;
