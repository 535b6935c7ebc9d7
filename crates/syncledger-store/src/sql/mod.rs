//! The store's SQL, written once and compiled twice: `sqlite.rs` and `postgres.rs` each include
//! this module with their own `Db` type alias and `dialect` module. Everything here is ordinary
//! concrete sqlx code against `Db`; what differs between the backends (write locking, NOTIFY,
//! DDL types) lives behind the `dialect` functions.
//!
//! - `append`: appends, idempotency, and the pending-append hook tests use to hold a commit.
//! - `read`: stream and global reads, head, lookups by id.
//! - `rows`: applying folded row effects to projection tables, and row queries.
//! - `engine`: migrations, projection tables and checkpoints, catch-up, status.
//! - `rebuild`: shadow-table rebuilds and the atomic swap; `replay`: the log folded into
//!   row effects, as a pipeline.
//! - `claim`: keys one entity holds by construction (a record's link), checked in the append.
//! - `lease`: entity leases; `samples`: the operations page's per-minute samples.
//! - `archive`: an archive run (segments, snapshots, removal); `archived`: what the database
//!   knows of its archive (segments, snapshots, partition width); `archive_read`: reading it back.
//! - `scan`: one read of much of the log in order (PostgreSQL: one streaming query decoded on a
//!   task of its own; SQLite: pages).

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sqlx::Pool;
use sqlx::types::Json;
use syncledger_core::log::{EventMeta, Position, RecordedEvent};
use uuid::Uuid;

pub(crate) use super::{Db, dialect};
use crate::shared::Shared;

mod append;
mod archive;
mod archive_read;
mod archived;
mod claim;
mod digests;
mod engine;
mod erase;
mod group;
mod keys;
mod lease;
mod read;
mod rebuild;
mod replay;
mod rows;
mod samples;
mod scan;
mod seal_old;
mod versions;

pub(crate) use append::Pending;

type Conn = <Db as sqlx::Database>::Connection;

/// One backend's store: a pool for reads, a pool for writes (the same pool on PostgreSQL, a
/// single connection on SQLite), and the backend-neutral state.
pub(crate) struct Inner {
    pub(crate) read: Pool<Db>,
    pub(crate) write: Pool<Db>,
    pub(crate) shared: Shared,
    pub(crate) wakeups: dialect::Wakeups,
    pub(crate) group: group::Committer,
}

const EVENT_COLUMNS: &str = "position, stream_id, sequence, event_id, event_type, schema_version, \
     payload, tenant, correlation_id, causation_id, recorded_at";

/// An `events` row as sqlx decodes it, in `EVENT_COLUMNS` order.
type EventRow = (
    i64,
    Uuid,
    i64,
    Uuid,
    String,
    i32,
    Json<Value>,
    String,
    Option<Uuid>,
    Option<Uuid>,
    DateTime<Utc>,
);

fn event_from_row(row: EventRow) -> RecordedEvent {
    let (position, stream_id, sequence, event_id, event_type, schema_version, payload) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6);
    RecordedEvent {
        position: Position(position),
        stream_id,
        sequence: sequence as u64,
        event_id,
        event_type,
        schema_version,
        payload: payload.0,
        meta: EventMeta {
            tenant: row.7,
            correlation_id: row.8,
            causation_id: row.9,
        },
        recorded_at: row.10,
    }
}

/// Timestamps are kept to the microsecond: PostgreSQL stores no more, and both backends must
/// return the same values.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// How a bound row limit is written: `LIMIT $n + 0`, not `LIMIT $n`. SQLite plans a bare bound
/// LIMIT from its value, so its prepared statement expires whenever the binding changes and is
/// parsed and planned again on every run (what `perf` showed of every stream read and row
/// query); an expression keeps the plan. PostgreSQL takes either.
const LIMIT_PLUS_ZERO: &str = " + 0";

fn limit(limit: i64) -> Result<i64, crate::StoreError> {
    if limit < 0 {
        return Err(crate::StoreError::InvalidInput(format!(
            "limit must not be negative, got {limit}"
        )));
    }
    Ok(limit)
}

/// Appends `(v1, v2, ...)` with each value bound; `items` must not be empty.
fn push_in<'a, T>(query: &mut sqlx::QueryBuilder<Db>, items: impl IntoIterator<Item = T>)
where
    T: sqlx::Encode<'a, Db> + sqlx::Type<Db>,
{
    let mut list = query.separated(", ");
    list.push_unseparated("(");
    for item in items {
        list.push_bind(item);
    }
    list.push_unseparated(")");
}

impl Inner {
    pub(crate) fn backend_name(&self) -> &'static str {
        dialect::BACKEND
    }
}
