//! The projection engine: tables and checkpoints, catch-up, status.
//!
//! A catch-up batch reads its events and computes its row effects without holding any write
//! lock, then applies them in one transaction that first re-reads (and on PostgreSQL row-locks)
//! the checkpoint: if another runner or a rebuild moved it meanwhile, the batch is dropped and
//! read again. Effects and checkpoint commit together, so a crash never applies an event twice.

use std::future::Future;
use std::sync::Arc;

use sqlx::AssertSqlSafe;
use syncledger_core::log::Position;
use syncledger_core::projection::{Mode, Projection};

use super::{Conn, Inner, dialect, now, push_in, read, rows};
use crate::StoreError;
use crate::types::{ProjectionState, ProjectionStatus};

/// A projection's table of generation `generation`, created as `table`: the table first, then
/// the indexes of the lookups its readers make (a rebuild creates those after loading). Names
/// carry the generation so a shadow table's never collide with the live table's.
pub(crate) fn projection_ddl(
    table: &str,
    projection: &dyn Projection,
    generation: i64,
) -> Vec<String> {
    let g = generation_name(projection.name(), generation);
    let lookups = projection.lookups();
    let mut ddl = vec![dialect::projection_table_ddl(table, &g)];
    if lookups.tenant_sort_key {
        ddl.push(format!(
            "CREATE INDEX IF NOT EXISTS {g}_t ON {table} (tenant, sort_key, key)"
        ));
    }
    if lookups.sort_key {
        ddl.push(format!(
            "CREATE INDEX IF NOT EXISTS {g}_s ON {table} (sort_key, key)"
        ));
    }
    if lookups.entity {
        ddl.push(format!(
            "CREATE INDEX IF NOT EXISTS {g}_e ON {table} (entity_id)"
        ));
    }
    ddl
}

/// The name of a projection's generation: its indexes' prefix, and the key its row counts are
/// kept under in `projection_counts`.
pub(crate) fn generation_name(projection: &str, generation: i64) -> String {
    format!("{projection}_g{generation}")
}

