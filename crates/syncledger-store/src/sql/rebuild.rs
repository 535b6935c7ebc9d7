//! Rebuilding a projection from position 0 into a shadow table, then swapping it in.
//!
//! Phase 1 replays the log into `<name>__rebuild` while appends go on and the live table keeps
//! serving reads: a streaming scan folded on its own task (`replay`), then page by page what was
//! appended during the scan; each batch commits with the progress `projection_status` reports.
//! The shadow's secondary indexes are built once the bulk is loaded. Phase 2 takes the append
//! lock (PostgreSQL's log-order advisory lock, SQLite's write lock), so nothing can commit
//! between "the last event applied" and "the swap": it applies the tail, renames live to
//! `<name>__old` and the shadow to `<name>`, drops the old table and moves the checkpoint, all in
//! one transaction. Readers see either the old table or the complete new one.
//!
//! Index and constraint names carry a generation number (stored with the checkpoint) because
//! renaming a table does not rename its indexes: the shadow's are created for generation g+1.
//! So do a counted projection's row counts (`projection_counts`, keyed `<name>_g<generation>`):
//! the shadow's are taken once its bulk is loaded and kept by its own triggers from then on,
//! become the live counts with the swap (the checkpoint's generation says which key is live),
//! and the old generation's are dropped with its table; an abandoned shadow's go with it.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::AssertSqlSafe;
use syncledger_core::log::Position;
use syncledger_core::projection::Projection;

use super::archive_read::ArchiveReplay;
use super::engine::{self, checkpoint};
use super::replay::Folded;
use super::{Conn, Inner, dialect, now, read, rows};
use crate::StoreError;
use crate::types::RebuildProgress;

