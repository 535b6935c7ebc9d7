//! [`Store::scan`]: the log in one streaming read instead of pages (`sql/scan.rs`).

use syncledger_core::log::{LogFilter, Position, RecordedEvent};
use tokio::sync::mpsc;

use super::{Backend, Store};
use crate::StoreError;

/// The batches of a [`Store::scan`], in position order. Dropping it stops the scan.
pub struct Scan<T> {
    batches: mpsc::Receiver<Result<Vec<T>, StoreError>>,
}

impl<T> Scan<T> {
    /// The next batch; `None` once the scan is done. After an error the scan is over.
    pub async fn next_batch(&mut self) -> Option<Result<Vec<T>, StoreError>> {
        self.batches.recv().await
    }
}

impl Store {
    /// The global log after `after` (up to `up_to` when given) matching `filter`, in position
    /// order, as one streaming query read on a task of its own: rows are decoded, upcast and
    /// their sealed values opened there, then each event goes through `map` (on that task too,
    /// so a reader can decode payloads beside its own work), and the reader gets batches of
    /// `batch` events while the next is read.
    ///
    /// The scan reads the log as it was when it started (one snapshot: never a committed event
    /// below a position it handed out, docs/log.md); events committed later are not in it.
    /// It holds one read connection until it ends or is dropped. Call within a tokio runtime.
    pub fn scan<T, F>(
        &self,
        (after, up_to): (Position, Option<Position>),
        filter: LogFilter,
        batch: usize,
        map: F,
    ) -> Scan<T>
    where
        T: Send + 'static,
        F: FnMut(RecordedEvent) -> T + Send + 'static,
    {
        let batches = dispatch!(self, s => s.scan((after, up_to), filter, batch, map));
        Scan { batches }
    }
}
