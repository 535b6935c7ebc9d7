//! The key tables (docs/privacy.md): an entity's live data key created on first use, keys
//! loaded for what a read meets, rotation (a key retired), master-key rotation (every key
//! re-wrapped) and destruction (an erasure). The AEAD and the cache are `seal.rs`.
//!
//! Sealing happens before an append reaches the log ([`Inner::seal_appends`]); opening happens in
//! every read, after upcasting ([`Inner::open_events`], [`Inner::open_rows`]), and in the folds of
//! catch-up, rebuild and inline projections ([`open_and_project_each`]): a projection that
//! [`holds_values`](syncledger_core::projection::Projection::holds_values) gets its row
//! documents sealed under the key that sealed the event they came from, so erasing the event's
//! entity makes those copies unreadable too.

use chrono::Utc;
use serde_json::Value;
use sqlx::{Pool, QueryBuilder};
use syncledger_core::log::{RecordedEvent, StreamAppend};
use syncledger_core::privacy;
use syncledger_core::projection::{Projection, Row, RowOp};
use uuid::Uuid;

use super::{Db, Inner, push_in};
use crate::StoreError;
use crate::seal::{DataKey, Keyring, MasterKey, Take, wrap_with};

/// Key ids loaded by one statement.
const KEYS_PER_STATEMENT: usize = 256;

/// Loads the given keys into the cache; an id the table does not hold, or holds destroyed,
/// is cached as gone (its values open as `null`).
pub(crate) async fn load_keys(
    pool: &Pool<Db>,
    ring: &Keyring,
    ids: &[Uuid],
) -> Result<(), StoreError> {
    for chunk in ids.chunks(KEYS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT key_id, entity_id, wrapped FROM data_keys WHERE key_id IN ",
        );
        push_in(&mut query, chunk.iter().copied());
        let rows: Vec<(Uuid, Uuid, Option<Vec<u8>>)> =
            query.build_query_as().fetch_all(pool).await?;
        for id in chunk {
            ring.remember(*id, None);
        }
        for (id, entity, wrapped) in rows {
            let key = wrapped.map(|w| ring.unwrap(id, entity, &w)).transpose()?;
            ring.remember(id, key);
        }
    }
    Ok(())
}

/// Opens an event (already upcast) from the cache and applies projections to it; the rows of a
/// projection that holds values are sealed under the event's key. The event is opened once (the
/// AEAD of each of its values runs once, not once per projection). The caller has loaded the
/// event's keys ([`Keyring::missing`]).
pub(crate) fn open_and_project_each(
    ring: Option<&Keyring>,
    projections: &[&dyn Projection],
    event: &mut RecordedEvent,
) -> Result<Vec<Vec<RowOp>>, StoreError> {
    let key = ring.and_then(|ring| ring.open_event(event));
    let mut each = Vec::with_capacity(projections.len());
    for projection in projections {
        let mut ops = projection.apply(event);
        seal_rows(ring, *projection, key.as_ref(), &mut ops);
        super::digests::key_rows(ring, *projection, &mut ops)?;
        each.push(ops);
    }
    Ok(each)
}

/// Seals the row documents of a projection that holds values under `key`, the key that sealed
/// the event they were derived from (`None`: the event held no sealed value).
pub(crate) fn seal_rows(
    ring: Option<&Keyring>,
    projection: &dyn Projection,
    key: Option<&(Uuid, DataKey)>,
    ops: &mut [RowOp],
) {
    let (Some(ring), Some((key_id, key)), true) = (ring, key, projection.holds_values()) else {
        return;
    };
    for op in ops {
        if let RowOp::Put(row) | RowOp::PutIfAbsent(row) | RowOp::Add(row) | RowOp::Claim(row) = op
        {
            row.doc = ring.seal(*key_id, key, &row.doc);
        }
    }
}

/// Whether an event has a value to seal.
fn carries_values(event_type: &str, payload: &serde_json::Value) -> bool {
    let mut any = false;
    privacy::for_each_value_ref(event_type, payload, &mut |_| any = true);
    any
}

impl Inner {
    /// Seals the value-bearing parts of every new event under its entity's live key, creating
    /// the key on first use, all of an event's in one blob (`seal/event.rs`). Without a master
    /// key, nothing is sealed.
    pub(crate) async fn seal_appends(
        &self,
        appends: &mut [StreamAppend],
    ) -> Result<(), StoreError> {
        let Some(ring) = self.shared.keyring.clone() else {
            return Ok(());
        };
        let mut tenants: Vec<&str> = appends
            .iter()
            .flat_map(|part| part.events.iter().map(|e| e.meta.tenant.as_str()))
            .collect();
        tenants.sort_unstable();
        tenants.dedup();
        self.ensure_tenant_keys(&tenants).await?;
        for part in appends.iter_mut() {
            let Some(first) = part
                .events
                .iter()
                .find(|e| carries_values(&e.event_type, &e.payload))
            else {
                continue;
            };
            let tenant = first.meta.tenant.clone();
            let (key_id, key) = self.live_key(&ring, part.stream_id, &tenant).await?;
            for event in &mut part.events {
                ring.seal_event(
                    key_id,
                    &key,
                    &event.event_type,
                    &mut event.payload,
                    Take::All,
                );
            }
        }
        Ok(())
    }