/// Called after each phase-1 batch; tests use it to append while a rebuild runs.
pub(crate) type Hook<'a> = &'a mut (dyn FnMut(RebuildProgress) -> BoxFuture<'static, ()> + Send);
pub(crate) type Progress<'a> = &'a (dyn Fn(RebuildProgress) + Send + Sync);

impl Inner {
    /// Rebuilds `name` from the log, and first from the archive in `archive` when the log's
    /// first events were archived (docs/log.md, "Archiving"): a rebuild without the archive
    /// would lose what they gave, so it is refused then.
    pub(crate) async fn rebuild(
        &self,
        name: &str,
        archive: Option<&std::path::Path>,
        progress: Progress<'_>,
        hook: Hook<'_>,
    ) -> Result<RebuildProgress, StoreError> {
        let projection = self.shared.registry.get(name)?.clone();
        let segments = self.archive_to_replay(archive).await?;
        let _claim = self.shared.claim_rebuild(name)?;
        let lock = dialect::lock_rebuild(self, name).await?;
        let result = self
            .rebuild_locked(projection, segments, progress, hook)
            .await;
        if result.is_err() {
            self.abandon_rebuild(name).await;
        }
        dialect::unlock_rebuild(lock).await;
        result
    }

    async fn rebuild_locked(
        &self,
        projection: Arc<dyn Projection>,
        archive: Option<ArchiveReplay>,
        progress: Progress<'_>,
        hook: Hook<'_>,
    ) -> Result<RebuildProgress, StoreError> {
        let name = projection.name();
        let shadow = format!("{name}__rebuild");
        let batch = self.shared.batch_size as i64;

        let mut tx = dialect::begin_write(self).await?;
        let (_, generation) = checkpoint(&mut tx, name, false).await?;
        let next = generation + 1;
        // A shadow left by a crashed rebuild goes first, with its indexes.
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {shadow}")))
            .execute(&mut *tx)
            .await?;
        engine::drop_counts(&mut tx, &engine::generation_name(name, next)).await?;
        // The table now, its secondary indexes once the bulk of it is loaded: building an
        // index once is cheaper than maintaining it row by row.
        let mut ddl = engine::projection_ddl(&shadow, projection.as_ref(), next);
        let indexes = ddl.split_off(1);
        sqlx::query(AssertSqlSafe(ddl.remove(0)))
            .execute(&mut *tx)
            .await?;
        let head = read::head(&mut tx).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE position <= $1")
            .bind(head.0)
            .fetch_one(&mut *tx)
            .await?;
        let archived = archive.as_ref().map_or(0, ArchiveReplay::events);
        // The live log is read after what the archive holds (events a run cut short left live
        // are in both).
        let covered = Position(archive.as_ref().map_or(0, ArchiveReplay::through));
        let mut state = RebuildProgress {
            done: 0,
            total: total as u64 + archived,
        };
        set_progress(&mut tx, name, "rebuilding", state).await?;
        tx.commit().await?;
        progress(state);

        // Phase 0, no lock: the archive, segment by segment (each read back and checked).
        for batch in archive.iter().flat_map(ArchiveReplay::segments) {
            let events = batch.read()?;
            self.load_event_keys(&events).await?;
            let folded = super::replay::fold_events(
                projection.as_ref(),
                &self.shared.upcasters(),
                self.shared.keyring.as_deref(),
                events,
            )?;
            if let Some(folded) = folded {
                state = self.apply_batch(name, &shadow, folded, state).await?;
                progress(state);
            }
        }
        // Phase 1a, no lock: the streaming scan.
        let mut at = covered;
        let mut scan = self.spawn_scan(projection.clone(), covered, batch as usize);
        while let Some(folded) = scan.recv().await {
            at = folded.as_ref().map_or(at, |f| f.last);
            state = self.apply_batch(name, &shadow, folded?, state).await?;
            progress(state);
            hook(state).await;
        }
        // Phase 1b, no lock: what was appended during the scan, page by page.
        loop {
            let mut conn = self.read.acquire().await?;
            let page = self
                .read_folded(&mut conn, projection.as_ref(), at, batch)
                .await?;
            drop(conn);
            let Some(folded) = page else { break };
            let full = folded.events == batch as u64;
            at = folded.last;
            state = self.apply_batch(name, &shadow, folded, state).await?;
            progress(state);
            hook(state).await;
            if !full {
                break;
            }
        }
        let mut tx = dialect::begin_write(self).await?;
        for index in indexes {
            sqlx::query(AssertSqlSafe(index)).execute(&mut *tx).await?;
        }
        // Counted like the indexes are built: once, over the loaded rows; the tail then goes
        // through the triggers.
        engine::install_counts(&mut tx, &shadow, projection.as_ref(), next).await?;
        tx.commit().await?;

        // Phase 2: under the append lock, the tail and the swap.
        let mut tx = dialect::begin_write(self).await?;
        dialect::lock_log_order(&mut tx, &self.shared).await?;
        checkpoint(&mut tx, name, true).await?;
        while let Some(folded) = self
            .read_folded(&mut tx, projection.as_ref(), at, batch)
            .await?
        {
            at = folded.last;
            state.done += folded.events;
            rows::apply_effects(&mut tx, &shadow, folded.effects).await?;
        }
        state.total = state.total.max(state.done);
        for sql in [
            format!("ALTER TABLE {name} RENAME TO {name}__old"),
            format!("ALTER TABLE {shadow} RENAME TO {name}"),
            format!("DROP TABLE {name}__old"),
        ] {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        engine::drop_counts(&mut tx, &engine::generation_name(name, generation)).await?;
        super::versions::record_version(&mut tx, projection.as_ref()).await?;
        sqlx::query(
            "UPDATE projection_checkpoints SET position = $1, generation = $2, status = 'live', \
             rebuild_done = $3, rebuild_total = $4, updated_at = $5 WHERE name = $6",
        )
        .bind(at.0)
        .bind(next)
        .bind(state.done as i64)
        .bind(state.total as i64)
        .bind(now())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        progress(state);
        Ok(state)
    }

    /// Writes one phase-1 batch to the shadow table and records the progress with it. A lost
    /// batch only means a rebuild to redo, so it commits without waiting for durability.
    async fn apply_batch(
        &self,
        name: &str,
        shadow: &str,
        folded: Folded,
        mut state: RebuildProgress,
    ) -> Result<RebuildProgress, StoreError> {
        state.done += folded.events;
        state.total = state.total.max(state.done);
        let mut tx = dialect::begin_redoable(self).await?;
        rows::apply_effects(&mut tx, shadow, folded.effects).await?;
        set_progress(&mut tx, name, "rebuilding", state).await?;
        tx.commit().await?;
        Ok(state)
    }

    /// After a failed rebuild: the live table was never touched; mark it live again and drop
    /// the half-built shadow. Best effort: a later rebuild drops the shadow anyway.
    async fn abandon_rebuild(&self, name: &str) {
        let cleanup = async {
            let mut tx = dialect::begin_write(self).await?;
            let drop = format!("DROP TABLE IF EXISTS {name}__rebuild");
            sqlx::query(AssertSqlSafe(drop)).execute(&mut *tx).await?;
            let (_, generation) = checkpoint(&mut tx, name, false).await?;
            engine::drop_counts(&mut tx, &engine::generation_name(name, generation + 1)).await?;
            sqlx::query("UPDATE projection_checkpoints SET status = 'live' WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        if let Err(err) = cleanup.await {
            tracing::warn!(projection = name, error = %err, "cleaning up after a failed rebuild");
        }
    }
}

async fn set_progress(
    conn: &mut Conn,
    name: &str,
    status: &str,
    state: RebuildProgress,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints SET status = $1, rebuild_done = $2, rebuild_total = $3, \
         updated_at = $4 WHERE name = $5",
    )
    .bind(status)
    .bind(state.done as i64)
    .bind(state.total as i64)
    .bind(now())
    .bind(name)
    .execute(conn)
    .await
    .map(drop)
}
