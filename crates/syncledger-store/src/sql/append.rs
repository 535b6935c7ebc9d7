//! Appending: optimistic checks, idempotent retries, and positions in commit order.
//!
//! One transaction per append, whatever the number of streams. Per stream (in id order, so two
//! multi-stream appends cannot deadlock) one upsert bumps the `streams` row and returns the new
//! version: that both row-locks the stream against concurrent appenders and tells us the version
//! the expectation is checked against. Only then is the log-order lock taken (a no-op on SQLite,
//! which already holds the only write lock), events inserted, and inline projections applied, so
//! the section that serialises all appenders stays short.
//!
//! Idempotency costs nothing on the happy path: a retried append either fails its expectation or
//! hits the unique `event_id`; only then do we look up which of its ids are stored.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Transaction};
use syncledger_core::log::{Appended, Conflict, Position, RecordedEvent, StreamAppend};
use syncledger_core::projection::{Mode, RowOp};
use uuid::Uuid;

use super::{Conn, Db, Inner, claim, dialect, engine, now, rows};
use crate::StoreError;
use crate::chunks::pow2_chunks;
use crate::coalesce::Effects;
use crate::error::is_unique_violation;

/// An append that has done everything but commit; dropping it rolls back.
pub(crate) struct Pending {
    inner: Arc<Inner>,
    state: State,
}

enum State {
    /// Every event id was already stored: nothing to commit.
    Stored(Vec<Appended>),
    Open {
        tx: Transaction<'static, Db>,
        appended: Vec<Appended>,
    },
}

impl Pending {
    pub(crate) fn appended(&self) -> &[Appended] {
        match &self.state {
            State::Stored(a) | State::Open { appended: a, .. } => a,
        }
    }

    pub(crate) async fn commit(self) -> Result<Vec<Appended>, StoreError> {
        match self.state {
            State::Stored(appended) => Ok(appended),
            State::Open { tx, appended } => {
                tx.commit().await?;
                self.inner.shared.notify_appended();
                Ok(appended)
            }
        }
    }

    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        if let State::Open { tx, .. } = self.state {
            tx.rollback().await?;
        }
        Ok(())
    }
}

impl Inner {
    pub(crate) async fn begin_append(
        self: &Arc<Self>,
        appends: Vec<StreamAppend>,
    ) -> Result<Pending, StoreError> {
        let ids = validate(&appends)?;
        if ids.is_empty() {
            return Ok(self.pending(State::Stored(Vec::new())));
        }
        // One fact, recorded at one time: every event of the append shares it, and inline
        // projections see exactly what a later read returns.
        let recorded_at = now();
        let mut tx = dialect::begin_write(self).await?;

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
            .fetch_one(&mut *tx)
            .await?;
            let actual = (version - added) as u64;
            if !part.expected.accepts(actual) {
                tx.rollback().await?;
                let conflict = Conflict {
                    stream_id: part.stream_id,
                    expected: part.expected,
                    actual,
                };
                return self.already_stored(&ids, conflict).await;
            }
            before[i] = actual;
        }

        dialect::lock_log_order(&mut tx, &self.shared, true).await?;
        let positions = match insert_events(&mut tx, &appends, &before, recorded_at).await {
            Ok(positions) => positions,
            Err(err) if is_unique_violation(&err) => {
                tx.rollback().await?;
                let first = &appends[0];
                let conflict = Conflict {
                    stream_id: first.stream_id,
                    expected: first.expected,
                    actual: self.stream_version(first.stream_id).await?,
                };
                return self.already_stored(&ids, conflict).await;
            }
            Err(err) => return Err(err.into()),
        };

