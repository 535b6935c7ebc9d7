//! The sync engine.
//!
//! - [`ledger`]: the [`Ledger`] handle (store, configuration, connectors, settings).
//! - [`ingest`]: webhooks in, as observed changes in the log.
//! - `process`: one entity's work, in log order, with optimistic version checks.
//! - `gather`: the lookups around a decision (fetch, round-trip context).
//! - `writes`: writes out, their outcomes, and recovery of writes whose outcome was lost.
//! - `failures`: a job that fails or panics: recorded against its work, retried, dead-lettered.
//! - `worker`: the worker pool and leases.
//! - `recovery`: at start-up, writes a dead process left unanswered are settled first.
//! - [`bringup`]: the initial sync of records that existed before syncledger, durable and
//!   resumable, filed through `observe` (the door webhooks use) and held creates (`hold`).
#![forbid(unsafe_code)]

pub mod bringup;
mod dead_letter;
pub mod error;
mod failures;
mod gather;
mod hold;
pub mod ingest;
pub mod ledger;
mod observe;
mod process;
mod recovery;
mod worker;
mod writes;

pub use error::EngineError;
pub use ingest::{Accepted, IngestError};
pub use ledger::{Connectors, EngineSettings, Ledger};
