//! The SQLite backend: the shared SQL code of `sql/` compiled against `sqlx::Sqlite`, plus what
//! only SQLite does.
//!
//! SQLite has one writer at a time. The store makes that explicit: every write goes through a pool
//! of exactly one connection and starts with `BEGIN IMMEDIATE`, so the write lock is taken up
//! front (no deadlock-prone upgrade from a read lock) and positions are allocated in commit order
//! with no further locking. Other processes on the same file queue behind the same lock through
//! `busy_timeout`. Reads use a separate pool and, thanks to WAL, never wait for the writer.
//! `synchronous = NORMAL` in WAL mode survives a process crash (`kill -9`): a committed
//! transaction is in the WAL file before `COMMIT` returns; only an OS crash or power loss can
//! lose the last commits.

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};

use crate::shared::Shared;
use crate::{StoreError, StoreOptions};

pub(crate) type Db = sqlx::Sqlite;

#[allow(
    clippy::duplicate_mod,
    reason = "sql/ is compiled once per backend on purpose"
)]
#[path = "sql/mod.rs"]
pub(crate) mod imp;

pub(crate) use imp::{Inner, Pending};

pub(crate) async fn connect(url: &str, options: StoreOptions) -> Result<Arc<Inner>, StoreError> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(StoreError::InvalidInput(
            "in-memory SQLite is not supported (reads and writes use separate connections): \
             use a file, e.g. sqlite://syncledger.db"
                .into(),
        ));
    }
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidInput(format!("bad SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // Statement journals (an upsert of many rows keeps one) in memory, not a temp file
        // opened and unlinked per statement.
        .pragma("temp_store", "memory")
        // The background checkpointer (below) copies the WAL into the database file; the
        // writer only does it itself, inside a commit, when the WAL has grown past this.
        .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES);
    // With sealing, freed pages are zeroed, so a destroyed key leaves no copy in the file
    // (docs/privacy.md).
    let connect = match options.master_key {
        Some(_) => connect.pragma("secure_delete", "on"),
        None => connect,
    };
    let max_readers = options.max_connections.max(1);
    let shared = Shared::new(options)?;
    // The writer first: it creates the file and switches it to WAL before any reader opens it.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .before_acquire(crate::shared::ping_if_idle)
        // Archiving gives deleted events' pages back to the file system (`sqlite_archive.rs`).
        // Takes effect on a new database; an existing one keeps its mode until a VACUUM. Set
        // by the writer only: on a reader it would be a write, waiting for the write lock.
        .connect_with(connect.clone().auto_vacuum(SqliteAutoVacuum::Incremental))
        .await?;
    let read = SqlitePoolOptions::new()
        .max_connections(max_readers)
        .test_before_acquire(false)
        .before_acquire(crate::shared::ping_if_idle)
        .connect_with(connect)
        .await?;
    let inner = Arc::new(Inner {
        read,
        write,
        shared,
        wakeups: dialect::Wakeups,
        group: Default::default(),
    });
    tokio::spawn(checkpoint_in_background(Arc::downgrade(&inner)));
    Ok(inner)
}

/// The WAL size (in pages) at which the writer checkpoints inside a commit: a backstop for when
/// the background checkpointer falls behind.
const WRITER_CHECKPOINT_PAGES: &str = "10000";
/// How often the background checkpointer runs while events are being appended.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies committed WAL frames into the database file on a reader connection, beside the writer
/// instead of inside its commits. A commit then only appends its pages to the WAL; left to the
/// writer (SQLite's default, every 1,000 pages), every few commits would also copy and sync the
/// WAL while every other append waits. `PASSIVE` never blocks the writer or readers.
async fn checkpoint_in_background(inner: Weak<Inner>) {
    let (mut appended, closed) = match inner.upgrade() {
        Some(inner) => (inner.shared.watch_appends(), inner.shared.closed.clone()),
        None => return,
    };
    loop {
        tokio::select! {
            _ = closed.cancelled() => return,
            changed = appended.changed() => if changed.is_err() { return },
        }
        tokio::select! {
            _ = closed.cancelled() => return,
            _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&inner.read)
            .await
        {
            if inner.read.is_closed() {
                return;
            }
            tracing::debug!(error = %err, "background WAL checkpoint failed; the writer's backstop remains");
        }
    }
}

pub(crate) mod dialect {
    //! The few places where SQLite's SQL or behaviour differs from PostgreSQL's.

    use sqlx::types::Json;
    use sqlx::{QueryBuilder, SqliteConnection, Transaction};
    use syncledger_core::projection::Row;

    use super::{Db, Inner};
    use crate::StoreError;
    use crate::chunks::pow2_chunks;
    use crate::shared::Shared;

    pub(crate) const BACKEND: &str = "sqlite";

    pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

    /// SQLite has no row locks: the write transaction already excludes every other writer.
    pub(crate) const FOR_UPDATE: &str = "";

    /// Appends are a few statements inside the write transaction (`sqlite_append.rs`).
    pub(crate) const ONE_STATEMENT: bool = false;

    pub(crate) use crate::sqlite_append::write_appends;
    pub(crate) use crate::sqlite_archive::{
        cut_at_or_below, database_bytes, ensure_partitions, is_missing_partition, remove_archived,
        set_partition_width,
    };

    /// Every append goes through the committer's own thread (see `spawn_committer`): measured
    /// on the callers' runtime, one writer's appends were slower, not faster.
    pub(crate) const COMMIT_ON_CALLER: bool = false;

