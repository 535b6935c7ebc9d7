//! Appending: optimistic checks, idempotent retries, and positions in commit order.
//!
//! One transaction per append, whatever the number of streams; its SQL is the dialect's
//! (`dialect::write_appends`). Per stream (in id order, so two multi-stream appends cannot
//! deadlock) the `streams` row is bumped, which both row-locks the stream against concurrent
//! appenders and gives the version the expectation is checked against. Only then is the
//! log-order lock taken (PostgreSQL's advisory lock; SQLite already holds the only write lock)
//! and the events inserted, so the section that serialises all appenders stays short: insert,
//! inline projections, commit. On PostgreSQL all of that is one statement (migration 0004), sent
//! in autocommit mode when no inline projection writes with it: one round trip per append.
//!
//! Idempotency costs nothing on the happy path: a retried append either fails its expectation or
//! hits the unique `event_id`; only then do we look up which of its ids are stored.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Transaction;
use syncledger_core::log::{Appended, Conflict, RecordedEvent, StreamAppend};
use syncledger_core::projection::{Mode, Row, RowOp};
use uuid::Uuid;

use super::{Conn, Db, Inner, claim, dialect, digests, engine, keys, now, rows};
use crate::StoreError;
use crate::coalesce::Effects;
use crate::error::is_unique_violation;
use crate::written::Written;

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
                self.inner.committed_appends();
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

/// Why a single append wrote nothing (its transaction is rolled back).
enum Failed {
    Conflict(Conflict),
    /// A unique violation: a stored event id, or (never expected) a stored sequence.
    Duplicate,
    /// A race the statement could not answer: try again.
    Retry,
    /// Its positions fell past the log's last partition (PostgreSQL): create more, try again.
    NoPartition,
    Error(StoreError),
}

/// A single append's outcome from what `dialect::write_appends` gave.
fn single(written: Result<Written, sqlx::Error>) -> Result<Vec<Appended>, Failed> {
    match written {
        Ok(Written::Landed(mut verdicts)) => match verdicts.pop() {
            Some(Ok(appended)) => Ok(appended),
            Some(Err(conflict)) => Err(Failed::Conflict(conflict)),
            None => Err(Failed::Error(StoreError::Backend(
                "an append got no verdict".into(),
            ))),
        },
        Ok(Written::Retry) => Err(Failed::Retry),
        Err(err) if is_unique_violation(&err) => Err(Failed::Duplicate),
        Err(err) if dialect::is_missing_partition(&err) => Err(Failed::NoPartition),
        Err(err) => Err(Failed::Error(err.into())),
    }
}

impl Inner {
    /// After a commit that appended events: wakes this process's subscribers at once, and
    /// (PostgreSQL) has a NOTIFY sent for other processes' (`postgres_notify.rs`).
    pub(crate) fn committed_appends(&self) {
        self.shared.notify_appended();
        dialect::wake_other_processes(self);
    }

    pub(crate) async fn begin_append(
        self: &Arc<Self>,
        appends: Vec<StreamAppend>,
    ) -> Result<Pending, StoreError> {
        let ids = validate(&appends)?;
        if ids.is_empty() {
            return Ok(self.pending(State::Stored(Vec::new())));
        }
        loop {
            // One fact, recorded at one time: every event of the append shares it, and inline
            // projections see exactly what a later read returns.
            let recorded_at = now();
            let mut tx = dialect::begin_write(self).await?;
            let written =
                dialect::write_appends(&mut tx, &self.shared, &[&appends], recorded_at).await;
            match single(written) {
                Ok(appended) => {
                    let units = [appends.len()];
                    self.apply_inline(&mut tx, appends, &appended, &units)
                        .await?;
                    return Ok(self.pending(State::Open { tx, appended }));
                }
                Err(failed) => {
                    tx.rollback().await?;
                    if let Some(answer) = self.settle(&ids, &appends, failed).await? {
                        return Ok(answer);
                    }
                }
            }
        }
    }

    /// Whether an append must share its transaction with inline projections' rows.
    pub(super) fn has_inline(&self) -> bool {
        self.shared
            .registry
            .with_mode(Mode::Inline)
            .next()
            .is_some()
    }

    /// One append, committed on its own. On PostgreSQL without inline projections the
    /// statement is sent in autocommit mode: it is its own transaction, one round trip.
    pub(super) async fn append_alone(
        self: &Arc<Self>,
        appends: Vec<StreamAppend>,
    ) -> Result<Vec<Appended>, StoreError> {
        if !dialect::ONE_STATEMENT || self.has_inline() {
            return self.begin_append(appends).await?.commit().await;
        }
        let ids = validate(&appends)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        loop {
            let written = {
                let mut conn = self.write.acquire().await?;
                dialect::write_appends(&mut conn, &self.shared, &[&appends], now()).await
            };
            match single(written) {
                Ok(appended) => {
                    self.committed_appends();
                    return Ok(appended);
                }
                Err(failed) => {
                    if let Some(answer) = self.settle(&ids, &appends, failed).await? {
                        return answer.commit().await;
                    }
                }
            }
        }
    }

    /// The answer of a single append that wrote nothing; `None`: try it again.
    async fn settle(
        self: &Arc<Self>,
        ids: &[Uuid],
        appends: &[StreamAppend],
        failed: Failed,
    ) -> Result<Option<Pending>, StoreError> {
        let conflict = match failed {
            Failed::Retry => return Ok(None),
            Failed::NoPartition => {
                dialect::ensure_partitions(&self.write).await?;
                return Ok(None);
            }
            Failed::Error(err) => return Err(err),
            Failed::Conflict(conflict) => conflict,
            Failed::Duplicate => {
                let first = &appends[0];
                Conflict {
                    stream_id: first.stream_id,
                    expected: first.expected,
                    actual: self.stream_version(first.stream_id).await?,
                }
            }
        };
        self.already_stored(ids, conflict).await.map(Some)
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
        let ring = self.shared.keyring.as_deref();
        // Opened from the cache: this process sealed them a moment ago (`seal_appends`).
        let (events, sealed_by): (Vec<RecordedEvent>, Vec<_>) = appends
            .into_iter()
            .flat_map(|part| part.events)
            .zip(appended)
            .map(|(event, at)| {
                let mut event = self.shared.upcast(RecordedEvent::landed(event, at));
                let key = ring.and_then(|ring| ring.open_event(&mut event));
                (event, key)
            })
            .unzip();
        for projection in &inline {
            let mut effects = Effects::default();
            let mut claims = Vec::new();
            for ((event, scope), key) in events.iter().zip(&scopes).zip(&sealed_by) {
                let mut ops = projection.apply(event);
                keys::seal_rows(ring, projection.as_ref(), key.as_ref(), &mut ops);
                digests::key_rows(ring, projection.as_ref(), &mut ops)?;
                for op in ops {
                    // A row of no entity claims nothing: it is written as a put.
                    if let RowOp::Claim(row) = &op
                        && let Some(claimant) = row.entity_id
                    {
                        claims.push((row.clone(), claimant, scope.as_slice()));
                    }
                    effects.push(op);
                }
            }
            claim::check(tx, projection.name(), &claims).await?;
            // `check` wrote each claim in order, so a key holds its last claim's row now.
            let last_claims: HashMap<&str, &Row> = claims
                .iter()
                .map(|(row, ..)| (row.key.as_str(), row))
                .collect();
            for row in last_claims.into_values() {
                effects.skip_written(row);
            }
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
