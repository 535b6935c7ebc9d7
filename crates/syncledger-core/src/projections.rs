//! The projections of the product, as pure handlers over the event log: the six of the contract,
//! `webhook_receipts`, which deduplicates webhooks by the sender's id, and `match_index`, which
//! finds another system's record by match keys (G8).
//!
//! Each one turns one decoded [`SyncEvent`] into [`RowOp`]s on its own table, never reading that
//! table, so the incremental path and a rebuild from position 0 run the same code. The three
//! projections the sync itself consults while deciding (`id_mappings`, `pending_queue`,
//! `round_trip_context`) are inline: a reader sees them as soon as the append that implies them
//! commits, which is what closes the round-trip races of the contract (G2, G3); `match_index` is
//! inline for the same reason (G8). The ones that only report (`entity_state`, `dead_letters`,
//! `sync_stats`, `conflicts`) catch up afterwards, as does `word_index`, which finds records by
//! the whole words of their text fields (a name) for a person's search.
//!
//! Every row carries the event's tenant; the row of an entity carries its stream id. Each module
//! exports its table's name, its key helpers and the typed doc its rows hold, so the engine and
//! the API look rows up and read them without knowing the layout. Events that do not decode (an
//! unknown type, a payload that does not fit) imply no rows: the log is the truth, and a rebuild
//! after a fix picks them up.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::config::Config;
use crate::events::SyncEvent;
use crate::log::{Position, RecordedEvent};
use crate::projection::{Projection, Row};

pub mod conflicts;
pub mod dead_letters;
pub mod entity_state;
pub mod id_mappings;
pub mod match_index;
pub mod pending_queue;
pub mod round_trip_context;
pub mod sync_stats;
pub mod webhook_receipts;
pub mod word_index;

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

/// The projections' names, in the order [`all`] returns them.
pub const NAMES: [&str; 10] = [
    id_mappings::NAME,
    pending_queue::NAME,
    round_trip_context::NAME,
    webhook_receipts::NAME,
    match_index::NAME,
    entity_state::NAME,
    dead_letters::NAME,
    sync_stats::NAME,
    conflicts::NAME,
    word_index::NAME,
];

/// Every projection of the product, for a store opened without a configuration: the default
/// round-trip TTL given, and a `match_index` of every field.
pub fn all(round_trip_ttl: chrono::Duration) -> Vec<Arc<dyn Projection>> {
    with(round_trip_ttl, match_index::MatchIndex::every_field())
}

/// Every projection of the product as `config` shapes them: its round-trip TTL, and a
/// `match_index` of the fields some entity type uses as match keys.
pub fn configured(config: &Config) -> Vec<Arc<dyn Projection>> {
    let keys: BTreeSet<String> = config
        .entities
        .iter()
        .flat_map(|e| e.match_keys.iter().cloned())
        .collect();
    with(
        config.server.round_trip_ttl(),
        match_index::MatchIndex::of(keys),
    )
}

/// The inline ones first, then the catch-up ones.
fn with(
    round_trip_ttl: chrono::Duration,
    match_index: match_index::MatchIndex,
) -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(id_mappings::IdMappings),
        Arc::new(pending_queue::PendingQueue),
        Arc::new(round_trip_context::RoundTripContext::new(round_trip_ttl)),
        Arc::new(webhook_receipts::WebhookReceipts),
        Arc::new(match_index),
        Arc::new(entity_state::EntityState),
        Arc::new(dead_letters::DeadLetters),
        Arc::new(sync_stats::SyncStats),
        Arc::new(conflicts::Conflicts),
        Arc::new(word_index::WordIndex),
    ]
}

/// The projection with this name (for `rebuild <projection>`).
pub fn by_name(name: &str, round_trip_ttl: chrono::Duration) -> Option<Arc<dyn Projection>> {
    all(round_trip_ttl).into_iter().find(|p| p.name() == name)
}

/// A time as a string whose byte order is time order: fixed-width UTC, microseconds.
pub fn sortable_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `{sortable time}/{position, 20 digits}`: time order, ties broken by log order.
pub fn time_position_key(time: DateTime<Utc>, position: Position) -> String {
    format!("{}/{:020}", sortable_time(time), position.0.max(0))
}

fn decode(event: &RecordedEvent) -> Option<SyncEvent> {
    SyncEvent::from_recorded(event).ok()
}

fn row(
    event: &RecordedEvent,
    key: String,
    entity: Option<Uuid>,
    sort_key: String,
    doc: Value,
) -> Row {
    Row {
        key,
        tenant: event.meta.tenant.clone(),
        entity_id: entity,
        sort_key,
        doc,
        n: 0,
    }
}

/// Docs are plain data: serializing one cannot fail.
fn doc(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("projection docs always serialize")
}
