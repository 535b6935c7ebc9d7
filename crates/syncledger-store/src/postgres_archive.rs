//! PostgreSQL's side of archiving (migration 0007): the log is partitioned by position range,
//! and archived events leave the live database as whole partitions. A partition is detached
//! with `DETACH PARTITION ... CONCURRENTLY` (it waits for the transactions using the table
//! instead of locking appends and readers out) and then dropped: no row is deleted, so there is
//! no dead tuple to vacuum and no long lock. Partitions are created ahead of the head
//! (`syncledger_ensure_partitions`) by `migrate`, by `archive`, and by an append that finds no
//! partition for its positions (it creates them and tries again).

use sqlx::{AssertSqlSafe, PgPool};

/// Positions a fresh set of partitions reaches past the next position to be drawn, in units
/// of the partition width: the current one and one more.
const AHEAD_WIDTHS: i64 = 2;

/// Creates partitions until they reach well past the next position to be drawn.
pub(crate) async fn ensure_partitions(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT syncledger_ensure_partitions($1 * (SELECT value FROM log_settings \
         WHERE key = 'partition_width'))",
    )
    .bind(AHEAD_WIDTHS)
    .execute(pool)
    .await
    .map(drop)
}

/// Sets how many positions each partition covers from the next position on: the empty
/// partitions made ahead are dropped (no position can be drawn meanwhile: the log-order lock
/// is held) and made again at the new width by the next `ensure_partitions`.
pub(crate) async fn set_partition_width(pool: &PgPool, width: i64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(i64::from_be_bytes(*b"syncledg"))
        .execute(&mut *tx)
        .await?;
    let ahead: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM event_partitions WHERE from_position >= (SELECT CASE WHEN is_called \
         THEN last_value + 1 ELSE last_value END FROM event_position_seq)",
    )
    .fetch_all(&mut *tx)
    .await?;
    for part in ahead {
        sqlx::query(AssertSqlSafe(format!("DROP TABLE {}", quote(&part))))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM event_partitions WHERE name = $1")
            .bind(&part)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE log_settings SET value = $1 WHERE key = 'partition_width'")
        .bind(width)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// An insert whose position falls past the last partition.
pub(crate) fn is_missing_partition(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23514") && db.message().contains("no partition"))
}

/// The position archiving can cut at, for a wish to archive everything before `before`: the
/// upper bound of the last whole partition below it (only whole partitions leave), or `None`
/// when no partition ends at or below it.
pub(crate) async fn cut_at_or_below(
    pool: &PgPool,
    before: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(to_position) FROM event_partitions WHERE to_position <= $1")
        .bind(before)
        .fetch_one(pool)
        .await
}

/// Detaches and drops every partition whose positions all lie at or below `through` (every
/// one of its events is in a verified, recorded segment). Returns how many events left with
/// them; `progress` hears the running total.
pub(crate) async fn remove_archived(
    pool: &PgPool,
    through: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, sqlx::Error> {
    let parts: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM event_partitions WHERE to_position - 1 <= $1 ORDER BY from_position",
    )
    .bind(through)
    .fetch_all(pool)
    .await?;
    let mut removed = 0;
    for part in parts {
        // A detach interrupted earlier (the process died) is finished, not started again.
        let state: Option<bool> = sqlx::query_scalar(
            "SELECT i.inhdetachpending FROM pg_inherits i \
             WHERE i.inhrelid = to_regclass($1) AND i.inhparent = 'events'::regclass",
        )
        .bind(&part)
        .fetch_optional(pool)
        .await?;
        let quoted = quote(&part);
        let rows: i64 = match state {
            Some(_) => {
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {quoted}")))
                    .fetch_one(pool)
                    .await?
            }
            None => 0,
        };
        match state {
            Some(false) => {
                let sql = format!("ALTER TABLE events DETACH PARTITION {quoted} CONCURRENTLY");
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await?;
            }
            Some(true) => {
                let sql = format!("ALTER TABLE events DETACH PARTITION {quoted} FINALIZE");
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await?;
            }
            None => {}
        }
        let mut tx = pool.begin().await?;
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {quoted}")))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM event_partitions WHERE name = $1")
            .bind(&part)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        removed += rows as u64;
        progress(removed);
    }
    Ok(removed)
}

/// The live database's size in bytes.
pub(crate) async fn database_bytes(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(pool)
        .await
}

/// A partition name as an identifier (they are `events_p<digits>`, quoted all the same).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
