//! One streaming read of the log ([`crate::Store::scan`]), for readers that go through much of
//! it in order (the what-if, tools, the log bench): one query whose rows are decoded, upcast
//! and opened on a task of its own, batch by batch, while the reader works on the previous
//! batch. A page read ([`Inner::read_all`]) stops the database while its caller works and the
//! caller while the next page is planned and sent; a scan keeps both busy.
//!
//! The scan is one query reading one snapshot of the log: what had committed when it started
//! (`Store::scan` uses it on PostgreSQL; on SQLite it reads pages instead). Positions become
//! visible in commit order on both backends (docs/log.md), so a snapshot holds every
//! committed event below its highest position: a scan never meets a committed event below a
//! position it has handed out later, exactly as pages do. Events committed after it started are
//! not in it; a reader that wants them scans again (or reads pages) after the last position it
//! was given. While it runs the snapshot is held open (on SQLite, WAL checkpoints cannot pass
//! it; on PostgreSQL, vacuum cannot clean behind it), so scans are for reads that finish.

use sqlx::Pool;
use syncledger_core::log::{LogFilter, Position, RecordedEvent, Upcasters};
use tokio::sync::mpsc;

use super::{Db, EventRow, Inner, event_from_row, keys, read};
use crate::StoreError;
use crate::seal::Keyring;

/// A scan's batches, in position order; an error ends it.
pub(crate) type Batches<T> = mpsc::Receiver<Result<Vec<T>, StoreError>>;

impl Inner {
    /// Scans the events after `after` (up to `up_to`) matching `filter`, handing them over in
    /// batches of `batch`, each event passed through `map` on the scan's task.
    pub(crate) fn scan<T, F>(
        &self,
        (after, up_to): (Position, Option<Position>),
        filter: LogFilter,
        batch: usize,
        map: F,
    ) -> Batches<T>
    where
        T: Send + 'static,
        F: FnMut(RecordedEvent) -> T + Send + 'static,
    {
        // Two batches in flight: enough to overlap, little memory.
        let (sender, receiver) = mpsc::channel(2);
        let reader = Reader {
            pool: self.read.clone(),
            upcasters: self.shared.upcasters(),
            ring: self.shared.keyring.clone(),
        };
        tokio::spawn(async move {
            let range = (after, up_to);
            let scanned = reader.run(range, &filter, batch.max(1), map, &sender).await;
            if let Err(err) = scanned {
                let _ = sender.send(Err(err)).await;
            }
        });
        receiver
    }
}

/// What a scan reads with: its own pool handle, and how it upcasts and opens events.
struct Reader {
    pool: Pool<Db>,
    upcasters: std::sync::Arc<Upcasters>,
    ring: Option<std::sync::Arc<Keyring>>,
}

impl Reader {
    async fn run<T, F>(
        &self,
        (after, up_to): (Position, Option<Position>),
        filter: &LogFilter,
        batch: usize,
        mut map: F,
        sender: &mpsc::Sender<Result<Vec<T>, StoreError>>,
    ) -> Result<(), StoreError>
    where
        F: FnMut(RecordedEvent) -> T,
    {
        use futures::TryStreamExt;

        let mut conn = self.pool.acquire().await?;
        let mut query = read::select_after(after, up_to, filter);
        query.push(" ORDER BY position");
        let mut rows = query.build_query_as::<EventRow>().fetch(&mut *conn);
        let mut pending = Vec::with_capacity(batch);
        loop {
            let row = rows.try_next().await?;
            let done = row.is_none();
            pending.extend(row);
            if pending.len() == batch || (done && !pending.is_empty()) {
                let full = std::mem::replace(&mut pending, Vec::with_capacity(batch));
                if !self.hand_over(full, &mut map, sender).await? {
                    // The reader stopped listening: close the connection rather than hand the
                    // pool one that must first drain the rest of the log.
                    drop(rows);
                    conn.close().await?;
                    return Ok(());
                }
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Decodes, upcasts and opens a batch of rows, maps it and sends it; false when the reader
    /// stopped listening.
    async fn hand_over<T, F>(
        &self,
        rows: Vec<EventRow>,
        map: &mut F,
        sender: &mpsc::Sender<Result<Vec<T>, StoreError>>,
    ) -> Result<bool, StoreError>
    where
        F: FnMut(RecordedEvent) -> T,
    {
        let events = rows
            .into_iter()
            .map(|r| self.upcasters.apply(event_from_row(r)))
            .collect();
        let batch: Vec<T> = self.opened(events).await?.into_iter().map(map).collect();
        Ok(sender.send(Ok(batch)).await.is_ok())
    }

    /// The batch with its sealed values opened (docs/privacy.md), before anyone sees it.
    async fn opened(
        &self,
        mut events: Vec<RecordedEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if let Some(ring) = self.ring.as_deref() {
            let named = events.iter().map(|e| (e.event_type.as_str(), &e.payload));
            let missing = ring.missing(named);
            if !missing.is_empty() {
                keys::load_keys(&self.pool, ring, &missing).await?;
            }
            events.iter_mut().for_each(|e| {
                ring.open_event(e);
            });
        }
        Ok(events)
    }
}
