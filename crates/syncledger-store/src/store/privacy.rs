//! The store's privacy API (docs/privacy.md): erasure, and the keys behind sealing.

use uuid::Uuid;

use super::{Backend, Store};
use crate::{ErasureReceipt, StoreError};

impl Store {
    /// Whether values are sealed (the store was opened with a master key).
    pub fn seals_values(&self) -> bool {
        dispatch!(self, s => s.shared.keyring.is_some())
    }

    /// Erases an entity (CONTRACT §7 `eraseEntity`): destroys its data keys, appends
    /// `EntityErased { reason, by }`, deletes its rows of the projections that hold values, and
    /// searches every table (and on SQLite the database file) for the values it held.
    /// Idempotent. [`StoreError::NotFound`] for an entity with no events (live or archived).
    pub async fn erase_entity(
        &self,
        entity_id: Uuid,
        reason: &str,
        by: &str,
    ) -> Result<ErasureReceipt, StoreError> {
        dispatch!(self, s => s.erase_entity(entity_id, reason, by).await)
    }

    /// The sequence number of the stream's last `EntityErased`: its events before it read as
    /// erased. One index range of the stream, no payload decoded.
    pub async fn last_erasure(&self, stream_id: Uuid) -> Result<Option<u64>, StoreError> {
        dispatch!(self, s => s.last_erasure(stream_id).await)
    }

    /// Retires the entity's live data key: it still opens what it sealed, and the entity's
    /// next value is sealed under a new one. False when it had no live key.
    pub async fn rotate_entity_key(&self, entity_id: Uuid) -> Result<bool, StoreError> {
        dispatch!(self, s => s.rotate_entity_key(entity_id).await)
    }

    /// Seals, in place, the values of events appended before the database had a master key
    /// (`syncledger migrate --seal`, docs/privacy.md): each plaintext value-bearing part is
    /// sealed under its entity's live key, or under a key nobody keeps when the entity was
    /// erased after it. Idempotent; `progress` after every batch. Projection rows copied from
    /// those events stay as they were until their projections are rebuilt.
    pub async fn seal_old_values(
        &self,
        progress: impl Fn(crate::SealProgress) + Send + Sync,
    ) -> Result<crate::SealProgress, StoreError> {
        dispatch!(self, s => s.seal_old_values(&progress).await)
    }

    /// Re-wraps every data key under `next` (master-key rotation); returns how many. Reopen the
    /// store with `next` afterwards.
    pub async fn rewrap_keys(&self, next: &crate::MasterKey) -> Result<u64, StoreError> {
        dispatch!(self, s => s.rewrap_keys(next).await)
    }
}
