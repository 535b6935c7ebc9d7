//! The raw ceiling of intake, measured in the same run on the same database: the rows one
//! accepted webhook writes (its `ChangeObserved` event, its stream's version, its
//! `pending_queue` row and its `webhook_receipts` row), inserted by plain sqlx, 100 webhooks
//! per transaction and one multi-row statement per table, into copies of those tables (same
//! columns, keys and indexes) that are dropped afterwards. No lookup, no JSON decoding, no
//! HTTP, no signature: what the database alone allows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::truth::Db;

const TABLES: [&str; 4] = ["events", "streams", "pending_queue", "webhook_receipts"];
const BATCH: usize = 100;

/// One webhook's rows.
struct Rows {
    stream: Uuid,
    sequence: i64,
    event_id: Uuid,
    payload: Value,
    trigger: Value,
    receipt_key: String,
    sort_key: String,
    at: DateTime<Utc>,
}

fn rows(i: usize, records: usize, sequences: &mut HashMap<usize, i64>) -> Rows {
    let record = i % records;
    let system = if record.is_multiple_of(2) {
        "crm"
    } else {
        "erp"
    };
    let stream = Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000 + record as u128);
    let sequence = sequences.entry(record).or_insert(0);
    *sequence += 1;
    let event_id = Uuid::now_v7();
    let at = Utc::now();
    let time = at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let webhook = format!("{}-ev-{i}", &system[..1]);
    Rows {
        stream,
        sequence: *sequence,
        event_id,
        payload: json!({"entity_type": "customer", "system": system, "collection": "contacts",
            "record_id": format!("c-{record}"), "action": "updated",
            "webhook_event_id": webhook, "occurred_at": time}),
        trigger: json!({"kind": "ChangeObserved", "entity_id": stream, "system": system,
            "record_id": format!("c-{record}"), "trigger_id": event_id, "dead_letter_id": null,
            "due_at": time, "position": i + 1}),
        // Shaped like the narrow receipt's key (32 hex characters of a digest).
        receipt_key: event_id.simple().to_string(),
        sort_key: format!("{time}/{:020}", i + 1),
        at,
    }
}

/// Webhooks per second for `webhooks` webhooks over `records` records.
pub async fn measure(db: &Db, webhooks: usize, records: usize) -> anyhow::Result<f64> {
    copy_tables(db).await?;
    let mut sequences = HashMap::new();
    let started = Instant::now();
    let mut done = 0;
    while done < webhooks {
        let n = BATCH.min(webhooks - done);
        let batch: Vec<Rows> = (done..done + n)
            .map(|i| rows(i, records, &mut sequences))
            .collect();
        match db {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                insert_batch::<sqlx::Sqlite>(&mut tx, &batch).await?;
                tx.commit().await?;
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                insert_batch::<sqlx::Postgres>(&mut tx, &batch).await?;
                tx.commit().await?;
            }
        }
        done += n;
    }
    let elapsed = started.elapsed().max(Duration::from_millis(1));
    drop_tables(db).await?;
    Ok(webhooks as f64 / elapsed.as_secs_f64())
}

async fn insert_batch<DB>(conn: &mut DB::Connection, batch: &[Rows]) -> anyhow::Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<Uuid>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> sqlx::types::Json<&'q Value>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    let mut versions: HashMap<Uuid, i64> = HashMap::new();
    for r in batch {
        versions.insert(r.stream, r.sequence);
    }
    let mut q = QueryBuilder::<DB>::new("INSERT INTO raw_streams (stream_id, version) ");
    q.push_values(&versions, |mut b, (stream, version)| {
        b.push_bind(*stream).push_bind(*version);
    });
    q.push(" ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version");
    q.build().execute(&mut *conn).await?;

    let mut q = QueryBuilder::<DB>::new(
        "INSERT INTO raw_events (stream_id, sequence, event_id, event_type, schema_version, \
         payload, tenant, correlation_id, causation_id, recorded_at) ",
    );
    q.push_values(batch, |mut b, r| {
        b.push_bind(r.stream)
            .push_bind(r.sequence)
            .push_bind(r.event_id)
            .push_bind("ChangeObserved")
            .push_bind(1i32)
            .push_bind(sqlx::types::Json(&r.payload))
            .push_bind("acme")
            .push_bind(r.event_id)
            .push_bind(None::<Uuid>)
            .push_bind(r.at);
    });
    q.build().execute(&mut *conn).await?;

    let mut q = QueryBuilder::<DB>::new(
        "INSERT INTO raw_pending_queue (key, tenant, entity_id, sort_key, doc, n) ",
    );
    q.push_values(batch, |mut b, r| {
        b.push_bind(format!("trigger/{}", r.event_id))
            .push_bind("acme")
            .push_bind(r.stream)
            .push_bind(r.sort_key.clone())
            .push_bind(sqlx::types::Json(&r.trigger))
            .push_bind(0i64);
    });
    q.build().execute(&mut *conn).await?;

    let mut q = QueryBuilder::<DB>::new(
        "INSERT INTO raw_webhook_receipts (key, tenant, entity_id, sort_key, doc, n) ",
    );
    q.push_values(batch, |mut b, r| {
        // The narrow receipt: a digest key, no entity, an empty sort key, a `null` doc.
        b.push_bind(r.receipt_key.clone())
            .push_bind("acme")
            .push_bind(None::<Uuid>)
            .push_bind("")
            .push_bind(sqlx::types::Json(&Value::Null))
            .push_bind(0i64);
    });
    q.push(" ON CONFLICT (key) DO NOTHING");
    q.build().execute(&mut *conn).await?;
    Ok(())
}

/// `raw_{table}` for each table: PostgreSQL copies it with `LIKE ... INCLUDING ALL`; SQLite
/// replays its `CREATE` statements (table and indexes) under the new names.
async fn copy_tables(db: &Db) -> anyhow::Result<()> {
    drop_tables(db).await?;
    match db {
        Db::Postgres(pool) => {
            for t in TABLES {
                let sql = format!("CREATE TABLE raw_{t} (LIKE {t} INCLUDING ALL)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(pool)
                    .await?;
            }
        }
        Db::Sqlite(pool) => {
            for t in TABLES {
                let ddl: Vec<(String, String, Option<String>)> = sqlx::query_as(
                    "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? \
                     AND type IN ('table', 'index') ORDER BY type DESC",
                )
                .bind(t)
                .fetch_all(pool)
                .await?;
                for (kind, name, sql) in ddl {
                    let Some(sql) = sql else { continue }; // automatic indexes of UNIQUE
                    let sql = sql.replace("IF NOT EXISTS ", "");
                    let sql = if kind == "table" {
                        sql.replacen(&format!("TABLE {t}"), &format!("TABLE raw_{t}"), 1)
                    } else {
                        sql.replacen(
                            &format!("INDEX {name} ON {t}"),
                            &format!("INDEX raw_{name} ON raw_{t}"),
                            1,
                        )
                    };
                    anyhow::ensure!(sql.contains("raw_"), "could not rename: {sql}");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(pool)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

async fn drop_tables(db: &Db) -> anyhow::Result<()> {
    for t in TABLES {
        let sql = format!("DROP TABLE IF EXISTS raw_{t}");
        match db {
            Db::Sqlite(pool) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(pool)
                    .await?;
            }
            Db::Postgres(pool) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(pool)
                    .await?;
            }
        }
    }
    Ok(())
}
