//! [`PendingAppend`]: an append that has done everything but commit, for tests that must hold a
//! commit open to force an interleaving (see `tests/store/order.rs`).

use syncledger_core::log::Appended;

use crate::{StoreError, postgres, sqlite};

/// An append holding its transaction open (see [`crate::Store::begin_append`]). Dropping it rolls
/// back.
#[doc(hidden)]
pub struct PendingAppend(Backend);

enum Backend {
    Sqlite(sqlite::Pending),
    Postgres(postgres::Pending),
}

impl From<sqlite::Pending> for PendingAppend {
    fn from(p: sqlite::Pending) -> Self {
        PendingAppend(Backend::Sqlite(p))
    }
}

impl From<postgres::Pending> for PendingAppend {
    fn from(p: postgres::Pending) -> Self {
        PendingAppend(Backend::Postgres(p))
    }
}

impl PendingAppend {
    /// Where the events will land once committed.
    pub fn appended(&self) -> &[Appended] {
        match &self.0 {
            Backend::Sqlite(p) => p.appended(),
            Backend::Postgres(p) => p.appended(),
        }
    }

    pub async fn commit(self) -> Result<Vec<Appended>, StoreError> {
        match self.0 {
            Backend::Sqlite(p) => p.commit().await,
            Backend::Postgres(p) => p.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.0 {
            Backend::Sqlite(p) => p.rollback().await,
            Backend::Postgres(p) => p.rollback().await,
        }
    }
}
