//! [`Store::scan`]: the log in one streaming read instead of pages (`sql/scan.rs`).

use syncledger_core::log::{LogFilter, Position, RecordedEvent};
use tokio::sync::mpsc;

use super::{Backend, Store};
use crate::StoreError;

/// The batches of a [`Store::scan`], in position order. Dropping it stops the scan.
pub struct Scan<T>(Source<T>);

enum Source<T> {
    /// PostgreSQL: batches from the scan's task.
    Streamed(mpsc::Receiver<Result<Vec<T>, StoreError>>),
    /// SQLite: pages read on the caller's task when it asks.
    Paged(Box<Pages<T>>),
}

/// A SQLite scan: the database runs in this process, and in this session's runs a scan on a
/// task of its own (streamed or paged) cost SQLite 25-35% more CPU per event than pages read
/// and decoded where they are used (docs/benchmarks.md, "Reads at the speed of the scan"):
/// rows and payloads built on one thread and dropped on another.
struct Pages<T> {
    store: Store,
    after: Position,
    up_to: Option<Position>,
    filter: LogFilter,
    batch: i64,
    map: Box<dyn FnMut(RecordedEvent) -> T + Send>,
    done: bool,
}

impl<T> Scan<T> {
    /// The next batch; `None` once the scan is done. After an error the scan is over.
    pub async fn next_batch(&mut self) -> Option<Result<Vec<T>, StoreError>> {
        match &mut self.0 {
            Source::Streamed(batches) => batches.recv().await,
            Source::Paged(pages) => pages.next().await,
        }
    }
}

impl<T> Pages<T> {
    async fn next(&mut self) -> Option<Result<Vec<T>, StoreError>> {
        if self.done {
            return None;
        }
        let page = match self
            .store
            .read_all(self.after, &self.filter, self.batch)
            .await
        {
            Ok(page) => page,
            Err(err) => {
                self.done = true;
                return Some(Err(err));
            }
        };
        self.done = (page.len() as i64) < self.batch;
        self.after = page.last().map_or(self.after, |e| e.position);
        let up_to = self.up_to.unwrap_or(Position(i64::MAX));
        let batch: Vec<T> = page
            .into_iter()
            .take_while(|e| e.position <= up_to)
            .map(&mut self.map)
            .collect();
        self.done |= self.after >= up_to;
        (!batch.is_empty()).then_some(Ok(batch))
    }
}

impl Store {
    /// The global log after `after` (up to `up_to` when given) matching `filter`, in position
    /// order, in batches of `batch` events, each event passed through `map`.
    ///
    /// On PostgreSQL: one streaming query read on a task of its own: rows are decoded, upcast
    /// and their sealed values opened there, then each event goes through `map` (on that task
    /// too, so a reader can decode payloads beside its own work), and the reader gets batches
    /// while the next is read. It reads the log as it was when it started (one snapshot: never a
    /// committed event below a position it handed out, docs/log.md); events committed later are
    /// not in it. It holds one read connection until it ends or is dropped. Call within a tokio
    /// runtime.
    ///
    /// On SQLite: `read_all` pages read on the caller's task as it asks for them ([`Pages`]).
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
        if let Backend::Sqlite(_) = &self.backend {
            return Scan(Source::Paged(Box::new(Pages {
                store: self.clone(),
                after,
                up_to,
                filter,
                batch: batch.clamp(1, i64::MAX as usize) as i64,
                map: Box::new(map),
                done: false,
            })));
        }
        let batches = dispatch!(self, s => s.scan((after, up_to), filter, batch, map));
        Scan(Source::Streamed(batches))
    }
}
