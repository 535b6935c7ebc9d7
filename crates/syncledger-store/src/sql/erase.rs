//! Erasure by crypto-shredding, with a verified receipt (CONTRACT §6 G11, docs/privacy.md).
//!
//! The log stays append-only: nothing of it is rewritten. What makes the entity's values
//! unreadable is that the only keys that open them are destroyed; what makes the receipt worth
//! something is that the erasure then looks for the values it knew, as text, in every table
//! (and on SQLite in the database file and its WAL), and says where it found any. The snapshot
//! of an entity's archived events (`stream_archives.state`) is one of those copies: sealed
//! under the same keys, and replaced by its value-free part (links, version) on erasure.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, QueryBuilder};
use syncledger_core::events::{EntityErased, SyncEvent};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_core::mapping::match_value_hash;
use syncledger_core::{privacy, snapshot};
use uuid::Uuid;

use super::{Db, Inner, dialect, now};
use crate::{ErasureReceipt, StoreError};

/// What the file check calls its findings in `residue` (SQLite).
pub(crate) const DATABASE_FILE: &str = "database file";
pub(crate) const DATABASE_WAL: &str = "database WAL";

/// Attempts at a full SQLite checkpoint (20 ms apart) before the check reads the files anyway
/// (and reports the WAL if it still holds a value).
const CHECKPOINT_TRIES: usize = 100;

