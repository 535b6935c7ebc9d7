//! SQLite appends, inside the write transaction (`BEGIN IMMEDIATE`), which already excludes
//! every other writer and so orders positions by commit.
//!
//! A single append: per stream, in stream-id order, one upsert bumps the `streams` row and
//! returns the new version, from which the expectation is checked; then one insert of the
//! events. A group: one read of the streams' versions, the expectations checked in joining
//! order against them, one upsert of the accepted streams' versions, one insert of all accepted
//! events. Multi-row statements are cut into power-of-two chunks (`chunks.rs`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{QueryBuilder, SqliteConnection};
use syncledger_core::log::{Appended, Conflict, Position, StreamAppend};
use uuid::Uuid;

use crate::chunks::pow2_chunks;
use crate::shared::Shared;
use crate::written::Written;

type Db = sqlx::Sqlite;

/// Writes `jobs` (appends, in joining order) in the open write transaction `conn`. A rejected
/// single append may have bumped versions: the caller rolls back.
pub(crate) async fn write_appends(
    conn: &mut SqliteConnection,
    _shared: &Shared,
    jobs: &[&[StreamAppend]],
    recorded_at: DateTime<Utc>,
) -> Result<Written, sqlx::Error> {
    match jobs {
        [one] => write_one(conn, one, recorded_at).await,
        _ => write_group(conn, jobs, recorded_at).await,
    }
}

async fn write_one(
    conn: &mut SqliteConnection,
    appends: &[StreamAppend],
    recorded_at: DateTime<Utc>,
) -> Result<Written, sqlx::Error> {
    let mut by_stream: Vec<usize> = (0..appends.len()).collect();
    by_stream.sort_by_key(|&i| appends[i].stream_id);
    let mut before = vec![0u64; appends.len()];
    for i in by_stream {
        let part = &appends[i];
        let added = part.events.len() as i64;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO streams (stream_id, version) VALUES ($1, $2) \
             ON CONFLICT (stream_id) DO UPDATE SET version = streams.version + excluded.version \
             RETURNING version",
        )
        .bind(part.stream_id)
        .bind(added)
        .fetch_one(&mut *conn)
        .await?;
        let actual = (version - added) as u64;
        if !part.expected.accepts(actual) {
            return Ok(Written::Landed(vec![Err(Conflict {
                stream_id: part.stream_id,
                expected: part.expected,
                actual,
            })]));
        }
        before[i] = actual;
    }
    let positions = insert_events(conn, appends, &before, recorded_at).await?;
    Ok(Written::Landed(vec![Ok(landed(
        appends,
        &before,
        &positions,
        recorded_at,
    ))]))
}

