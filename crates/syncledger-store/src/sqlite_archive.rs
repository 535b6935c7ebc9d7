//! SQLite's side of archiving: archived events are deleted in small batches, each its own
//! short write transaction, so appends (webhooks) queue behind at most one batch. The
//! `events_no_delete` trigger (migration 0007) lets a DELETE through only for positions at or
//! below the last recorded segment's. With `auto_vacuum = INCREMENTAL` (every database created
//! by this version) each batch's freed pages are given back to the file system
//! (`incremental_vacuum`); an older database keeps them on its free list, where new events reuse
//! them (the file stops growing until the log has refilled them; `VACUUM` once, offline, shrinks
//! it and switches it to incremental).

use sqlx::SqlitePool;

/// Events deleted per write transaction: about a few milliseconds of the write lock.
const DELETE_BATCH: i64 = 2_000;

/// Nothing to do: SQLite's log is one table.
pub(crate) async fn ensure_partitions(_pool: &SqlitePool) -> Result<(), sqlx::Error> {
    Ok(())
}

pub(crate) async fn set_partition_width(
    _pool: &SqlitePool,
    _width: i64,
) -> Result<(), sqlx::Error> {
    Ok(())
}

pub(crate) fn is_missing_partition(_err: &sqlx::Error) -> bool {
    false
}

/// Any position can be cut at: rows are deleted, not partitions.
pub(crate) async fn cut_at_or_below(
    _pool: &SqlitePool,
    before: i64,
) -> Result<Option<i64>, sqlx::Error> {
    Ok(Some(before))
}

/// Deletes the events at or below `through`, batch by batch; `progress` hears the running total.
pub(crate) async fn remove_archived(
    write: &SqlitePool,
    through: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, sqlx::Error> {
    let incremental: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(write)
        .await?;
    let mut removed = 0u64;
    loop {
        let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "DELETE FROM events WHERE position IN \
             (SELECT position FROM events WHERE position <= $1 ORDER BY position LIMIT $2)",
        )
        .bind(through)
        .bind(DELETE_BATCH)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        removed += done;
        progress(removed);
        // 2 = INCREMENTAL: give the freed pages back, a bounded number per step.
        if incremental == 2 {
            sqlx::query("PRAGMA incremental_vacuum(2000)")
                .execute(write)
                .await?;
        }
        if done < DELETE_BATCH as u64 {
            return Ok(removed);
        }
    }
}

/// The database file's size in bytes (pages on the free list included).
pub(crate) async fn database_bytes(pool: &SqlitePool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
        .fetch_one(pool)
        .await
}