impl Inner {
    pub(crate) async fn erase_entity(
        self: &Arc<Self>,
        entity_id: Uuid,
        reason: &str,
        by: &str,
    ) -> Result<ErasureReceipt, StoreError> {
        let ring = self.shared.keyring.clone().ok_or_else(|| {
            StoreError::InvalidInput(
                "values are not sealed in this database (no master key), so none can be erased"
                    .into(),
            )
        })?;
        let events = self.read_stream(entity_id, 1, i64::MAX).await?;
        // An entity whose first events were archived has them in its snapshot (opened here,
        // while its keys still open it); one with every event archived has only the snapshot.
        let archived = self.stream_archive(entity_id).await?;
        let kept = archived.as_ref().and_then(|a| a.state.as_ref());
        let tenant = match (events.first(), kept) {
            (Some(first), _) => first.meta.tenant.clone(),
            (None, Some(state)) => snapshot::resume_entity(entity_id, Some(state), &[]).tenant,
            (None, None) if archived.is_some() => self.tenant_of_keys(entity_id).await?,
            (None, None) => return Err(StoreError::NotFound),
        };
        let live: Vec<Uuid> = sqlx::query_scalar(
            "SELECT key_id FROM data_keys WHERE entity_id = $1 AND destroyed_at IS NULL",
        )
        .bind(entity_id)
        .fetch_all(&self.read)
        .await?;
        let earlier = events
            .iter()
            .rev()
            .find_map(|e| match SyncEvent::from_recorded(e) {
                Ok(SyncEvent::EntityErased(erased)) => Some((e.recorded_at, erased.reason)),
                _ => None,
            });
        if let (true, Some((erased_at, reason))) = (live.is_empty(), earlier) {
            // Erased before and nothing sealed since: the same receipt, its rows checked again.
            let residue = self.value_rows_left(entity_id).await?;
            return Ok(ErasureReceipt {
                entity_id,
                erased_at,
                reason,
                verified: residue.is_empty(),
                residue,
            });
        }

        // 1. What the entity's values are, while they can still be read (memory only).
        let mut texts = Vec::new();
        for event in &events {
            privacy::searched_texts(&event.event_type, &event.payload, &mut texts);
        }
        if let Some(state) = kept {
            snapshot::value_texts(state, &mut texts);
        }
        let kept_snapshot = kept.and_then(snapshot::without_values);
        // The digests lookups file them under: plain (a database that ran unsealed), and keyed
        // under the tenant's key as the lookup projections file them now (a match key's hash,
        // and a create's fingerprint, which is itself one of the values).
        self.ensure_tenant_keys(&[tenant.as_str()]).await?;
        let tenant_key = ring.tenant_key(&tenant);
        let mut digests: Vec<String> = Vec::new();
        for text in &texts {
            let hash = match_value_hash(&serde_json::Value::String(text.clone()));
            if let Some(key) = &tenant_key {
                digests.push(privacy::keyed_sort_key(key, text));
                digests.extend(hash.iter().map(|h| privacy::keyed_sort_key(key, h)));
            }
            digests.extend(hash);
        }
        texts.extend(digests);
        texts.sort();
        texts.dedup();

        // 2. No catch-up projection is left behind to read a value after the keys are gone.
        self.catch_up_once().await?;

        // 3. The keys are destroyed.
        sqlx::query(
            "UPDATE data_keys SET wrapped = NULL, destroyed_at = $2 \
             WHERE entity_id = $1 AND destroyed_at IS NULL",
        )
        .bind(entity_id)
        .bind(now())
        .execute(&self.write)
        .await?;
        ring.forget(entity_id, &live);

        // 4. The fact, in the entity's own stream.
        let erased = SyncEvent::EntityErased(EntityErased {
            reason: reason.to_string(),
            by: by.to_string(),
        });
        let meta = EventMeta {
            tenant,
            correlation_id: None,
            causation_id: None,
        };
        let appended = self
            .append(vec![StreamAppend {
                stream_id: entity_id,
                expected: ExpectedVersion::Any,
                events: vec![erased.to_new(meta)],
            }])
            .await?;
        let erased_at = appended.first().map(|a| a.recorded_at).unwrap_or_else(now);

        // 5. The copies in projection rows go.
        let mut tx = self.write.begin().await?;
        for projection in self
            .shared
            .registry
            .all()
            .filter(|p| p.erased_with_entity())
        {
            let sql = format!("DELETE FROM {} WHERE entity_id = $1", projection.name());
            sqlx::query(AssertSqlSafe(sql))
                .bind(entity_id)
                .execute(&mut *tx)
                .await?;
        }
        // The snapshot of its archived events (sealed under the keys just destroyed) is
        // replaced by what it keeps without values: its links and version, in clear.
        if archived.is_some() {
            sqlx::query(
                "UPDATE stream_archives SET state = $2, packed = NULL WHERE stream_id = $1",
            )
            .bind(entity_id)
            .bind(kept_snapshot.map(sqlx::types::Json))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;

        // 6. Freed space and old page images are let go of.
        self.flush_erased().await?;

        // 7. Verification.
        let mut residue = self.tables_holding(&texts).await?;
        if dialect::BACKEND == "sqlite" {
            residue.extend(self.files_holding(&texts).await?);
        }
        tracing::info!(%entity_id, verified = residue.is_empty(), ?residue, "entity erased");
        Ok(ErasureReceipt {
            entity_id,
            erased_at,
            reason: reason.to_string(),
            verified: residue.is_empty(),
            residue,
        })
    }

    pub(crate) async fn last_erasure(&self, stream_id: Uuid) -> Result<Option<u64>, StoreError> {
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(sequence) FROM events WHERE stream_id = $1 AND event_type = 'EntityErased'",
        )
        .bind(stream_id)
        .fetch_one(&self.read)
        .await?;
        Ok(last.map(|s| s as u64))
    }

