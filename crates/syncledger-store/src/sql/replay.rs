//! Replaying the log into row effects, batch by batch, for a rebuild.
//!
//! The bulk of a rebuild is one streaming scan of the log run as a pipeline: a task of its own
//! reads, decodes, upcasts and folds each batch into [`Effects`], while the rebuild writes the
//! previous batch. Decoding and the projection's own code then run beside the database writes
//! instead of between them. The scan sees the log as it was when it began; what is appended
//! meanwhile is read page by page afterwards ([`Inner::read_folded`]).

use std::sync::Arc;

use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, Pool};
use syncledger_core::log::{LogFilter, Position, RecordedEvent, Upcasters};
use syncledger_core::projection::Projection;
use tokio::sync::mpsc;

use super::{Conn, Db, EVENT_COLUMNS, EventRow, Inner, digests, event_from_row, keys, read};
use crate::StoreError;
use crate::coalesce::Effects;
use crate::seal::Keyring;

/// One batch of the log, folded.
pub(crate) struct Folded {
    pub(crate) effects: Effects,
    /// The last position in the batch.
    pub(crate) last: Position,
    /// Events in the batch.
    pub(crate) events: u64,
}

/// Folds a batch of rows (in position order) into the projection's effects; `None` when empty.
pub(crate) fn fold(
    projection: &dyn Projection,
    upcasters: &Upcasters,
    ring: Option<&Keyring>,
    rows: Vec<EventRow>,
) -> Result<Option<Folded>, StoreError> {
    fold_events(
        projection,
        upcasters,
        ring,
        rows.into_iter().map(event_from_row),
    )
}

/// Folds events as stored (sealed, in position order; archived ones too) the same way: upcast,
/// opened (the caller has loaded their keys, [`Inner::load_event_keys`]) and projected, the rows
/// of a projection that holds values sealed again under each event's key.
pub(crate) fn fold_events(
    projection: &dyn Projection,
    upcasters: &Upcasters,
    ring: Option<&Keyring>,
    events: impl IntoIterator<Item = RecordedEvent>,
) -> Result<Option<Folded>, StoreError> {
    Ok(
        fold_each(&[projection], upcasters, ring, events)?.map(|mut folded| Folded {
            effects: folded.effects.pop().unwrap_or_default(),
            last: folded.last,
            events: folded.events,
        }),
    )
}

/// One batch of the log folded for several projections, their effects in the same order.
pub(crate) struct FoldedEach {
    pub(crate) effects: Vec<Effects>,
    pub(crate) last: Position,
    pub(crate) events: u64,
}

/// [`fold_events`] for several projections at once: each event is upcast and opened once, then
/// applied to each projection in turn. The catch-up of the projections that stand at one
/// checkpoint reads, decodes and opens the log once for all of them.
pub(crate) fn fold_each(
    projections: &[&dyn Projection],
    upcasters: &Upcasters,
    ring: Option<&Keyring>,
    events: impl IntoIterator<Item = RecordedEvent>,
) -> Result<Option<FoldedEach>, StoreError> {
    let mut effects: Vec<Effects> = projections.iter().map(|_| Effects::default()).collect();
    let (mut last, mut count) = (None, 0);
    for event in events {
        let mut event = upcasters.apply(event);
        last = Some(event.position);
        count += 1;
        let each = keys::open_and_project_each(ring, projections, &mut event)?;
        for (effects, ops) in effects.iter_mut().zip(each) {
            ops.into_iter().for_each(|op| effects.push(op));
        }
    }
    Ok(last.map(|last| FoldedEach {
        effects,
        last,
        events: count,
    }))
}

impl Inner {
    /// The next page after `after`, folded; `None` when there is nothing after it.
    pub(crate) async fn read_folded(
        &self,
        conn: &mut Conn,
        projection: &dyn Projection,
        after: Position,
        batch: i64,
    ) -> Result<Option<Folded>, StoreError> {
        let rows = read::read_after(conn, after, None, &LogFilter::default(), batch).await?;
        let ring = self.shared.keyring.as_deref();
        load_missing(&self.read, ring, &rows).await?;
        fold(projection, &self.shared.upcasters(), ring, rows)
    }

    /// [`Inner::read_folded`] for several projections that stand at the same position: the
    /// page is read, decoded and opened once.
    pub(crate) async fn read_folded_each(
        &self,
        conn: &mut Conn,
        projections: &[&dyn Projection],
        after: Position,
        batch: i64,
    ) -> Result<Option<FoldedEach>, StoreError> {
        let rows = read::read_after(conn, after, None, &LogFilter::default(), batch).await?;
        let ring = self.shared.keyring.as_deref();
        load_missing(&self.read, ring, &rows).await?;
        let events = rows.into_iter().map(event_from_row);
        fold_each(projections, &self.shared.upcasters(), ring, events)
    }

    /// Scans the whole log on a task of its own, sending folded batches as they are ready.
    pub(crate) fn spawn_scan(
        &self,
        projection: Arc<dyn Projection>,
        after: Position,
        batch: usize,
    ) -> mpsc::Receiver<Result<Folded, StoreError>> {
        // Two batches in flight: enough to overlap, little memory.
        let (sender, receiver) = mpsc::channel(2);
        let pool = self.read.clone();
        let upcasters = self.shared.upcasters();
        let ring = self.shared.keyring.clone();
        tokio::spawn(async move {
            let source = Source {
                pool,
                upcasters,
                ring,
            };
            let scanned = scan(&source, projection.as_ref(), after, batch, &sender).await;
            if let Err(err) = scanned {
                let _ = sender.send(Err(err)).await;
            }
        });
        receiver
    }
}

/// What a scan reads with: its own pool handle, and how it upcasts and opens events.
struct Source {
    pool: Pool<Db>,
    upcasters: Arc<Upcasters>,
    ring: Option<Arc<Keyring>>,
}

/// Loads the keys a batch of rows names that the cache lacks, and its tenants' digest keys.
async fn load_missing(
    pool: &Pool<Db>,
    ring: Option<&Keyring>,
    rows: &[EventRow],
) -> Result<(), StoreError> {
    let Some(ring) = ring else {
        return Ok(());
    };
    digests::load_tenant_keys(pool, ring, rows.iter().map(|r| r.7.as_str())).await?;
    let missing = ring.missing(rows.iter().map(|r| (r.4.as_str(), &r.6.0)));
    if missing.is_empty() {
        return Ok(());
    }
    keys::load_keys(pool, ring, &missing).await
}

async fn scan(
    source: &Source,
    projection: &dyn Projection,
    after: Position,
    batch: usize,
    sender: &mpsc::Sender<Result<Folded, StoreError>>,
) -> Result<(), StoreError> {
    let mut conn = source.pool.acquire().await?;
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 ORDER BY position");
    let mut rows = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
        .bind(after.0)
        .fetch(&mut *conn);
    let mut pending = Vec::with_capacity(batch);
    loop {
        let row = rows.try_next().await?;
        let done = row.is_none();
        pending.extend(row);
        if pending.len() == batch || (done && !pending.is_empty()) {
            let full = std::mem::replace(&mut pending, Vec::with_capacity(batch));
            let ring = source.ring.as_deref();
            load_missing(&source.pool, ring, &full).await?;
            if let Some(folded) = fold(projection, &source.upcasters, ring, full)?
                && sender.send(Ok(folded)).await.is_err()
            {
                return Ok(()); // the rebuild stopped listening
            }
        }
        if done {
            return Ok(());
        }
    }
}
