//! Reads. Every event returned passes through the upcasters, so callers only ever see the newest
//! schema version of each event type.
//!
//! Reading the global log "after p" is safe against concurrent writers without any extra care
//! here: both backends make positions visible in commit order (see `append` and the dialects),
//! so a committed event below a position already returned cannot appear later.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, QueryBuilder};
use syncledger_core::log::{Appended, LogFilter, Position, RecordedEvent};
use uuid::Uuid;

use super::{
    Conn, Db, EVENT_COLUMNS, EventRow, Inner, LIMIT_PLUS_ZERO, event_from_row, limit, push_in,
};
use crate::StoreError;
use crate::chunks::pow2_chunks;

impl Inner {
    /// The stream's last sequence number, 0 when it has no events.
    pub(crate) async fn stream_version(&self, stream_id: Uuid) -> Result<u64, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM streams WHERE stream_id = $1")
                .bind(stream_id)
                .fetch_optional(&self.read)
                .await?;
        Ok(version.unwrap_or(0) as u64)
    }

    /// The versions of the given streams; a stream with no events is missing from the map.
    pub(crate) async fn stream_versions(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, u64>, StoreError> {
        let mut versions = std::collections::HashMap::with_capacity(ids.len());
        for chunk in pow2_chunks(ids) {
            let mut query = QueryBuilder::<Db>::new(
                "SELECT stream_id, version FROM streams WHERE stream_id IN ",
            );
            push_in(&mut query, chunk.iter().copied());
            let rows: Vec<(Uuid, i64)> = query.build_query_as().fetch_all(&self.read).await?;
            versions.extend(rows.into_iter().map(|(id, v)| (id, v as u64)));
        }
        Ok(versions)
    }

    pub(crate) async fn read_stream(
        &self,
        stream_id: Uuid,
        from_sequence: u64,
        max: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND sequence >= $2 \
             ORDER BY sequence LIMIT $3{LIMIT_PLUS_ZERO}"
        );
        let rows: Vec<EventRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(stream_id)
            .bind(from_sequence.min(i64::MAX as u64) as i64)
            .bind(limit(max)?)
            .fetch_all(&self.read)
            .await?;
        self.open_all(rows).await
    }

    pub(crate) async fn read_all(
        &self,
        after: Position,
        filter: &LogFilter,
        max: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut conn = self.read.acquire().await?;
        let rows = read_after(&mut conn, after, None, filter, limit(max)?).await?;
        self.open_all(rows).await
    }

    /// How many events lie after `after`, of `tenant` when given (answered from an index).
    pub(crate) async fn count_events(
        &self,
        after: Position,
        tenant: Option<&str>,
    ) -> Result<i64, StoreError> {
        let mut query = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM events WHERE position > ");
        query.push_bind(after.0);
        if let Some(tenant) = tenant {
            query.push(" AND tenant = ").push_bind(tenant);
        }
        Ok(query.build_query_scalar().fetch_one(&self.read).await?)
    }

    /// The highest committed position, or [`Position::START`] for an empty log.
    pub(crate) async fn head(&self) -> Result<Position, StoreError> {
        let mut conn = self.read.acquire().await?;
        Ok(head(&mut conn).await?)
    }

    pub(crate) async fn events_by_id(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut rows: Vec<EventRow> = Vec::with_capacity(ids.len());
        for chunk in pow2_chunks(ids) {
            let mut query = QueryBuilder::<Db>::new(format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE event_id IN "
            ));
            push_in(&mut query, chunk.iter().copied());
            rows.extend(
                query
                    .build_query_as::<EventRow>()
                    .fetch_all(&self.read)
                    .await?,
            );
        }
        rows.sort_by_key(|r| r.0);
        self.open_all(rows).await
    }

    pub(crate) async fn event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        Ok(self.events_by_id(&[event_id]).await?.pop())
    }

    /// Where the given ids are stored, for those that are.
    pub(crate) async fn stored_positions(&self, ids: &[Uuid]) -> Result<Vec<Appended>, StoreError> {
        let mut found = Vec::new();
        for chunk in pow2_chunks(ids) {
            let mut query = QueryBuilder::<Db>::new(
                "SELECT event_id, stream_id, sequence, position, recorded_at FROM events \
                 WHERE event_id IN ",
            );
            push_in(&mut query, chunk.iter().copied());
            let rows: Vec<(Uuid, Uuid, i64, i64, DateTime<Utc>)> =
                query.build_query_as().fetch_all(&self.read).await?;
            found.extend(rows.into_iter().map(
                |(event_id, stream_id, sequence, position, recorded_at)| Appended {
                    event_id,
                    stream_id,
                    sequence: sequence as u64,
                    position: Position(position),
                    recorded_at,
                },
            ));
        }
        Ok(found)
    }

    /// Rows as events: upcast, and their sealed values opened (docs/privacy.md).
    pub(crate) async fn open_all(
        &self,
        rows: Vec<EventRow>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events: Vec<RecordedEvent> = rows
            .into_iter()
            .map(|row| self.shared.upcast(event_from_row(row)))
            .collect();
        self.open_events(&mut events).await?;
        Ok(events)
    }
}

