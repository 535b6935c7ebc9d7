//! PostgreSQL appends in one statement each (migration 0004).
//!
//! A single append is one plain statement, a data-modifying CTE: it bumps its streams' versions
//! (an upsert that row-locks them, in stream-id order), checks each expectation against the
//! version before the bump (a failed one calls `syncledger_conflict`, which aborts the statement,
//! so nothing stays), then takes the log-order lock, then inserts the events. The steps run in
//! that order because each one reads what the one before produced. A group of appends (group
//! commit) is one call of `syncledger_append`, which does the same for many appends with each
//! one's own verdict (migrations 0004, 0007, 0011). Neither sends NOTIFY: PostgreSQL serialises
//! the commits of notifying transactions, so the store notifies after commit instead, from a
//! connection of its own (`postgres_notify.rs`).
//!
//! With no inline projection to write in the same transaction, the store sends the statement
//! in autocommit mode: the statement is the transaction, and the append costs one round trip.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use syncledger_core::log::{Appended, Conflict, ExpectedVersion, Position, StreamAppend};
use uuid::Uuid;

use crate::shared::Shared;
use crate::written::Written;

/// The whole single-append statement. `$1..$3` are the parts (stream, expectation, events),
/// `$4..$12` the events' columns (stream, number in the append's part, then the row), `$13` the
/// time. `gate` aggregates over every checked part before it locks, so all expectations are
/// checked (and any failure raised) before the lock is taken and before any event is inserted.
/// `guard` then refuses stored event ids under the lock (migration 0007: the partitioned log
/// has no unique constraint on `event_id`).
const ONE: &str = "\
WITH parts AS (
    SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int8[]) AS p (sid, expected, added)
), up AS (
    INSERT INTO streams AS s (stream_id, version)
    SELECT parts.sid, parts.added FROM parts ORDER BY parts.sid
    ON CONFLICT (stream_id) DO UPDATE SET version = s.version + excluded.version
    RETURNING s.stream_id, s.version
), checked AS (
    SELECT p.sid, u.version - p.added AS before,
           CASE WHEN p.expected = -1 OR (p.expected = -2 AND u.version = p.added)
                  OR (p.expected = -3 AND u.version > p.added) OR p.expected = u.version - p.added
                THEN 0 ELSE syncledger_conflict(p.sid, u.version - p.added) END AS fine
      FROM parts p JOIN up u ON u.stream_id = p.sid
     ORDER BY p.sid
), gate AS (
    SELECT pg_advisory_xact_lock(8320803159843103847)
      FROM (SELECT count(checked.fine) FROM checked) AS all_checked
), guard AS (
    SELECT syncledger_refuse_stored_ids($6::uuid[]) AS none_stored FROM gate
)
INSERT INTO events (stream_id, sequence, event_id, event_type, schema_version, payload, tenant,
                    correlation_id, causation_id, recorded_at)
SELECT x.sid, c.before + x.nth, x.id, x.typ, x.ver, x.body, x.ten, x.cor, x.cau, $13
  FROM unnest($4::uuid[], $5::int8[], $6::uuid[], $7::text[], $8::int4[], $9::jsonb[],
              $10::text[], $11::uuid[], $12::uuid[]) WITH ORDINALITY
       AS x (sid, nth, id, typ, ver, body, ten, cor, cau, ord)
  JOIN checked c ON c.sid = x.sid
 CROSS JOIN guard
 ORDER BY x.ord
RETURNING event_id, sequence, position";

const GROUP: &str = "SELECT o_job, o_stream, o_actual, o_event, o_sequence, o_position \
     FROM syncledger_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// SQLSTATEs raised by migration 0004's functions.
const CONFLICT: &str = "SLC01";
const CREATED_MEANWHILE: &str = "SLR01";

fn expectation(expected: ExpectedVersion) -> i64 {
    match expected {
        ExpectedVersion::Any => -1,
        ExpectedVersion::NoStream => -2,
        ExpectedVersion::StreamExists => -3,
        ExpectedVersion::Exact(n) => n.min(i64::MAX as u64) as i64,
    }
}