    /// The entity's live key: cached, stored, or created now. Two writers creating one at once
    /// agree on the one the unique index let in.
    pub(super) async fn live_key(
        &self,
        ring: &Keyring,
        entity_id: Uuid,
        tenant: &str,
    ) -> Result<(Uuid, DataKey), StoreError> {
        if let Some(found) = ring.live_of(entity_id) {
            return Ok(found);
        }
        for attempt in 0..2 {
            let found: Option<(Uuid, Option<Vec<u8>>)> = sqlx::query_as(
                "SELECT key_id, wrapped FROM data_keys WHERE entity_id = $1 \
                 AND retired_at IS NULL AND destroyed_at IS NULL",
            )
            .bind(entity_id)
            .fetch_optional(if attempt == 0 {
                &self.read
            } else {
                &self.write
            })
            .await?;
            if let Some((key_id, Some(wrapped))) = found {
                let key = ring.unwrap(key_id, entity_id, &wrapped)?;
                ring.remember(key_id, Some(key.clone()));
                ring.set_live(entity_id, key_id);
                return Ok((key_id, key));
            }
            if attempt == 0 {
                let (key_id, key) = (Uuid::now_v7(), DataKey::generate());
                sqlx::query(
                    "INSERT INTO data_keys (key_id, entity_id, tenant, wrapped, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(key_id)
                .bind(entity_id)
                .bind(tenant)
                .bind(ring.wrap(key_id, entity_id, &key))
                .bind(Utc::now())
                .execute(&self.write)
                .await?;
            }
        }
        Err(StoreError::InvalidInput(format!(
            "entity {entity_id} has no live data key after creating one"
        )))
    }

    /// Opens the sealed values of events (already upcast), loading the keys they name.
    pub(crate) async fn open_events(&self, events: &mut [RecordedEvent]) -> Result<(), StoreError> {
        let Some(ring) = self.shared.keyring.as_deref() else {
            return Ok(());
        };
        self.load_event_keys(events).await?;
        for event in events {
            ring.open_event(event);
        }
        Ok(())
    }

    /// Loads the keys that the sealed values of `events` name and the cache lacks.
    pub(crate) async fn load_event_keys(&self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        let Some(ring) = self.shared.keyring.as_deref() else {
            return Ok(());
        };
        let missing = ring.missing(events.iter().map(|e| (e.event_type.as_str(), &e.payload)));
        if !missing.is_empty() {
            load_keys(&self.read, ring, &missing).await?;
        }
        Ok(())
    }

    /// Opens events (already upcast) like [`Inner::open_events`], and returns the key that
    /// opened the last of them to carry a sealed value (what a copy derived from them is
    /// sealed under); `None` when none did or its key is destroyed.
    pub(crate) async fn open_events_keyed(
        &self,
        events: &mut [RecordedEvent],
    ) -> Result<Option<(Uuid, DataKey)>, StoreError> {
        let Some(ring) = self.shared.keyring.as_deref() else {
            return Ok(None);
        };
        self.load_event_keys(events).await?;
        let mut last = None;
        for event in events {
            if let Some(key) = ring.open_event(event) {
                last = Some(key);
            }
        }
        Ok(last)
    }

    /// Seals a whole document (a stream snapshot) under `key`, compressed first (`seal/packed.rs`);
    /// no master key or no key: as is.
    pub(crate) fn seal_doc(&self, key: Option<&(Uuid, DataKey)>, doc: Value) -> Value {
        match (self.shared.keyring.as_deref(), key) {
            (Some(ring), Some((key_id, key))) => ring.seal_packed(*key_id, key, &doc),
            _ => doc,
        }
    }

    /// Opens a document sealed whole, loading its key: `null` when its key is destroyed (the
    /// entity was erased). Returns the key that opened it.
    pub(crate) async fn open_doc(
        &self,
        doc: &mut Value,
    ) -> Result<Option<(Uuid, DataKey)>, StoreError> {
        let Some(ring) = self.shared.keyring.as_deref() else {
            return Ok(None);
        };
        if let Some(missing) = ring.missing_packed(doc).or_else(|| ring.missing_doc(doc)) {
            load_keys(&self.read, ring, &[missing]).await?;
        }
        // Packed since 2026-12-06 (`$z1`); snapshots written before are sealed values (`$s1`).
        match ring.open_packed(doc) {
            Some(key) => Ok(key),
            None => Ok(ring.open_value(doc)),
        }
    }

    /// Opens sealed row documents, loading the keys they name.
    pub(crate) async fn open_rows(&self, rows: &mut [Row]) -> Result<(), StoreError> {
        let Some(ring) = self.shared.keyring.as_deref() else {
            return Ok(());
        };
        let mut missing: Vec<Uuid> = rows
            .iter()
            .filter_map(|r| ring.missing_doc(&r.doc))
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            load_keys(&self.read, ring, &missing).await?;
        }
        for row in rows {
            ring.open_value(&mut row.doc);
        }
        Ok(())
    }