/// Makes `table`, of generation `generation`, keep its per-tenant row counts when its projection
/// is counted ([`Lookups::counted`](syncledger_core::projection::Lookups)): installs the
/// triggers and, the first time, counts the rows already there (a database from before the
/// counts, or a rebuild's shadow loaded without them), in the caller's transaction. Once the
/// triggers exist this is one catalogue lookup. The caller must keep other writers of `table`
/// out until it commits (the log-order lock, or the rebuild's own shadow table); on PostgreSQL
/// `CREATE TRIGGER` also locks the table against writes.
pub(crate) async fn install_counts(
    conn: &mut Conn,
    table: &str,
    projection: &dyn Projection,
    generation: i64,
) -> Result<(), sqlx::Error> {
    if !projection.lookups().counted {
        return Ok(());
    }
    let key = generation_name(projection.name(), generation);
    if dialect::has_trigger(conn, table, &format!("{key}_count_insert")).await? {
        return Ok(());
    }
    for sql in dialect::count_triggers_ddl(table, &key) {
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    }
    drop_counts(conn, &key).await?;
    let backfill = format!(
        "INSERT INTO projection_counts (key, tenant, n) \
         SELECT $1, tenant, COUNT(*) FROM {table} GROUP BY tenant ORDER BY tenant"
    );
    sqlx::query(AssertSqlSafe(backfill))
        .bind(&key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets the counts kept under `key` (a generation swapped out, or a shadow abandoned).
pub(crate) async fn drop_counts(conn: &mut Conn, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM projection_counts WHERE key = $1")
        .bind(key)
        .execute(conn)
        .await
        .map(drop)
}

pub(crate) async fn set_checkpoints(
    conn: &mut Conn,
    names: &[&str],
    position: Position,
) -> Result<(), sqlx::Error> {
    let mut update = sqlx::QueryBuilder::new("UPDATE projection_checkpoints SET position = ");
    update
        .push_bind(position.0)
        .push(", updated_at = ")
        .push_bind(now());
    update.push(" WHERE name IN ");
    push_in(&mut update, names.iter().copied());
    update.build().execute(conn).await.map(drop)
}

pub(crate) async fn checkpoint(
    conn: &mut Conn,
    name: &str,
    lock: bool,
) -> Result<(i64, i64), sqlx::Error> {
    let lock = if lock { dialect::FOR_UPDATE } else { "" };
    let sql =
        format!("SELECT position, generation FROM projection_checkpoints WHERE name = $1{lock}");
    sqlx::query_as(AssertSqlSafe(sql))
        .bind(name)
        .fetch_one(conn)
        .await
}

impl Inner {
    /// Runs the embedded migrations, then makes sure every registered projection has its table
    /// and checkpoint. An inline projection behind the head (new, or registered late) is rebuilt,
    /// since inline appends would otherwise move its checkpoint past events it never saw.
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        dialect::MIGRATOR.run(&self.write).await?;
        dialect::ensure_partitions(&self.write).await?;
        self.check_master_key().await?;
        let mut tx = dialect::begin_write(self).await?;
        // Serialises concurrent migrations of several processes (CREATE TABLE IF NOT EXISTS is
        // not safe against a concurrent identical one on PostgreSQL).
        dialect::lock_log_order(&mut tx, &self.shared).await?;
        for projection in self.shared.registry.all() {
            let name = projection.name();
            sqlx::query(
                "INSERT INTO projection_checkpoints (name, position, status, generation, updated_at) \
                 VALUES ($1, 0, 'live', 0, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            let (_, generation) = checkpoint(&mut tx, name, false).await?;
            for ddl in projection_ddl(name, projection.as_ref(), generation) {
                sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await?;
            }
            install_counts(&mut tx, name, projection.as_ref(), generation).await?;
        }
        self.settle_digests(&mut tx).await?;
        self.settle_versions(&mut tx).await?;
        tx.commit().await?;

        let head = self.head().await?;
        for projection in self.shared.registry.with_mode(Mode::Inline) {
            let mut conn = self.read.acquire().await?;
            let (position, _) = checkpoint(&mut conn, projection.name(), false).await?;
            drop(conn);
            if position < head.0 {
                tracing::info!(
                    projection = projection.name(),
                    "inline projection behind the log; rebuilding"
                );
                self.rebuild(projection.name(), None, &|_| {}, &mut crate::no_hook)
                    .await?;
            }
        }
        Ok(())
    }

    /// Brings every catch-up projection to the head; returns the number of events applied
    /// (a page applied to several projections at once counts once).
    pub(crate) async fn catch_up_once(&self) -> Result<u64, StoreError> {
        let projections: Vec<Arc<dyn Projection>> = self
            .shared
            .registry
            .with_mode(Mode::CatchUp)
            .cloned()
            .collect();
        let mut applied = 0;
        loop {
            match self.catch_up_batch(&projections).await? {
                Some(0) => break,
                Some(n) => applied += n,
                None => continue,
            }
        }
        Ok(applied)
    }

    /// One batch for the projections furthest behind (usually all of them, standing together
    /// at the head): the page after their checkpoint is read, decoded and opened once and
    /// applied to each, and their checkpoints move together in one transaction. A projection
    /// ahead of them (one rebuilt a moment ago) waits until they reach it; from then on they go
    /// as one. `Some(0)` when none has anything left to read; `None` when a checkpoint moved
    /// under us and the batch must be read again.
    async fn catch_up_batch(
        &self,
        projections: &[Arc<dyn Projection>],
    ) -> Result<Option<u64>, StoreError> {
        let mut conn = self.read.acquire().await?;
        let mut at = Vec::with_capacity(projections.len());
        for projection in projections {
            at.push(checkpoint(&mut conn, projection.name(), false).await?.0);
        }
        let Some(from) = at.iter().copied().min() else {
            return Ok(Some(0));
        };
        let behind: Vec<&dyn Projection> = projections
            .iter()
            .zip(&at)
            .filter(|(_, at)| **at == from)
            .map(|(p, _)| p.as_ref())
            .collect();
        let batch = self.shared.batch_size as i64;
        let page = self
            .read_folded_each(&mut conn, &behind, Position(from), batch)
            .await?;
        drop(conn);
        // Nothing after the lowest checkpoint: nothing after any of them.
        let Some(folded) = page else {
            return Ok(Some(0));
        };

        let mut tx = dialect::begin_redoable(self).await?;
        for projection in &behind {
            let (now_at, _) = checkpoint(&mut tx, projection.name(), true).await?;
            if now_at != from {
                tx.rollback().await?;
                return Ok(None);
            }
        }
        let names: Vec<&str> = behind.iter().map(|p| p.name()).collect();
        for (name, effects) in names.iter().zip(folded.effects) {
            rows::apply_effects(&mut tx, name, effects).await?;
        }
        set_checkpoints(&mut tx, &names, folded.last).await?;
        tx.commit().await?;
        Ok(Some(folded.events))
    }

    /// Follows the log until `shutdown` completes, applying catch-up projections as events come.
    pub(crate) async fn run_projections(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StoreError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut appended = self.shared.watch_appends();
        dialect::ensure_wakeups(self).await?;
        loop {
            appended.borrow_and_update();
            if let Err(err) = self.catch_up_once().await {
                tracing::warn!(error = %err, "projection catch-up failed; retrying");
            }
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = appended.changed() => {}
                _ = tokio::time::sleep(self.shared.poll_interval) => {}
            }
        }
    }

    pub(crate) async fn projection_status(&self) -> Result<Vec<ProjectionStatus>, StoreError> {
        let mut conn = self.read.acquire().await?;
        let head = read::head(&mut conn).await?;
        let stored: Vec<(String, i64, String, i64, i64)> = sqlx::query_as(
            "SELECT name, position, status, rebuild_done, rebuild_total FROM projection_checkpoints",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut statuses = Vec::new();
        for projection in self.shared.registry.all() {
            let name = projection.name();
            let (position, status, done, total) = stored
                .iter()
                .find(|s| s.0 == name)
                .map(|s| (s.1, s.2.as_str(), s.3, s.4))
                .unwrap_or((0, "live", 0, 0));
            // A projection at the head (the usual case) has nothing to count.
            let lag: i64 = if position >= head.0 {
                0
            } else {
                sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE position > $1")
                    .bind(position)
                    .fetch_one(&mut *conn)
                    .await?
            };
            statuses.push(ProjectionStatus {
                name: name.to_owned(),
                mode: projection.mode(),
                checkpoint: Position(position),
                head,
                lag: lag as u64,
                status: match status {
                    "rebuilding" => ProjectionState::Rebuilding {
                        done: done as u64,
                        total: total as u64,
                    },
                    _ => ProjectionState::Live,
                },
            });
        }
        Ok(statuses)
    }
}
