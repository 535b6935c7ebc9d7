//! The raw ceilings: the same work without the store, on the same database, with sqlx.

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgPool, QueryBuilder, SqlitePool};
use syncledger_test_support::ScratchDb;
use uuid::Uuid;

pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

type Scanned = (
    i64,
    Uuid,
    i64,
    Uuid,
    String,
    i32,
    Json<Value>,
    String,
    Option<Uuid>,
    Option<Uuid>,
    DateTime<Utc>,
);

const SCAN: &str = "SELECT position, stream_id, sequence, event_id, event_type, schema_version, \
    payload, tenant, correlation_id, causation_id, recorded_at FROM events ORDER BY position";
const COLUMNS: &str = "INSERT INTO raw_events (stream_id, sequence, event_id, event_type, \
    schema_version, payload, tenant, correlation_id, causation_id, recorded_at) ";

/// A fresh database: the store's URL, a raw pool on it, and what removes it afterwards.
pub async fn prepare(backend: &str) -> (String, Raw, BoxFuture<'static, ()>) {
    match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            let options = SqliteConnectOptions::from_str(&url)
                .unwrap()
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            // One connection, like the store's writer: SQLite has one writer at a time anyway.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            (url, Raw::Sqlite(pool), Box::pin(async move { drop(dir) }))
        }
        "postgres" => {
            let scratch =
                ScratchDb::create(format!("syncledger_bench_{}", std::process::id())).await;
            let url = scratch.url.clone();
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .connect(&url)
                .await
                .unwrap();
            (url, Raw::Postgres(pool), Box::pin(scratch.drop()))
        }
        other => panic!("unknown backend {other}"),
    }
}

/// A raw row: stream, sequence, event id, type, version, payload, tenant, correlation, time.
type RawRow = (
    Uuid,
    i64,
    Uuid,
    &'static str,
    i32,
    Json<Value>,
    &'static str,
    Option<Uuid>,
    DateTime<Utc>,
);

fn row(i: u64) -> RawRow {
    let e = super::new_event(i);
    (
        Uuid::now_v7(),
        1,
        e.event_id,
        "observed",
        1,
        Json(e.payload),
        "acme",
        e.meta.correlation_id,
        Utc::now(),
    )
}

macro_rules! bind_row {
    ($b:expr, $r:expr) => {{
        let r = $r;
        $b.push_bind(r.0)
            .push_bind(r.1)
            .push_bind(r.2)
            .push_bind(r.3)
            .push_bind(r.4)
            .push_bind(r.5)
            .push_bind(r.6)
            .push_bind(r.7)
            .push_bind(None::<Uuid>)
            .push_bind(r.8);
    }};
}

macro_rules! on_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            Raw::Sqlite($pool) => $body,
            Raw::Postgres($pool) => $body,
        }
    };
}

impl Raw {
    /// A table of the same shape, keys and indexes as `events`.
    pub async fn create_table(&self) {
        let position = match self {
            Raw::Sqlite(_) => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Raw::Postgres(_) => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        };
        let (uuid, json, time) = match self {
            Raw::Sqlite(_) => ("BLOB", "TEXT", "TEXT"),
            Raw::Postgres(_) => ("UUID", "JSONB", "TIMESTAMPTZ"),
        };
        let ddl = format!(
            "CREATE TABLE raw_events (position {position}, stream_id {uuid} NOT NULL, \
             sequence BIGINT NOT NULL, event_id {uuid} NOT NULL UNIQUE, event_type TEXT NOT NULL, \
             schema_version INTEGER NOT NULL, payload {json} NOT NULL, tenant TEXT NOT NULL, \
             correlation_id {uuid}, causation_id {uuid}, recorded_at {time} NOT NULL, \
             UNIQUE (stream_id, sequence)); \
             CREATE INDEX raw_tenant ON raw_events (tenant, position); \
             CREATE INDEX raw_type ON raw_events (event_type, position)"
        );
        on_pool!(self, p => sqlx::raw_sql(AssertSqlSafe(ddl)).execute(p).await.map(drop)).unwrap();
    }

    /// One autocommitted single-row INSERT per event, from `writers` concurrent tasks.
    pub async fn single_inserts(&self, writers: u64, total: u64) -> f64 {
        let started = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|_| {
                let raw = self.clone_pool();
                tokio::spawn(async move {
                    for i in 0..total / writers {
                        on_pool!(&raw, p => {
                            let mut q = QueryBuilder::new(COLUMNS);
                            q.push_values([row(i)], |mut b, r| bind_row!(b, r));
                            q.build().execute(p).await.map(drop)
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        super::rate(total / writers * writers, started)
    }

    /// One transaction with one multi-row INSERT per batch.
    pub async fn batch_inserts(&self, batches: u64, size: u64) -> f64 {
        let started = Instant::now();
        for b in 0..batches {
            let rows: Vec<_> = (0..size).map(|i| row(b * size + i)).collect();
            on_pool!(self, p => {
                let mut q = QueryBuilder::new(COLUMNS);
                let mut tx = p.begin().await.unwrap();
                q.push_values(rows, |mut b, r| bind_row!(b, r));
                q.build().execute(&mut *tx).await.unwrap();
                tx.commit().await
            })
            .unwrap();
        }
        super::rate(batches * size, started)
    }

    /// The whole log in position order, every column decoded as the store decodes it.
    pub async fn ordered_scan(&self) -> (u64, f64) {
        let started = Instant::now();
        let n = on_pool!(self, p => {
            sqlx::query_as::<_, Scanned>(SCAN).fetch(p).try_fold(0u64, |n, _| async move { Ok(n + 1) }).await
        })
        .unwrap();
        (n, super::rate(n, started))
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }

    fn clone_pool(&self) -> Raw {
        match self {
            Raw::Sqlite(p) => Raw::Sqlite(p.clone()),
            Raw::Postgres(p) => Raw::Postgres(p.clone()),
        }
    }
}
