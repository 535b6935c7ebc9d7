//! The PostgreSQL backend: the shared SQL code of `sql/` compiled against `sqlx::Postgres`, plus
//! what only PostgreSQL does: the advisory lock that orders positions by commit, LISTEN/NOTIFY
//! wake-ups, and a session lock that keeps two processes from rebuilding the same projection.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::shared::Shared;
use crate::{StoreError, StoreOptions};

pub(crate) type Db = sqlx::Postgres;

#[allow(
    clippy::duplicate_mod,
    reason = "sql/ is compiled once per backend on purpose"
)]
#[path = "sql/mod.rs"]
pub(crate) mod imp;

pub(crate) use imp::{Inner, Pending};

pub(crate) async fn connect(url: &str, options: StoreOptions) -> Result<Arc<Inner>, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(crate::shared::ping_if_idle)
        .connect(url)
        .await?;
    from_pool(pool, options)
}

pub(crate) fn from_pool(pool: PgPool, options: StoreOptions) -> Result<Arc<Inner>, StoreError> {
    Ok(Arc::new(Inner {
        read: pool.clone(),
        write: pool,
        shared: Shared::new(options)?,
        wakeups: dialect::Wakeups::default(),
        group: Default::default(),
    }))
}

pub(crate) mod dialect {
    //! The few places where PostgreSQL's SQL or behaviour differs from SQLite's.

    use std::time::Duration;

    use sqlx::postgres::PgListener;
    use sqlx::types::Json;
    use sqlx::{AssertSqlSafe, Connection, PgConnection, Transaction};
    use syncledger_core::projection::Row;
    use tokio::sync::{Mutex, watch};
    use tokio::task::JoinHandle;
    use tokio_util::sync::CancellationToken;

    use super::{Db, Inner};
    use crate::StoreError;
    use crate::shared::Shared;

    pub(crate) const BACKEND: &str = "postgres";

    /// The committer runs on the caller's runtime: its connections' sockets belong to it.
    pub(crate) fn spawn_committer(task: impl std::future::Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    pub(crate) static MIGRATOR: sqlx::migrate::Migrator =
        sqlx::migrate!("../../migrations/postgres");

    pub(crate) const FOR_UPDATE: &str = " FOR UPDATE";

    /// An append is one statement (migration 0004): without inline projections it is sent in
    /// autocommit mode, as its own transaction.
    pub(crate) const ONE_STATEMENT: bool = true;

    pub(crate) use crate::postgres_append::write_appends;
    pub(crate) use crate::postgres_archive::{
        cut_at_or_below, database_bytes, ensure_partitions, is_missing_partition, remove_archived,
        set_partition_width,
    };

    /// An append that finds nothing committing or queued commits on its caller's task.
    pub(crate) const COMMIT_ON_CALLER: bool = true;

    /// The transaction-scoped advisory lock every append holds from allocating its positions to
    /// its commit. ASCII "syncledg".
    const LOG_ORDER_LOCK: i64 = i64::from_be_bytes(*b"syncledg");
    /// First half of the two-key session lock a rebuild holds; the second is the name's hash.
    const REBUILD_LOCK: i32 = i32::from_be_bytes(*b"rbld");
    const CHANNEL: &str = "syncledger_events";

    pub(crate) async fn begin_write(
        inner: &Inner,
    ) -> Result<Transaction<'static, Db>, sqlx::Error> {
        inner.write.begin().await
    }

