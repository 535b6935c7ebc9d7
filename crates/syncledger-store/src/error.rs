//! The store's one error type.
//!
//! Callers branch on a few outcomes only: a concurrency [`Conflict`] (reload and decide again), a
//! key claimed by another entity ([`Claimed`]: a record linked elsewhere meanwhile), a
//! partial duplicate (a caller bug: ids were reused), not found, bad input, and "the database is
//! not reachable right now" ([`StoreError::Unavailable`], which the webhook handler turns into a
//! 503 so the sender retries). Everything else is an opaque backend error for the logs.

use syncledger_core::log::{Claimed, Conflict};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An append's expected version did not hold; nothing of that append was written.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The append claimed a key another entity holds (a record linked elsewhere); nothing of
    /// that append was written. The caller reads again: the record belongs to `holder`.
    #[error(transparent)]
    Claimed(#[from] Claimed),
    /// Some, but not all, of an append's event ids are already stored: not a retry of one append.
    #[error("some but not all of the append's event ids are already stored")]
    PartialDuplicate,
    /// The projection (or other named thing) asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The request itself is wrong (empty stream part, bad projection name, negative limit, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The database cannot be reached or is overloaded; retrying later may succeed.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Any other database failure.
    #[error("storage backend error")]
    Backend(#[source] BoxError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_transient(&err) {
            StoreError::Unavailable(Box::new(err))
        } else {
            StoreError::Backend(Box::new(err))
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        match err {
            sqlx::migrate::MigrateError::Execute(inner) => inner.into(),
            other => StoreError::Backend(Box::new(other)),
        }
    }
}

/// Whether the error says "the database is not there right now" rather than "this request failed".
fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: connection exceptions (08), too many connections, shutdown, cannot
            // connect now. SQLite: the database stayed busy or locked past the busy timeout.
            code.starts_with("08")
                || matches!(&*code, "53300" | "57P01" | "57P02" | "57P03")
                || matches!(&*code, "5" | "6" | "261" | "517" | "773")
        }
        _ => false,
    }
}

/// Whether a database error is a unique violation (PostgreSQL 23505, SQLite constraint).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
