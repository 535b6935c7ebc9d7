//! The truth, read from the database with plain sqlx beside the service: the pending queue's
//! rows counted and its oldest due time, and (at the end) what the data takes on disk.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, SqlitePool};

use crate::args::Backend;

#[derive(Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One table (or index) and its bytes.
pub struct Relation {
    pub table: String,
    pub bytes: i64,
    pub is_index: bool,
}

/// Per event type: how many, and the bytes of their payloads.
pub struct EventTypeSize {
    pub event_type: String,
    pub count: i64,
    pub payload_bytes: i64,
}

impl Db {
    pub async fn connect(backend: Backend, url: &str) -> anyhow::Result<Db> {
        Ok(match backend {
            Backend::Sqlite => {
                use std::str::FromStr;
                // As the store opens it (WAL, `synchronous = NORMAL`), so the ceiling's
                // commits cost what the service's cost.
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(std::time::Duration::from_secs(30));
                Db::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(2)
                        .connect_with(options)
                        .await?,
                )
            }
            Backend::Postgres => Db::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            ),
        })
    }

    /// Rows in the pending queue, and when its first row (in due order) is due.
    pub async fn pending(&self) -> anyhow::Result<(i64, Option<DateTime<Utc>>)> {
        const SQL: &str = "SELECT count(*), min(sort_key) FROM pending_queue";
        let (count, first): (i64, Option<String>) = match self {
            Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
        };
        let due = first
            .and_then(|key| key.get(..27).map(str::to_owned))
            .and_then(|t| t.parse::<DateTime<Utc>>().ok());
        Ok((count, due))
    }

    /// Every table and index with its size: SQLite's `dbstat` pages, PostgreSQL's
    /// `pg_relation_size` (heap with its TOAST, and each index).
    pub async fn relations(&self) -> anyhow::Result<Vec<Relation>> {
        let rows: Vec<(String, String, i64, bool)> = match self {
            Db::Sqlite(pool) => {
                sqlx::query_as(
                    "SELECT coalesce(m.tbl_name, d.name), d.name, sum(d.pgsize), \
                     coalesce(m.type = 'index', 0) \
                     FROM dbstat d LEFT JOIN sqlite_master m ON m.name = d.name \
                     GROUP BY d.name ORDER BY 1, 2",
                )
                .fetch_all(pool)
                .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT t.relname::text, t.relname::text, \
                     (pg_relation_size(t.oid) + coalesce(pg_total_relation_size(nullif(t.reltoastrelid, 0)), 0))::bigint, false \
                     FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE n.nspname = 'public' AND t.relkind = 'r' \
                     UNION ALL \
                     SELECT t.relname::text, i.relname::text, pg_relation_size(i.oid)::bigint, true \
                     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                     JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE n.nspname = 'public' ORDER BY 1, 2",
                )
                .fetch_all(pool)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(table, _name, bytes, is_index)| Relation {
                table,
                bytes,
                is_index,
            })
            .collect())
    }

    /// Events by type with their payload bytes (as stored: text on SQLite, `jsonb` on
    /// PostgreSQL).
    pub async fn event_types(&self) -> anyhow::Result<Vec<EventTypeSize>> {
        let rows: Vec<(String, i64, i64)> =
            match self {
                Db::Sqlite(pool) => {
                    sqlx::query_as(
                        "SELECT event_type, count(*), sum(length(payload)) FROM events \
                     GROUP BY event_type ORDER BY 3 DESC",
                    )
                    .fetch_all(pool)
                    .await?
                }
                Db::Postgres(pool) => sqlx::query_as(
                    "SELECT event_type, count(*), sum(pg_column_size(payload))::bigint FROM events \
                     GROUP BY event_type ORDER BY 3 DESC",
                )
                .fetch_all(pool)
                .await?,
            };
        Ok(rows
            .into_iter()
            .map(|(event_type, count, payload_bytes)| EventTypeSize {
                event_type,
                count,
                payload_bytes,
            })
            .collect())
    }

    /// PostgreSQL: dead rows left by the queue's churn are vacuumed first, so sizes are of live
    /// data plus the free space the tables keep.
    pub async fn vacuum(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(_) => {}
            Db::Postgres(pool) => {
                sqlx::raw_sql("VACUUM ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// How many events the live log holds, and its last position.
    pub async fn log_extent(&self) -> anyhow::Result<(i64, i64)> {
        const SQL: &str = "SELECT count(*), coalesce(max(position), 0) FROM events";
        Ok(match self {
            Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
        })
    }

    /// Rows in one of the bench's known tables.
    pub async fn count(&self, table: &'static str) -> anyhow::Result<i64> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"));
        Ok(match self {
            Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}
