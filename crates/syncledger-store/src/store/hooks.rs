//! The store's hooks for tests and benchmarks: holding a commit open, counting waiting writers
//! and parked subscribers, group-commit figures.

use std::future::Future;

use syncledger_core::log::StreamAppend;

use super::{Backend, Store};
use crate::StoreError;
use crate::pending::PendingAppend;

impl Store {
    /// An append that has done everything but commit. For tests that need to hold a commit open
    /// to force an interleaving; production code calls [`Store::append`].
    #[doc(hidden)]
    pub async fn begin_append(
        &self,
        mut appends: Vec<StreamAppend>,
    ) -> Result<PendingAppend, StoreError> {
        dispatch!(self, s => s.seal_appends(&mut appends).await)?;
        Ok(match &self.backend {
            Backend::Sqlite(s) => s.begin_append(appends).await?.into(),
            Backend::Postgres(s) => s.begin_append(appends).await?.into(),
        })
    }

    /// How many writers wait for the lock that orders positions (test hook; see `shared.rs`).
    #[doc(hidden)]
    pub fn appends_waiting(&self) -> usize {
        dispatch!(self, s => s.shared.appends_waiting())
    }

    /// How group commit has gone in this process: appends waiting for the committer (a test
    /// hook), and the groups committed so far (benchmarks print the average group size).
    #[doc(hidden)]
    pub fn group_commit_stats(&self) -> crate::GroupStats {
        dispatch!(self, s => s.group.stats())
    }

    /// How many subscriptions have read everything and wait for a wake-up (test hook).
    #[doc(hidden)]
    pub fn subscribers_parked(&self) -> usize {
        dispatch!(self, s => s.shared.subscribers_parked())
    }

    pub(crate) async fn parked<T>(&self, wait: impl Future<Output = T>) -> T {
        dispatch!(self, s => {
            let _parked = s.shared.parked();
            wait.await
        })
    }
}
