//! syncledger's domain: no database, no HTTP, no async.
//!
//! - [`log`]: the vocabulary of the event log (envelopes, positions, expected versions, conflicts,
//!   upcasting).
//! - [`events`]: the catalog of sync events and the deterministic entity ids.
//! - [`projection`]: projections as pure functions from an event to row operations.
#![forbid(unsafe_code)]

pub mod events;
pub mod log;
pub mod projection;
