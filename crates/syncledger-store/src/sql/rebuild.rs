//! Rebuilding a projection from position 0 into a shadow table, then swapping it in.
//!
//! Phase 1 replays the log into `<name>__rebuild` in batches while appends go on and the live
//! table keeps serving reads; the next batch is read while the current one is written. Phase 2
//! takes the append lock (PostgreSQL's log-order advisory lock, SQLite's write lock), so nothing
//! can commit between "the last event applied" and "the swap": it applies the tail, renames live
//! to `<name>__old` and the shadow to `<name>`, drops the old table and moves the checkpoint, all
//! in one transaction. Readers see either the old table or the complete new one.
//!
//! Index and constraint names carry a generation number (stored with the checkpoint) because
//! renaming a table does not rename its indexes: the shadow's are created for generation g+1.

use futures::future::BoxFuture;
use sqlx::AssertSqlSafe;
use syncledger_core::log::{LogFilter, Position};
use syncledger_core::projection::Projection;

use super::engine::checkpoint;
use super::{EventRow, Inner, dialect, now, read, rows};
use crate::StoreError;
use crate::coalesce::Effects;
use crate::types::RebuildProgress;

/// Called after each phase-1 batch; tests use it to append while a rebuild runs.
pub(crate) type Hook<'a> = &'a mut (dyn FnMut(RebuildProgress) -> BoxFuture<'static, ()> + Send);
pub(crate) type Progress<'a> = &'a (dyn Fn(RebuildProgress) + Send + Sync);

impl Inner {
    pub(crate) async fn rebuild(
        &self,
        name: &str,
        progress: Progress<'_>,
        hook: Hook<'_>,
    ) -> Result<RebuildProgress, StoreError> {
        let projection = self.shared.registry.get(name)?.clone();
        let _claim = self.shared.claim_rebuild(name)?;
        let lock = dialect::lock_rebuild(self, name).await?;
        let result = self
            .rebuild_locked(projection.as_ref(), progress, hook)
            .await;
        if result.is_err() {
            self.abandon_rebuild(projection.name()).await;
        }
        dialect::unlock_rebuild(lock).await;
        result
    }

    async fn rebuild_locked(
        &self,
        projection: &dyn Projection,
        progress: Progress<'_>,
        hook: Hook<'_>,
    ) -> Result<RebuildProgress, StoreError> {
        let name = projection.name();
        let shadow = format!("{name}__rebuild");
        let batch = self.shared.batch_size as i64;
        let all = LogFilter::default();

        let mut tx = dialect::begin_write(self).await?;
        let (_, generation) = checkpoint(&mut tx, name, false).await?;
        let next = generation + 1;
        // A shadow left by a crashed rebuild goes first, with its indexes.
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {shadow}")))
            .execute(&mut *tx)
            .await?;
        for ddl in dialect::projection_table_ddl(&shadow, name, next) {
            sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await?;
        }
        let head = read::head(&mut tx).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE position <= $1")
            .bind(head.0)
            .fetch_one(&mut *tx)
            .await?;
        let mut state = RebuildProgress {
            done: 0,
            total: total as u64,
        };
        set_progress(&mut tx, name, "rebuilding", state).await?;
        tx.commit().await?;
        progress(state);

        // Phase 1: no lock; the next batch is read while this one is written.
        let mut at = Position::START;
        let mut next_batch = self.read_batch(at, batch).await?;
        while let Some(last) = next_batch.last().map(|e| Position(e.0)) {
            let events = std::mem::take(&mut next_batch);
            let n = events.len() as u64;
            let more = n == batch as u64;
            let (applied, prefetched) = tokio::join!(
                self.apply_batch(projection, &shadow, events, state, n),
                async {
                    if more {
                        self.read_batch(last, batch).await
                    } else {
                        Ok(Vec::new())
                    }
                }
            );
            state = applied?;
            at = last;
            progress(state);
            hook(state).await;
            next_batch = prefetched?;
        }

        // Phase 2: under the append lock, the tail and the swap.
        let mut tx = dialect::begin_write(self).await?;
        dialect::lock_log_order(&mut tx, &self.shared, false).await?;
        checkpoint(&mut tx, name, true).await?;
        loop {
            let events = read::read_after(&mut tx, at, None, &all, batch).await?;
            let Some(last) = events.last().map(|e| Position(e.0)) else {
                break;
            };
            let n = events.len() as i64;
            let effects = self.effects(projection, events);
            rows::apply_effects(&mut tx, &shadow, effects).await?;
            state.done += n as u64;
            at = last;
            if n < batch {
                break;
            }
        }
        state.total = state.total.max(state.done);
        for sql in [
            format!("ALTER TABLE {name} RENAME TO {name}__old"),
            format!("ALTER TABLE {shadow} RENAME TO {name}"),
            format!("DROP TABLE {name}__old"),
        ] {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
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

    async fn read_batch(&self, after: Position, batch: i64) -> Result<Vec<EventRow>, StoreError> {
        let mut conn = self.read.acquire().await?;
        let all = LogFilter::default();
        Ok(read::read_after(&mut conn, after, None, &all, batch).await?)
    }

    fn effects(&self, projection: &dyn Projection, rows: Vec<EventRow>) -> Effects {
        let mut effects = Effects::default();
        for event in self.upcast_all(rows) {
            projection
                .apply(&event)
                .into_iter()
                .for_each(|op| effects.push(op));
        }
        effects
    }

    /// Applies one phase-1 batch to the shadow table and records the progress with it.
    async fn apply_batch(
        &self,
        projection: &dyn Projection,
        shadow: &str,
        rows: Vec<EventRow>,
        mut state: RebuildProgress,
        n: u64,
    ) -> Result<RebuildProgress, StoreError> {
        let effects = self.effects(projection, rows);
        state.done += n;
        state.total = state.total.max(state.done);
        let mut tx = dialect::begin_write(self).await?;
        rows::apply_effects(&mut tx, shadow, effects).await?;
        set_progress(&mut tx, projection.name(), "rebuilding", state).await?;
        tx.commit().await?;
        Ok(state)
    }

    /// After a failed rebuild: the live table was never touched; mark it live again and drop
    /// the half-built shadow. Best effort: a later rebuild drops the shadow anyway.
    async fn abandon_rebuild(&self, name: &str) {
        let cleanup = async {
            let mut tx = dialect::begin_write(self).await?;
            sqlx::query(AssertSqlSafe(format!(
                "DROP TABLE IF EXISTS {name}__rebuild"
            )))
            .execute(&mut *tx)
            .await?;
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
    conn: &mut super::Conn,
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
