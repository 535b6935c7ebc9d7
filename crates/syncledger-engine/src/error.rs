//! The engine's one error type.
//!
//! Callers branch on three questions: did another writer move the entity first ([`Conflict`]:
//! re-read and decide again; [`Claimed`]: another entity linked the record first, the same), is something we depend on down for now ([`Unavailable`] for the
//! store, [`SystemUnavailable`] for a connected system: try the entity again later), or is the
//! work itself wrong ([`Invalid`], [`NotFound`]). [`EngineError::is_transient`] answers the
//! second question for a worker that cools an entity down and retries it.
//!
//! [`Conflict`]: EngineError::Conflict
//! [`Claimed`]: EngineError::Claimed
//! [`Unavailable`]: EngineError::Unavailable
//! [`SystemUnavailable`]: EngineError::SystemUnavailable
//! [`Invalid`]: EngineError::Invalid
//! [`NotFound`]: EngineError::NotFound

use std::time::Duration;

use syncledger_connector::ConnectorError;
use syncledger_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store could not be reached: callers answer 503 and the sender retries.
    #[error("store unavailable")]
    Unavailable(#[source] StoreError),
    /// A connected system failed in a way worth retrying (429, 5xx, timeout, no connection)
    /// while the engine read from it: nothing was decided, the entity's work stays owed.
    #[error("{system} unavailable")]
    SystemUnavailable {
        system: String,
        /// The system's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        #[source]
        source: ConnectorError,
    },
    /// Another writer moved the entity first; the caller re-reads and decides again.
    #[error("concurrent change: {0}")]
    Conflict(syncledger_core::log::Conflict),
    /// The append linked a record another entity holds (linked meanwhile, by another job or
    /// process); nothing was written. The caller re-reads and finds whose the record is.
    #[error("record linked elsewhere: {0}")]
    Claimed(syncledger_core::log::Claimed),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(StoreError),
}

impl EngineError {
    /// Whether the same work may succeed later without anything changing: the store or a
    /// connected system was down. A worker cools the entity down and tries it again.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            EngineError::Unavailable(_) | EngineError::SystemUnavailable { .. }
        )
    }

    /// Whether the work itself failed (an answer that breaks the contract, a configuration
    /// that no longer fits the log): recorded against the work, retried with backoff and
    /// dead-lettered after the budget (see `failures`), rather than cooled down and retried
    /// as if something were merely down.
    pub fn is_work_failure(&self) -> bool {
        matches!(self, EngineError::Invalid(_) | EngineError::NotFound(_))
    }

    /// How long the system that failed asked to be left alone (its `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            EngineError::SystemUnavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// An error of a call to `system`: transient failures stay recognisable as such.
    pub(crate) fn from_connector(system: &str, what: String, error: ConnectorError) -> Self {
        match error {
            ConnectorError::Transient { retry_after, .. } => EngineError::SystemUnavailable {
                system: system.to_string(),
                retry_after,
                source: error,
            },
            // The reason is kept in clear (`WorkFailed.reason`, log lines): never the body.
            error => EngineError::Invalid(format!("{what}: {}", error.summary())),
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(c) => EngineError::Conflict(c),
            StoreError::Claimed(c) => EngineError::Claimed(c),
            StoreError::Unavailable(..) => EngineError::Unavailable(e),
            other => EngineError::Store(other),
        }
    }
}