/// The events of some parts as column arrays, in order; `part` is 1-based over all parts.
#[derive(Default)]
struct Columns<'a> {
    stream: Vec<Uuid>,
    part: Vec<i32>,
    nth: Vec<i64>,
    id: Vec<Uuid>,
    kind: Vec<&'a str>,
    version: Vec<i32>,
    payload: Vec<Json<&'a Value>>,
    tenant: Vec<&'a str>,
    correlation: Vec<Option<Uuid>>,
    causation: Vec<Option<Uuid>>,
}

impl<'a> Columns<'a> {
    fn of(parts: impl Iterator<Item = &'a StreamAppend>) -> Self {
        let mut c = Columns::default();
        for (p, part) in parts.enumerate() {
            for (i, e) in part.events.iter().enumerate() {
                c.stream.push(part.stream_id);
                c.part.push(p as i32 + 1);
                c.nth.push(i as i64 + 1);
                c.id.push(e.event_id);
                c.kind.push(&e.event_type);
                c.version.push(e.schema_version);
                c.payload.push(Json(&e.payload));
                c.tenant.push(&e.meta.tenant);
                c.correlation.push(e.meta.correlation_id);
                c.causation.push(e.meta.causation_id);
            }
        }
        c
    }
}

/// Where each event of `parts` landed, in order, from the rows the statement returned.
fn landed(
    parts: &[StreamAppend],
    rows: &HashMap<Uuid, (i64, i64)>,
    recorded_at: DateTime<Utc>,
) -> Result<Vec<Appended>, sqlx::Error> {
    parts
        .iter()
        .flat_map(|part| {
            part.events.iter().map(move |e| {
                let (sequence, position) = rows.get(&e.event_id).ok_or_else(|| {
                    sqlx::Error::Protocol("an appended event was not returned".into())
                })?;
                Ok(Appended {
                    event_id: e.event_id,
                    stream_id: part.stream_id,
                    sequence: *sequence as u64,
                    position: Position(*position),
                    recorded_at,
                })
            })
        })
        .collect()
}

fn sqlstate(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .map(|pg| pg.code()),
        _ => None,
    }
}

/// The stream and version `syncledger_conflict` reported.
fn reported_conflict(err: &sqlx::Error, parts: &[StreamAppend]) -> Option<Conflict> {
    let sqlx::Error::Database(db) = err else {
        return None;
    };
    let detail = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?
        .detail()?;
    let (stream, actual) = detail.split_once(' ')?;
    let stream_id: Uuid = stream.parse().ok()?;
    let part = parts.iter().find(|p| p.stream_id == stream_id)?;
    Some(Conflict {
        stream_id,
        expected: part.expected,
        actual: actual.parse().ok()?,
    })
}

/// Writes `jobs` (appends, in joining order) on `conn`: a transaction, or a connection in
/// autocommit mode, where the statement is the transaction.
pub(crate) async fn write_appends(
    conn: &mut PgConnection,
    shared: &Shared,
    jobs: &[&[StreamAppend]],
    recorded_at: DateTime<Utc>,
) -> Result<Written, sqlx::Error> {
    // The statement may wait for the log-order lock (tests watch for that).
    let _waiting = shared.waiting_for_lock();
    match jobs {
        [one] => write_one(conn, one, recorded_at).await,
        _ => write_group(conn, jobs, recorded_at).await,
    }
}