    /// Serialises position allocation: whoever holds this lock draws the next positions, and PG
    /// releases it only once the commit is visible, so positions become visible in order.
    /// Appends take it inside their statement (`postgres_append.rs`, same constant); migrations
    /// and a rebuild's swap take it here, to keep appends out.
    pub(crate) async fn lock_log_order(
        conn: &mut PgConnection,
        shared: &Shared,
    ) -> Result<(), sqlx::Error> {
        let _waiting = shared.waiting_for_lock();
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_ORDER_LOCK)
            .execute(conn)
            .await
            .map(drop)
    }

    /// A write transaction whose loss in a server crash is harmless because it is redone
    /// (projection batches commit their checkpoint with their rows; a rebuild's shadow is
    /// rebuilt): it commits without waiting for the WAL flush. Never used for appends. One
    /// round trip: `BEGIN` and the setting go together.
    pub(crate) async fn begin_redoable(
        inner: &Inner,
    ) -> Result<Transaction<'static, Db>, sqlx::Error> {
        inner
            .write
            .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
            .await
    }

    /// Wake-ups across processes: the LISTEN task, started by the first subscriber and stopped
    /// when the store goes, and the notifier that sends NOTIFY after this process's commits.
    #[derive(Default)]
    pub(crate) struct Wakeups {
        task: Mutex<Option<JoinHandle<()>>>,
        notifier: crate::postgres_notify::Notifier,
    }

    /// After a commit that appended events (appends no longer NOTIFY themselves, migration
    /// 0011): one coalesced NOTIFY from the notifier's own connection.
    pub(crate) fn wake_other_processes(inner: &Inner) {
        inner
            .wakeups
            .notifier
            .kick(&inner.write.connect_options(), &inner.shared.closed);
    }

    /// Makes sure a task LISTENs and turns notifications into the in-process signal. Returns
    /// once LISTEN is active, so an append committed after this returns is never missed.
    pub(crate) async fn ensure_wakeups(inner: &Inner) -> Result<(), StoreError> {
        let mut task = inner.wakeups.task.lock().await;
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let mut listener = PgListener::connect_with(&inner.read).await?;
        listener.listen(CHANNEL).await?;
        let signal = inner.shared.signal().clone();
        let closed = inner.shared.closed.clone();
        let retry = inner.shared.poll_interval;
        *task = Some(tokio::spawn(listen(listener, signal, closed, retry)));
        Ok(())
    }

    async fn listen(
        mut listener: PgListener,
        signal: watch::Sender<u64>,
        closed: CancellationToken,
        retry: Duration,
    ) {
        let bump = || signal.send_modify(|n| *n = n.wrapping_add(1));
        loop {
            tokio::select! {
                _ = closed.cancelled() => return,
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => bump(),
                    // The connection dropped; notifications may have been lost meanwhile, so
                    // readers look again. The next call reconnects and re-LISTENs.
                    Ok(None) => bump(),
                    Err(err) => {
                        tracing::warn!(error = %err, "event listener failed; retrying");
                        bump();
                        tokio::select! {
                            _ = closed.cancelled() => return,
                            _ = tokio::time::sleep(retry) => {}
                        }
                    }
                },
            }
        }
    }

    /// A dedicated connection holding a session advisory lock on the projection's name. If the
    /// process dies, the connection closes and PostgreSQL releases the lock.
    pub(crate) struct RebuildLock {
        conn: PgConnection,
        name: String,
    }

    pub(crate) async fn lock_rebuild(inner: &Inner, name: &str) -> Result<RebuildLock, StoreError> {
        let mut conn = inner.write.acquire().await?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(REBUILD_LOCK)
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
        if !locked {
            return Err(StoreError::InvalidInput(format!(
                "a rebuild of {name} is already running in another process"
            )));
        }
        Ok(RebuildLock {
            conn,
            name: name.to_owned(),
        })
    }

    /// Unlocks explicitly before closing: the server ends a closed session (and drops its
    /// locks) only some time after the client has gone, and the next rebuild may come sooner.
    pub(crate) async fn unlock_rebuild(mut lock: RebuildLock) {
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
            .bind(REBUILD_LOCK)
            .bind(&lock.name)
            .execute(&mut lock.conn)
            .await;
        if let Err(err) = unlocked {
            tracing::warn!(error = %err, "releasing the rebuild lock; the session end will");
        }
        if let Err(err) = lock.conn.close().await {
            tracing::debug!(error = %err, "closing the rebuild lock's connection");
        }
    }

    pub(crate) async fn delete_rows(
        conn: &mut PgConnection,
        table: &str,
        keys: &[String],
    ) -> Result<(), sqlx::Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!("DELETE FROM {table} WHERE key = ANY($1)");
        sqlx::query(AssertSqlSafe(sql))
            .bind(keys)
            .execute(conn)
            .await
            .map(drop)
    }

    /// One statement whatever the number of rows: the columns go in as arrays and `UNNEST`
    /// turns them back into rows (far cheaper for PostgreSQL to plan than a long VALUES list,
    /// and always the same prepared statement).
    pub(crate) async fn insert_rows(
        conn: &mut PgConnection,
        table: &str,
        rows: &[Row],
        on_conflict: &str,
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {table} (key, tenant, entity_id, sort_key, doc, n) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[], $5::jsonb[], \
             $6::int8[]) ON CONFLICT (key) {on_conflict}"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.tenant.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.entity_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.sort_key.as_str()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| Json(&r.doc)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.n).collect::<Vec<_>>())
            .execute(conn)
            .await
            .map(drop)
    }

    /// A projection table, created as `table`; `g` names its primary key constraint (its
    /// indexes: `engine::projection_ddl`). `COLLATE "C"` orders keys bytewise, as SQLite does.
    pub(crate) fn projection_table_ddl(table: &str, g: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (key TEXT COLLATE \"C\" NOT NULL, \
             tenant TEXT NOT NULL, entity_id UUID NULL, sort_key TEXT COLLATE \"C\" NOT NULL, \
             doc JSONB NOT NULL, n BIGINT NOT NULL DEFAULT 0, CONSTRAINT {g}_pk PRIMARY KEY (key))"
        )
    }

    /// Statement-level triggers that keep `projection_counts` under `key` for `table`, through
    /// `projection_count()` (migration 0002): one upsert per tenant a statement touched, from
    /// its transition tables. PostgreSQL allows transition tables only on single-event
    /// triggers without a column list, hence three, and an update trigger that fires for every
    /// update (its function moves only the rows whose tenant changed).
    pub(crate) fn count_triggers_ddl(table: &str, key: &str) -> Vec<String> {
        let trigger = |event: &str, verb: &str, referencing: &str| {
            format!(
                "CREATE TRIGGER {key}_count_{event} AFTER {verb} ON {table} \
                 REFERENCING {referencing} FOR EACH STATEMENT \
                 EXECUTE FUNCTION projection_count('{key}')"
            )
        };
        vec![
            trigger("insert", "INSERT", "NEW TABLE AS new_rows"),
            trigger("delete", "DELETE", "OLD TABLE AS old_rows"),
            trigger(
                "update",
                "UPDATE",
                "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            ),
        ]
    }

    /// Whether the trigger `name` exists on `table`.
    pub(crate) async fn has_trigger(
        conn: &mut PgConnection,
        table: &str,
        name: &str,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) \
             AND tgname = $2)",
        )
        .bind(table)
        .bind(name)
        .fetch_one(conn)
        .await
    }
}