    /// Retires the entity's live key: it still opens what it sealed; the next value gets a new one.
    pub(crate) async fn rotate_entity_key(&self, entity_id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE data_keys SET retired_at = $2 WHERE entity_id = $1 \
             AND retired_at IS NULL AND destroyed_at IS NULL",
        )
        .bind(entity_id)
        .bind(Utc::now())
        .execute(&self.write)
        .await?;
        if let Some(ring) = &self.shared.keyring {
            ring.forget_live(entity_id);
        }
        Ok(done.rows_affected() > 0)
    }

    /// Re-wraps every data key under `next` in one transaction; the log is untouched. The caller
    /// then replaces the master key file (this process keeps the key it started with until it
    /// restarts).
    pub(crate) async fn rewrap_keys(&self, next: &MasterKey) -> Result<u64, StoreError> {
        let Some(ring) = self.shared.keyring.as_deref() else {
            return Err(StoreError::InvalidInput(
                "no master key is configured".into(),
            ));
        };
        let mut tx = self.write.begin().await?;
        let keys: Vec<(Uuid, Uuid, Vec<u8>)> = sqlx::query_as(
            "SELECT key_id, entity_id, wrapped FROM data_keys WHERE wrapped IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (key_id, entity_id, wrapped) in &keys {
            let key = ring.unwrap(*key_id, *entity_id, wrapped)?;
            sqlx::query("UPDATE data_keys SET wrapped = $2 WHERE key_id = $1")
                .bind(key_id)
                .bind(wrap_with(next, *key_id, *entity_id, &key))
                .execute(&mut *tx)
                .await?;
        }
        let tenants: Vec<(String, Uuid, Vec<u8>)> =
            sqlx::query_as("SELECT tenant, key_id, wrapped FROM tenant_keys")
                .fetch_all(&mut *tx)
                .await?;
        for (tenant, key_id, wrapped) in &tenants {
            sqlx::query("UPDATE tenant_keys SET wrapped = $2 WHERE tenant = $1")
                .bind(tenant)
                .bind(ring.rewrap_tenant(next, *key_id, tenant, wrapped)?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((keys.len() + tenants.len()) as u64)
    }

    /// Whether the database holds keys while this process has no master key to open them: then
    /// sealed values would reach the sync as text, so the store refuses to start.
    pub(crate) async fn check_master_key(&self) -> Result<(), StoreError> {
        let ring = self.shared.keyring.as_deref();
        let tenant: Option<(String, Uuid, Vec<u8>)> =
            sqlx::query_as("SELECT tenant, key_id, wrapped FROM tenant_keys LIMIT 1")
                .fetch_optional(&self.read)
                .await?;
        match (tenant, ring) {
            (Some(_), None) => {
                return Err(StoreError::InvalidInput(
                    "this database keys its lookup digests: configure its master key \
                     ([server] master_key_file, docs/privacy.md)"
                        .into(),
                ));
            }
            (Some((tenant, key_id, wrapped)), Some(ring)) => {
                ring.remember_tenant(&tenant, key_id, &wrapped)?;
            }
            (None, _) => {}
        }
        let one: Option<(Uuid, Uuid, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT key_id, entity_id, wrapped FROM data_keys WHERE wrapped IS NOT NULL LIMIT 1",
        )
        .fetch_optional(&self.read)
        .await?;
        match (one, ring) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(StoreError::InvalidInput(
                "this database holds sealed values: configure its master key \
                 ([server] master_key_file, docs/privacy.md)"
                    .into(),
            )),
            (Some((key_id, entity_id, Some(wrapped))), Some(ring)) => {
                ring.unwrap(key_id, entity_id, &wrapped).map(|_| ())
            }
            (Some(_), Some(_)) => Ok(()),
        }
    }
}
