//! The sync engine, in rooms. Each room is a type that owns its state; they meet only in the
//! [`Ledger`], which the rest of the product calls (docs/architecture.md, "The engine's rooms").
//!
//! - [`intake`] (`Intake`): webhooks in, as observed changes in the log.
//! - `scheduler` (`Scheduler`): the pending queue, leases, the worker pool, and the start-up
//!   recovery of writes a dead process left unanswered.
//! - `job` (`job::run`, `Job`): one entity's work, a state machine over its folded stream:
//!   gather, decide (the core's pure `decide`), record, write, settle; failures and panics are
//!   recorded against the work and retried under the one retry policy.
//! - [`bringup`] (`BringUp`): the initial sync of records that existed before syncledger,
//!   durable and resumable.
//! - [`sampler`] (`Sampler`): the operations page's per-minute history of queue depth, intake
//!   and writes (operational state beside the log, pruned to a day).
//!
//! Below the rooms, leaves that know none of them: `context` (store, configuration, connected
//! systems, the workers' wake-up), `settings`, `observe` (the one door an observation of a record
//! goes through, for webhooks and the initial sync alike), `held` (work held for an initial
//! sync's listing, shared by the jobs and the bring-up), [`snapshots`] (streams loaded from their
//! archive snapshot) and `error`.
#![forbid(unsafe_code)]

pub mod bringup;
mod context;
pub mod error;
mod held;
pub mod intake;
mod job;
pub mod ledger;
mod observe;
pub mod retention;
pub mod sampler;
mod scheduler;
pub mod settings;
pub mod snapshots;

pub use error::EngineError;
pub use intake::{Accepted, IngestError};
pub use ledger::Ledger;
pub use settings::{Connectors, EngineSettings, Gate, GatePoint};