        let appended = landed(&appends, &before, &positions, recorded_at);
        let units = [appends.len()];
        self.apply_inline(&mut tx, appends, &appended, &units)
            .await?;
        Ok(self.pending(State::Open { tx, appended }))
    }

    fn pending(self: &Arc<Self>, state: State) -> Pending {
        Pending {
            inner: self.clone(),
            state,
        }
    }

    /// After a failed attempt: a retry of a stored append succeeds with what was stored, a mix of
    /// stored and new ids is a caller error, and anything else is the conflict it looked like.
    pub(super) async fn already_stored(
        self: &Arc<Self>,
        ids: &[Uuid],
        conflict: Conflict,
    ) -> Result<Pending, StoreError> {
        let stored = self.stored_positions(ids).await?;
        if stored.is_empty() {
            return Err(StoreError::Conflict(conflict));
        }
        if stored.len() < ids.len() {
            return Err(StoreError::PartialDuplicate);
        }
        let by_id: HashMap<Uuid, Appended> = stored.into_iter().map(|a| (a.event_id, a)).collect();
        let appended = ids.iter().map(|id| by_id[id]).collect();
        Ok(self.pending(State::Stored(appended)))
    }

    /// Runs the inline projections over the new events inside the append's transaction.
    /// `units` splits `appends` into the callers' appends (one for an append alone, one per
    /// member of a group): a claim may take a key from a holder only if its own caller's append
    /// writes to the holder's stream.
    pub(super) async fn apply_inline(
        &self,
        tx: &mut Conn,
        appends: Vec<StreamAppend>,
        appended: &[Appended],
        units: &[usize],
    ) -> Result<(), StoreError> {
        let inline: Vec<_> = self.shared.registry.with_mode(Mode::Inline).collect();
        let Some(last) = appended.last() else {
            return Ok(());
        };
        if inline.is_empty() {
            return Ok(());
        }
        let scopes = claim::scopes(&appends, units);
        let events: Vec<RecordedEvent> = appends
            .into_iter()
            .flat_map(|part| part.events)
            .zip(appended)
            .map(|(event, at)| self.shared.upcast(RecordedEvent::landed(event, at)))
            .collect();
        for projection in &inline {
            let mut effects = Effects::default();
            let mut claims = Vec::new();
            for (event, scope) in events.iter().zip(&scopes) {
                for op in projection.apply(event) {
                    if let RowOp::Claim(row) = &op {
                        claims.push((row.clone(), scope.as_slice()));
                    }
                    effects.push(op);
                }
            }
            claim::check(tx, projection.name(), &claims).await?;
            rows::apply_effects(tx, projection.name(), effects).await?;
        }
        let names: Vec<&str> = inline.iter().map(|p| p.name()).collect();
        engine::set_checkpoints(tx, &names, last.position).await?;
        Ok(())
    }
}

/// Checks the shape of an append and returns its event ids in order.
pub(super) fn validate(appends: &[StreamAppend]) -> Result<Vec<Uuid>, StoreError> {
    let mut streams = std::collections::HashSet::new();
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for part in appends {
        if part.events.is_empty() {
            return Err(StoreError::InvalidInput(format!(
                "stream {} has no events in this append",
                part.stream_id
            )));
        }
        if !streams.insert(part.stream_id) {
            return Err(StoreError::InvalidInput(format!(
                "stream {} appears twice in one append",
                part.stream_id
            )));
        }
        for event in &part.events {
            if !seen.insert(event.event_id) {
                return Err(StoreError::InvalidInput(format!(
                    "event id {} appears twice in one append",
                    event.event_id
                )));
            }
            ids.push(event.event_id);
        }
    }
    Ok(ids)
}

/// Where each event of `appends` landed, in order, given the versions before them and the
/// positions the insert returned.
pub(super) fn landed(
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
pub(super) async fn insert_events(
    tx: &mut Conn,
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
        let mut insert = QueryBuilder::<Db>::new(format!(
            "{} events (stream_id, sequence, event_id, event_type, schema_version, \
             payload, tenant, correlation_id, causation_id, recorded_at) ",
            dialect::INSERT_EVENTS
        ));
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
        let returned: Vec<(Uuid, i64)> = insert.build_query_as().fetch_all(&mut *tx).await?;
        positions.extend(returned);
    }
    Ok(positions)
}