pub(crate) async fn head(conn: &mut Conn) -> Result<Position, sqlx::Error> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM events")
        .fetch_one(conn)
        .await?;
    Ok(max.map_or(Position::START, Position))
}

/// Events after `after` (and up to `up_to`, when given) matching `filter`, in position order.
pub(crate) async fn read_after(
    conn: &mut Conn,
    after: Position,
    up_to: Option<Position>,
    filter: &LogFilter,
    max: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let mut query = select_after(after, up_to, filter);
    // The limit is written into the SQL, not bound: with a bound limit PostgreSQL may settle on a
    // generic plan that sorts the whole tail of the log for every page.
    query.push(format!(" ORDER BY position LIMIT {max}"));
    query.build_query_as().fetch_all(conn).await
}

/// `SELECT` of the events after `after` (and up to `up_to`) matching `filter`, unordered.
pub(crate) fn select_after(
    after: Position,
    up_to: Option<Position>,
    filter: &LogFilter,
) -> QueryBuilder<Db> {
    let mut query = QueryBuilder::<Db>::new(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > "
    ));
    query.push_bind(after.0);
    if let Some(up_to) = up_to {
        query.push(" AND position <= ").push_bind(up_to.0);
    }
    if let Some(tenant) = &filter.tenant {
        query.push(" AND tenant = ").push_bind(tenant.as_str());
    }
    if !filter.types.is_empty() {
        query.push(" AND event_type IN ");
        push_in(&mut query, filter.types.iter().map(String::as_str));
    }
    if let Some(from) = filter.recorded_from {
        query.push(" AND recorded_at >= ").push_bind(from);
    }
    if let Some(to) = filter.recorded_to {
        query.push(" AND recorded_at < ").push_bind(to);
    }
    query
}

impl Inner {
    /// A subscriber's next page: events after `after` matching `filter`, and the cursor to
    /// continue from. The cursor may move past events the filter skipped, up to a head read
    /// *before* the page: every event at or below that head had committed when it was read.
    pub(crate) async fn read_page(
        &self,
        after: Position,
        filter: &LogFilter,
        max: i64,
    ) -> Result<(Vec<RecordedEvent>, Position), StoreError> {
        let mut conn = self.read.acquire().await?;
        let head = head(&mut conn).await?;
        if head <= after {
            return Ok((Vec::new(), after));
        }
        let rows = read_after(&mut conn, after, Some(head), filter, max).await?;
        let cursor = match rows.last() {
            Some(last) if rows.len() as i64 == max => Position(last.0),
            _ => head,
        };
        Ok((self.open_all(rows).await?, cursor))
    }
}
