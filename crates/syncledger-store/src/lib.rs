//! The event log and the projection engine of syncledger, on SQLite and PostgreSQL.
//!
//! One public type, [`Store`], dispatches to one of two backends. Both run the same SQL code:
//! `src/sql/` is compiled twice, once in `sqlite.rs` against `sqlx::Sqlite` and once in
//! `postgres.rs` against `sqlx::Postgres`, each with a small `dialect` module for what differs
//! (write locking, NOTIFY, column types, bulk row writes). `docs/log.md` explains the guarantees and why they hold.
//!
//! - [`store`] holds the [`Store`] handle and its API.
//! - `sql/` holds appends, reads, projection tables, catch-up, rebuild, leases (backend-generic).
//! - [`subscribe`] holds live subscriptions to the log.
//! - `pending.rs` holds [`PendingAppend`], the test hook that holds an append's commit open.
//! - [`coalesce`] folds a batch of row operations into one effect per key.
//! - [`types`] holds options, queries and statuses, and the projection registry.
//! - [`archive`] holds archiving: segments, the manifest, snapshots (`sql/archive.rs` runs it).
//! - [`error`] holds [`StoreError`].
#![forbid(unsafe_code)]

pub mod archive;
mod chunks;
pub mod coalesce;
pub mod error;
mod pending;
mod postgres;
mod postgres_append;
mod postgres_archive;
mod postgres_notify;
pub mod seal;
mod shared;
mod sqlite;
mod sqlite_append;
mod sqlite_archive;
pub mod store;
pub mod subscribe;
pub mod types;
mod written;

pub use error::StoreError;
pub use pending::PendingAppend;
pub use seal::{MasterKey, PACKED_PREFIX};
pub use store::Store;
pub use types::{
    ErasureReceipt, GroupStats, OpsSample, ProjectionState, ProjectionStatus, RebuildProgress,
    RowQuery, SealProgress, StoreOptions,
};

/// The rebuild hook that does nothing.
pub(crate) fn no_hook(_: RebuildProgress) -> futures::future::BoxFuture<'static, ()> {
    Box::pin(async {})
}
