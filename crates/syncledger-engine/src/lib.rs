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
#![forbid(unsafe_code)]

pub mod error;
mod failures;
mod gather;
pub mod ingest;
pub mod ledger;
mod process;
mod recovery;
mod worker;
mod writes;

pub use error::EngineError;
pub use ingest::{Accepted, IngestError};
pub use ledger::{Connectors, EngineSettings, Ledger};
