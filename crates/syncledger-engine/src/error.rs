//! The engine's one error type.

use syncledger_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store could not be reached: callers answer 503 and the sender retries.
    #[error("store unavailable")]
    Unavailable(#[source] StoreError),
    /// Another writer moved the entity first; the caller re-reads and decides again.
    #[error("concurrent change: {0}")]
    Conflict(syncledger_core::log::Conflict),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(c) => EngineError::Conflict(c),
            StoreError::Unavailable(..) => EngineError::Unavailable(e),
            other => EngineError::Store(other),
        }
    }
}
