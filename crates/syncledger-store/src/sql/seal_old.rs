//! `syncledger migrate --seal` (docs/privacy.md, "Values written before sealing"): a one-off
//! pass that seals, in place, the values of events appended before the database had a master
//! key, so that erasing an entity whose history began before the upgrade leaves nothing behind.
//!
//! The log is append-only, and its triggers refuse any `UPDATE`. This pass is the one exception,
//! and it changes nothing an event says: the value-bearing parts still holding plaintext are
//! sealed together under the entity's live key (created if need be), in the format every new
//! event gets (one blob per event, `seal/event.rs`); ids, types, times and parts sealed already
//! are left as they are. Each batch is one transaction that lifts
//! the trigger, rewrites the batch's payloads and restores the trigger, so no other transaction
//! ever sees the log writable (SQLite: `DROP`/`CREATE TRIGGER`, DDL being transactional;
//! PostgreSQL: `ALTER TABLE ... DISABLE/ENABLE TRIGGER`, which holds the table's exclusive lock
//! until the batch commits: appends and reads wait for one batch at a time).
//!
//! The values of an entity erased after they were written (its `EntityErased` comes later in its
//! stream) are not sealed under a key anyone holds: they are sealed under a fresh key that is
//! never stored, so they read as erased, as the erasure meant. A value already sealed is skipped,
//! so the pass is idempotent and may be stopped and run again.

use std::collections::HashMap;

use sqlx::QueryBuilder;
use sqlx::types::Json;
use syncledger_core::privacy;
use uuid::Uuid;

use super::{Db, Inner, dialect, push_in};
use crate::seal::{DataKey, Take, is_sealed_whole, sealed_key_id};
use crate::{SealProgress, StoreError};

/// Events read per batch (and rewritten, at most, in one transaction).
const BATCH: i64 = 500;

/// Whether a payload has a value-bearing part that is not sealed. One sealed whole (format 2)
/// has none: every value part is an index into its blob.
fn has_plaintext(event_type: &str, payload: &serde_json::Value) -> bool {
    if is_sealed_whole(payload) {
        return false;
    }
    let mut any = false;
    privacy::for_each_value_ref(event_type, payload, &mut |v| {
        any |= sealed_key_id(v).is_none();
    });
    any
}

type Scanned = (i64, Uuid, String, Json<serde_json::Value>, String);

impl Inner {
    pub(crate) async fn seal_old_values(
        &self,
        progress: &(dyn Fn(SealProgress) + Send + Sync),
    ) -> Result<SealProgress, StoreError> {
        let ring = self.shared.keyring.clone().ok_or_else(|| {
            StoreError::InvalidInput(
                "no master key is configured: there is nothing to seal values with".into(),
            )
        })?;
        let head = self.head().await?.0;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE position <= $1")
            .bind(head)
            .fetch_one(&self.read)
            .await?;
        let mut done = SealProgress {
            total: total as u64,
            ..SealProgress::default()
        };
        let mut after = 0i64;
        loop {
            let rows: Vec<Scanned> = sqlx::query_as(
                "SELECT position, stream_id, event_type, payload, tenant FROM events \
                 WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3",
            )
            .bind(after)
            .bind(head)
            .bind(BATCH)
            .fetch_all(&self.read)
            .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.0;
            done.scanned += rows.len() as u64;
            let plain: Vec<Scanned> = rows
                .into_iter()
                .filter(|r| has_plaintext(&r.2, &r.3.0))
                .collect();
            if !plain.is_empty() {
                let erased = self.erased_after(&plain).await?;
                let mut rewritten = Vec::with_capacity(plain.len());
                for (position, stream, event_type, Json(mut payload), tenant) in plain {
                    let (key_id, key) = match erased.get(&stream) {
                        // Erased later: sealed under a key nobody keeps, so it reads as erased.
                        Some(at) if *at > position => (Uuid::now_v7(), DataKey::generate()),
                        _ => self.live_key(&ring, stream, &tenant).await?,
                    };
                    let n =
                        ring.seal_event(key_id, &key, &event_type, &mut payload, Take::Plaintext);
                    done.values_sealed += n as u64;
                    rewritten.push((position, payload));
                }
                done.events_sealed += rewritten.len() as u64;
                self.rewrite_payloads(&rewritten).await?;
            }
            progress(done);
        }
        self.flush_rewritten().await?;
        Ok(done)
    }

    /// The position of the last `EntityErased` of each of these events' streams that has one.
    async fn erased_after(&self, events: &[Scanned]) -> Result<HashMap<Uuid, i64>, StoreError> {
        let mut streams: Vec<Uuid> = events.iter().map(|e| e.1).collect();
        streams.sort();
        streams.dedup();
        let mut query = QueryBuilder::<Db>::new(
            "SELECT stream_id, MAX(position) FROM events \
             WHERE event_type = 'EntityErased' AND stream_id IN ",
        );
        push_in(&mut query, streams);
        query.push(" GROUP BY stream_id");
        let found: Vec<(Uuid, i64)> = query.build_query_as().fetch_all(&self.read).await?;
        Ok(found.into_iter().collect())
    }

    /// Rewrites these events' payloads in one transaction, the log's immutability trigger lifted
    /// inside it only.
    async fn rewrite_payloads(
        &self,
        events: &[(i64, serde_json::Value)],
    ) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(self).await?;
        let (lift, restore) = if dialect::BACKEND == "sqlite" {
            (
                "DROP TRIGGER events_no_update",
                "CREATE TRIGGER events_no_update BEFORE UPDATE ON events \
                 BEGIN SELECT RAISE(ABORT, 'events are immutable'); END",
            )
        } else {
            (
                "ALTER TABLE events DISABLE TRIGGER events_no_update",
                "ALTER TABLE events ENABLE TRIGGER events_no_update",
            )
        };
        sqlx::raw_sql(lift).execute(&mut *tx).await?;
        for (position, payload) in events {
            sqlx::query("UPDATE events SET payload = $1 WHERE position = $2")
                .bind(Json(payload))
                .bind(position)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::raw_sql(restore).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The old texts' last copies let go of: SQLite's WAL copied back and truncated (its freed
    /// cells are zeroed by `secure_delete`); PostgreSQL's old row versions vacuumed.
    async fn flush_rewritten(&self) -> Result<(), StoreError> {
        if dialect::BACKEND == "sqlite" {
            sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.write)
                .await?;
        } else {
            sqlx::raw_sql("VACUUM events").execute(&self.write).await?;
        }
        Ok(())
    }
}
