//! Entity leases: "this worker processes this entity until then". Operational state, not a
//! projection: it is not derived from the log and is never rebuilt.
//!
//! Taking a lease is one statement, so two workers racing for a free or expired lease cannot
//! both win: the upsert's `WHERE` only lets the update through when the lease is expired or
//! already the caller's, and `RETURNING` says whether it went through.

use std::time::Duration;

use uuid::Uuid;

use super::{Inner, now};
use crate::StoreError;

fn expiry(ttl: Duration) -> Result<chrono::Duration, StoreError> {
    chrono::Duration::from_std(ttl)
        .map_err(|_| StoreError::InvalidInput(format!("lease ttl {ttl:?} is too long")))
}

impl Inner {
    pub(crate) async fn try_lease(
        &self,
        entity_id: Uuid,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now();
        let taken: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO entity_leases (entity_id, owner, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (entity_id) DO UPDATE SET owner = excluded.owner, \
             expires_at = excluded.expires_at \
             WHERE entity_leases.expires_at <= $4 OR entity_leases.owner = excluded.owner \
             RETURNING entity_id",
        )
        .bind(entity_id)
        .bind(owner)
        .bind(now + expiry(ttl)?)
        .bind(now)
        .fetch_optional(&self.write)
        .await?;
        Ok(taken.is_some())
    }

    /// Extends a lease the caller still holds; false when someone else took it meanwhile.
    pub(crate) async fn renew_lease(
        &self,
        entity_id: Uuid,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let renewed = sqlx::query(
            "UPDATE entity_leases SET expires_at = $1 WHERE entity_id = $2 AND owner = $3",
        )
        .bind(now() + expiry(ttl)?)
        .bind(entity_id)
        .bind(owner)
        .execute(&self.write)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Gives a lease back; false when the caller did not hold it.
    pub(crate) async fn release_lease(
        &self,
        entity_id: Uuid,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let released = sqlx::query("DELETE FROM entity_leases WHERE entity_id = $1 AND owner = $2")
            .bind(entity_id)
            .bind(owner)
            .execute(&self.write)
            .await?;
        Ok(released.rows_affected() == 1)
    }
}