    /// Starts a write transaction on the single writer connection, taking the database's write
    /// lock immediately.
    pub(crate) async fn begin_write(
        inner: &Inner,
    ) -> Result<Transaction<'static, Db>, sqlx::Error> {
        let _waiting = inner.shared.waiting_for_lock();
        inner.write.begin_with("BEGIN IMMEDIATE").await
    }

    /// The committer gets a thread of its own: it is the one serial path every append takes,
    /// and on a shared runtime each of its statements' answers waits for a free worker.
    pub(crate) fn spawn_committer(task: impl std::future::Future<Output = ()> + Send + 'static) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the committer");
        std::thread::Builder::new()
            .name("syncledger-commit".into())
            .spawn(move || runtime.block_on(task))
            .expect("a thread for the committer");
    }

    /// Nothing to do: holding the write transaction already orders positions by commit.
    pub(crate) async fn lock_log_order(
        _conn: &mut SqliteConnection,
        _shared: &Shared,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// In WAL mode with `synchronous = NORMAL` no commit syncs, so this is any write.
    pub(crate) async fn begin_redoable(
        inner: &Inner,
    ) -> Result<Transaction<'static, Db>, sqlx::Error> {
        begin_write(inner).await
    }

    /// Subscribers in this process are woken by [`Shared::notify_appended`]; other processes
    /// on the same file find new events by polling.
    pub(crate) struct Wakeups;

    /// Nothing to send: other processes on the file poll.
    pub(crate) fn wake_other_processes(_inner: &Inner) {}

    pub(crate) async fn ensure_wakeups(inner: &Inner) -> Result<(), StoreError> {
        let Wakeups = &inner.wakeups;
        Ok(())
    }

    /// Only one writer exists per process and rebuild claims are per process, so there is
    /// nothing more to hold.
    pub(crate) struct RebuildLock;

    pub(crate) async fn lock_rebuild(
        _inner: &Inner,
        _name: &str,
    ) -> Result<RebuildLock, StoreError> {
        Ok(RebuildLock)
    }

    pub(crate) async fn unlock_rebuild(_lock: RebuildLock) {}

    pub(crate) async fn delete_rows(
        conn: &mut SqliteConnection,
        table: &str,
        keys: &[String],
    ) -> Result<(), sqlx::Error> {
        for chunk in pow2_chunks(keys) {
            let mut delete = QueryBuilder::<Db>::new(format!("DELETE FROM {table} WHERE key IN ("));
            let mut list = delete.separated(", ");
            for key in chunk {
                list.push_bind(key.as_str());
            }
            list.push_unseparated(")");
            delete.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// `INSERT ... VALUES (..), (..) ON CONFLICT (key) <on_conflict>` in power-of-two chunks.
    pub(crate) async fn insert_rows(
        conn: &mut SqliteConnection,
        table: &str,
        rows: &[Row],
        on_conflict: &str,
    ) -> Result<(), sqlx::Error> {
        for chunk in pow2_chunks(rows) {
            let mut insert = QueryBuilder::<Db>::new(format!(
                "INSERT INTO {table} (key, tenant, entity_id, sort_key, doc, n) "
            ));
            insert.push_values(chunk, |mut b, row| {
                b.push_bind(row.key.as_str())
                    .push_bind(row.tenant.as_str())
                    .push_bind(row.entity_id)
                    .push_bind(row.sort_key.as_str())
                    .push_bind(Json(&row.doc))
                    .push_bind(row.n);
            });
            insert.push(" ON CONFLICT (key) ").push(on_conflict);
            insert.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// A projection table, created as `table` (its indexes: `engine::projection_ddl`).
    pub(crate) fn projection_table_ddl(table: &str, _g: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (key TEXT NOT NULL PRIMARY KEY, \
             tenant TEXT NOT NULL, entity_id BLOB NULL, sort_key TEXT NOT NULL, \
             doc TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0)"
        )
    }

    /// Row triggers that keep `projection_counts` under `key` for `table`: one count row
    /// upserted per row written. A row whose tenant changes (an upsert that replaces it) moves
    /// from one tenant's count to the other's.
    pub(crate) fn count_triggers_ddl(table: &str, key: &str) -> Vec<String> {
        let add = |tenant: &str, by: i64| {
            format!(
                "INSERT INTO projection_counts (key, tenant, n) VALUES ('{key}', {tenant}, {by}) \
                 ON CONFLICT (key, tenant) DO UPDATE SET n = n + ({by});"
            )
        };
        vec![
            format!(
                "CREATE TRIGGER IF NOT EXISTS {key}_count_insert AFTER INSERT ON {table} \
                 BEGIN {} END",
                add("new.tenant", 1)
            ),
            format!(
                "CREATE TRIGGER IF NOT EXISTS {key}_count_delete AFTER DELETE ON {table} \
                 BEGIN {} END",
                add("old.tenant", -1)
            ),
            format!(
                "CREATE TRIGGER IF NOT EXISTS {key}_count_update AFTER UPDATE OF tenant ON {table} \
                 WHEN old.tenant IS NOT new.tenant BEGIN {} {} END",
                add("old.tenant", -1),
                add("new.tenant", 1)
            ),
        ]
    }

    /// Whether the trigger `name` exists (on `table`).
    pub(crate) async fn has_trigger(
        conn: &mut SqliteConnection,
        table: &str,
        name: &str,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' \
             AND tbl_name = $1 AND name = $2)",
        )
        .bind(table)
        .bind(name)
        .fetch_one(conn)
        .await
    }
}