    /// The value-holding projections that still have rows of the entity.
    async fn value_rows_left(&self, entity_id: Uuid) -> Result<Vec<String>, StoreError> {
        let mut left = Vec::new();
        for projection in self
            .shared
            .registry
            .all()
            .filter(|p| p.erased_with_entity())
        {
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE entity_id = $1",
                projection.name()
            );
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(entity_id)
                .fetch_one(&self.read)
                .await?;
            if n > 0 {
                left.push(projection.name().to_string());
            }
        }
        if let Some(state) = self.stream_archive(entity_id).await?.and_then(|a| a.state) {
            let mut texts = Vec::new();
            snapshot::value_texts(&state, &mut texts);
            if !texts.is_empty() {
                left.push("stream_archives".to_string());
            }
        }
        Ok(left)
    }

    /// The tenant an entity's data keys were made for (an entity with no live event left).
    async fn tenant_of_keys(&self, entity_id: Uuid) -> Result<String, StoreError> {
        let tenant: Option<String> =
            sqlx::query_scalar("SELECT tenant FROM data_keys WHERE entity_id = $1 LIMIT 1")
                .bind(entity_id)
                .fetch_optional(&self.read)
                .await?;
        tenant.ok_or(StoreError::NotFound)
    }

    /// SQLite: the WAL copied back and truncated, so no old page image keeps the key (freed
    /// pages are zeroed by `secure_delete`). PostgreSQL: the key rows' dead tuples vacuumed.
    /// The checkpoint is tried again while another connection (the background checkpointer, a
    /// reader mid-transaction) keeps it from copying and truncating the whole WAL.
    async fn flush_erased(&self) -> Result<(), StoreError> {
        if dialect::BACKEND != "sqlite" {
            sqlx::raw_sql("VACUUM data_keys")
                .execute(&self.write)
                .await?;
            return Ok(());
        }
        for _ in 0..CHECKPOINT_TRIES {
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.write)
                .await?;
            if busy == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// The tables where one of `texts` occurs in a column read as text: one scan per table.
    async fn tables_holding(&self, texts: &[String]) -> Result<Vec<String>, StoreError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let tables: Vec<String> = if dialect::BACKEND == "sqlite" {
            sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 ORDER BY name",
            )
            .fetch_all(&self.read)
            .await?
        } else {
            sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
                 ORDER BY tablename",
            )
            .fetch_all(&self.read)
            .await?
        };
        let mut found = Vec::new();
        for table in tables {
            let mut query = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM ");
            if dialect::BACKEND == "sqlite" {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&table)
                        .fetch_all(&self.read)
                        .await?;
                let row = columns
                    .iter()
                    .map(|c| format!("COALESCE(CAST({} AS TEXT), '')", quoted(c)))
                    .collect::<Vec<_>>()
                    .join(" || char(31) || ");
                query.push(format!(
                    "(SELECT {row} AS t FROM {}) AS r WHERE ",
                    quoted(&table)
                ));
                push_any(&mut query, texts, "instr(r.t, ", ") > 0");
            } else {
                query.push(format!("{} AS r WHERE ", quoted(&table)));
                push_any(&mut query, texts, "strpos(r::text, ", ") > 0");
            }
            let n: i64 = query.build_query_scalar().fetch_one(&self.read).await?;
            if n > 0 {
                found.push(table);
            }
        }
        Ok(found)
    }

    /// SQLite: which of the database file and its WAL hold one of `texts` as bytes.
    async fn files_holding(&self, texts: &[String]) -> Result<Vec<String>, StoreError> {
        let files: Vec<(i64, String, String)> = sqlx::query_as("PRAGMA database_list")
            .fetch_all(&self.read)
            .await?;
        let Some((_, _, path)) = files.into_iter().find(|(_, name, _)| name == "main") else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for (file, label) in [
            (path.clone(), DATABASE_FILE),
            (format!("{path}-wal"), DATABASE_WAL),
        ] {
            let bytes = match tokio::fs::read(&file).await {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::Backend(Box::new(e))),
            };
            if texts
                .iter()
                .any(|t| memchr::memmem::find(&bytes, t.as_bytes()).is_some())
            {
                found.push(label.to_string());
            }
        }
        Ok(found)
    }
}

/// `{open}$n{close} OR ...` for every text.
fn push_any(query: &mut QueryBuilder<Db>, texts: &[String], open: &str, close: &str) {
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            query.push(" OR ");
        }
        query.push(open).push_bind(text.clone()).push(close);
    }
}

/// A name from the catalog, quoted as an identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
