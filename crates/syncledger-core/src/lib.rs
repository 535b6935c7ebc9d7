//! syncledger's domain: no database, no HTTP, no async.
//!
//! - [`log`]: the vocabulary of the event log (envelopes, positions, expected versions, conflicts,
//!   upcasting).
//! - [`events`]: the catalog of sync events and the deterministic entity ids.
//! - [`projection`]: projections as pure functions from an event to row operations.
//! - [`projections`]: the six projections of the product (id mappings, pending queue, round-trip
//!   context, entity state, dead letters, sync stats).
//! - [`config`]: the TOML configuration, its environment overrides and its validation.
//! - [`lookup`]: whole words and their digests, for finding records by name.
//! - [`mapping`]: field paths and the translation between a system's records and canonical fields.
//! - [`entity`]: an entity's state, folded from its stream.
//! - [`initial_sync`]: a tenant's initial sync of one entity type, folded from its stream.
//! - [`decide`]: the decision core: (entity state, fetched record, round-trip context) -> events.
//! - [`replay`]: today's decision code re-run over recorded history, reporting differences.
#![forbid(unsafe_code)]

pub mod config;
pub mod decide;
pub mod entity;
pub mod events;
pub mod explain;
pub mod initial_sync;
pub mod log;
pub mod lookup;
pub mod mapping;
pub mod privacy;
pub mod projection;
pub mod projections;
pub mod replay;
pub mod retention;
pub mod snapshot;