async fn write_group(
    conn: &mut SqliteConnection,
    jobs: &[&[StreamAppend]],
    recorded_at: DateTime<Utc>,
) -> Result<Written, sqlx::Error> {
    let mut streams: Vec<Uuid> = jobs
        .iter()
        .flat_map(|j| j.iter().map(|a| a.stream_id))
        .collect();
    streams.sort();
    streams.dedup();
    let mut current: HashMap<Uuid, u64> = HashMap::with_capacity(streams.len());
    for chunk in pow2_chunks(&streams) {
        let mut select =
            QueryBuilder::<Db>::new("SELECT stream_id, version FROM streams WHERE stream_id IN ");
        let mut list = select.separated(", ");
        list.push_unseparated("(");
        for id in chunk {
            list.push_bind(*id);
        }
        list.push_unseparated(")");
        let rows: Vec<(Uuid, i64)> = select.build_query_as().fetch_all(&mut *conn).await?;
        current.extend(rows.into_iter().map(|(id, v)| (id, v as u64)));
    }

    // Expectations in joining order; an accepted append moves the versions the next sees.
    let mut verdicts: Vec<Result<Vec<u64>, Conflict>> = Vec::with_capacity(jobs.len());
    let mut added: HashMap<Uuid, i64> = HashMap::new();
    for job in jobs {
        let conflict = job.iter().find_map(|part| {
            let actual = current.get(&part.stream_id).copied().unwrap_or(0);
            (!part.expected.accepts(actual)).then_some(Conflict {
                stream_id: part.stream_id,
                expected: part.expected,
                actual,
            })
        });
        if let Some(conflict) = conflict {
            verdicts.push(Err(conflict));
            continue;
        }
        let mut before = Vec::with_capacity(job.len());
        for part in job.iter() {
            let version = current.entry(part.stream_id).or_insert(0);
            before.push(*version);
            *version += part.events.len() as u64;
            *added.entry(part.stream_id).or_insert(0) += part.events.len() as i64;
        }
        verdicts.push(Ok(before));
    }
    if added.is_empty() {
        return Ok(Written::Landed(
            verdicts
                .into_iter()
                .map(|v| v.map(|_| Vec::new()))
                .collect(),
        ));
    }

    let mut bumps: Vec<(Uuid, i64)> = added.into_iter().collect();
    bumps.sort();
    for chunk in pow2_chunks(&bumps) {
        let mut upsert = QueryBuilder::<Db>::new("INSERT INTO streams (stream_id, version) ");
        upsert.push_values(chunk, |mut row, (id, n)| {
            row.push_bind(*id).push_bind(*n);
        });
        upsert.push(
            " ON CONFLICT (stream_id) DO UPDATE SET version = streams.version + \
             excluded.version RETURNING stream_id, version",
        );
        let rows: Vec<(Uuid, i64)> = upsert.build_query_as().fetch_all(&mut *conn).await?;
        // The write lock excludes other writers, so this only guards against the impossible.
        if rows.len() != chunk.len()
            || rows
                .iter()
                .any(|(id, v)| current.get(id) != Some(&(*v as u64)))
        {
            return Ok(Written::Retry);
        }
    }

    let mut parts: Vec<StreamAppend> = Vec::new();
    let mut befores: Vec<u64> = Vec::new();
    for (job, verdict) in jobs.iter().zip(&verdicts) {
        if let Ok(before) = verdict {
            parts.extend(job.iter().cloned());
            befores.extend(before);
        }
    }
    let positions = insert_events(conn, &parts, &befores, recorded_at).await?;
    let appended = landed(&parts, &befores, &positions, recorded_at);
    let mut rest = appended.as_slice();
    let results = jobs
        .iter()
        .zip(verdicts)
        .map(|(job, verdict)| {
            verdict.map(|_| {
                let events: usize = job.iter().map(|p| p.events.len()).sum();
                let (mine, after) = rest.split_at(events);
                rest = after;
                mine.to_vec()
            })
        })
        .collect();
    Ok(Written::Landed(results))
}

/// Where each event of `appends` landed, in order, given the versions before them and the
/// positions the insert returned.
fn landed(
    appends: &[StreamAppend],
    before: &[u64],
    positions: &HashMap<Uuid, i64>,
    recorded_at: DateTime<Utc>,
) -> Vec<Appended> {
    let mut appended = Vec::new();
    for (part, base) in appends.iter().zip(before) {
        for (offset, event) in part.events.iter().enumerate() {
            appended.push(Appended {
                event_id: event.event_id,
                stream_id: part.stream_id,
                sequence: base + 1 + offset as u64,
                position: Position(positions[&event.event_id]),
                recorded_at,
            });
        }
    }
    appended
}

/// Inserts the events with consecutive sequences after `before[i]` and returns their positions.
/// `OR FAIL`: a duplicate stops the statement without undoing its earlier rows, which spares
/// SQLite the statement journal (a copy of every page the multi-row insert touches) it keeps to
/// undo them; a duplicate always rolls the whole transaction back anyway.
async fn insert_events(
    conn: &mut SqliteConnection,
    appends: &[StreamAppend],
    before: &[u64],
    recorded_at: DateTime<Utc>,
) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let rows: Vec<_> = appends
        .iter()
        .zip(before)
        .flat_map(|(part, base)| {
            part.events
                .iter()
                .enumerate()
                .map(move |(i, e)| (part.stream_id, (base + 1 + i as u64) as i64, e))
        })
        .collect();
    let mut positions = HashMap::with_capacity(rows.len());
    for chunk in pow2_chunks(&rows) {
        let mut insert = QueryBuilder::<Db>::new(
            "INSERT OR FAIL INTO events (stream_id, sequence, event_id, event_type, \
             schema_version, payload, tenant, correlation_id, causation_id, recorded_at) ",
        );
        insert.push_values(chunk, |mut row, (stream_id, sequence, event)| {
            row.push_bind(*stream_id)
                .push_bind(*sequence)
                .push_bind(event.event_id)
                .push_bind(event.event_type.as_str())
                .push_bind(event.schema_version)
                .push_bind(Json(&event.payload))
                .push_bind(event.meta.tenant.as_str())
                .push_bind(event.meta.correlation_id)
                .push_bind(event.meta.causation_id)
                .push_bind(recorded_at);
        });
        insert.push(" RETURNING event_id, position");
        let returned: Vec<(Uuid, i64)> = insert.build_query_as().fetch_all(&mut *conn).await?;
        positions.extend(returned);
    }
    Ok(positions)
}