async fn write_one(
    conn: &mut PgConnection,
    parts: &[StreamAppend],
    recorded_at: DateTime<Utc>,
) -> Result<Written, sqlx::Error> {
    let c = Columns::of(parts.iter());
    let returned: Result<Vec<(Uuid, i64, i64)>, _> = sqlx::query_as(ONE)
        .bind(parts.iter().map(|p| p.stream_id).collect::<Vec<_>>())
        .bind(
            parts
                .iter()
                .map(|p| expectation(p.expected))
                .collect::<Vec<_>>(),
        )
        .bind(
            parts
                .iter()
                .map(|p| p.events.len() as i64)
                .collect::<Vec<_>>(),
        )
        .bind(c.stream)
        .bind(c.nth)
        .bind(c.id)
        .bind(c.kind)
        .bind(c.version)
        .bind(c.payload)
        .bind(c.tenant)
        .bind(c.correlation)
        .bind(c.causation)
        .bind(recorded_at)
        .fetch_all(&mut *conn)
        .await;
    match returned {
        Ok(rows) => {
            let rows = rows.into_iter().map(|(id, s, p)| (id, (s, p))).collect();
            Ok(Written::Landed(vec![Ok(landed(
                parts,
                &rows,
                recorded_at,
            )?)]))
        }
        Err(err) if sqlstate(&err) == Some(CONFLICT) => match reported_conflict(&err, parts) {
            Some(conflict) => Ok(Written::Landed(vec![Err(conflict)])),
            None => Err(err),
        },
        Err(err) => Err(err),
    }
}

type GroupRow = (
    Option<i32>,
    Option<Uuid>,
    Option<i64>,
    Option<Uuid>,
    Option<i64>,
    Option<i64>,
);

async fn write_group(
    conn: &mut PgConnection,
    jobs: &[&[StreamAppend]],
    recorded_at: DateTime<Utc>,
) -> Result<Written, sqlx::Error> {
    let parts = || jobs.iter().flat_map(|job| job.iter());
    let job_of: Vec<i32> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, job)| std::iter::repeat_n(j as i32, job.len()))
        .collect();
    let c = Columns::of(parts());
    let returned: Result<Vec<GroupRow>, _> = sqlx::query_as(GROUP)
        .bind(job_of)
        .bind(parts().map(|p| p.stream_id).collect::<Vec<_>>())
        .bind(parts().map(|p| expectation(p.expected)).collect::<Vec<_>>())
        .bind(parts().map(|p| p.events.len() as i32).collect::<Vec<_>>())
        .bind(c.part)
        .bind(c.nth.iter().map(|&n| n as i32).collect::<Vec<_>>())
        .bind(c.id)
        .bind(c.kind)
        .bind(c.version)
        .bind(c.payload)
        .bind(c.tenant)
        .bind(c.correlation)
        .bind(c.causation)
        .bind(recorded_at)
        .fetch_all(&mut *conn)
        .await;
    let rows = match returned {
        Ok(rows) => rows,
        Err(err) if sqlstate(&err) == Some(CREATED_MEANWHILE) => return Ok(Written::Retry),
        Err(err) => return Err(err),
    };
    let mut landed_at = HashMap::new();
    let mut conflicts: HashMap<usize, Conflict> = HashMap::new();
    for (job, stream, actual, event, sequence, position) in rows {
        match (job, stream, actual, event, sequence, position) {
            (_, _, _, Some(event), Some(sequence), Some(position)) => {
                landed_at.insert(event, (sequence, position));
            }
            (Some(job), Some(stream_id), Some(actual), None, _, _) => {
                let job = job as usize;
                let expected = jobs[job]
                    .iter()
                    .find(|p| p.stream_id == stream_id)
                    .map(|p| p.expected)
                    .ok_or_else(|| sqlx::Error::Protocol("unknown stream in a verdict".into()))?;
                // The first failing part of the append, as it was given.
                conflicts.entry(job).or_insert(Conflict {
                    stream_id,
                    expected,
                    actual: actual as u64,
                });
            }
            _ => return Err(sqlx::Error::Protocol("malformed append verdict".into())),
        }
    }
    let mut verdicts = Vec::with_capacity(jobs.len());
    for (j, job) in jobs.iter().enumerate() {
        verdicts.push(match conflicts.remove(&j) {
            Some(conflict) => Err(conflict),
            None => Ok(landed(job, &landed_at, recorded_at)?),
        });
    }
    Ok(Written::Landed(verdicts))
}
