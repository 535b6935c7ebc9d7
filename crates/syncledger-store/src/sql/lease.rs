//! Entity leases: "this worker processes this entity until then". Operational state, not a
//! projection: it is not derived from the log and is never rebuilt.
//!
//! Taking a lease is one statement, so two workers racing for a free or expired lease cannot
//! both win: the upsert's `WHERE` only lets the update through when the lease is expired or
//! already the caller's, and `RETURNING` says whether it went through.

use std::time::Duration;

use uuid::Uuid;

use sqlx::QueryBuilder;

use super::{Db, Inner, now};
use crate::StoreError;
use crate::chunks::pow2_chunks;

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

    /// Takes as many of the given leases as are free, expired or already the caller's, in one
    /// transaction; returns the entities now leased to the caller.
    pub(crate) async fn claim_leases(
        &self,
        entities: &[Uuid],
        owner: &str,
        ttl: Duration,
    ) -> Result<Vec<Uuid>, StoreError> {
        if entities.is_empty() {
            return Ok(Vec::new());
        }
        let now = now();
        let until = now + expiry(ttl)?;
        let mut sorted = entities.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut tx = self.write.begin().await?;
        let mut taken = Vec::with_capacity(sorted.len());
        for chunk in pow2_chunks(&sorted) {
            let mut claim = QueryBuilder::<Db>::new(
                "INSERT INTO entity_leases (entity_id, owner, expires_at) ",
            );
            claim.push_values(chunk, |mut row, id| {
                row.push_bind(*id).push_bind(owner).push_bind(until);
            });
            claim
                .push(
                    " ON CONFLICT (entity_id) DO UPDATE SET owner = excluded.owner, \
                     expires_at = excluded.expires_at \
                     WHERE entity_leases.expires_at <= ",
                )
                .push_bind(now)
                .push(" OR entity_leases.owner = excluded.owner RETURNING entity_id");
            let rows: Vec<Uuid> = claim.build_query_scalar().fetch_all(&mut *tx).await?;
            taken.extend(rows);
        }
        tx.commit().await?;
        Ok(taken)
    }

    /// Gives back the caller's leases among the given entities; returns how many it held.
    pub(crate) async fn release_leases(
        &self,
        entities: &[Uuid],
        owner: &str,
    ) -> Result<u64, StoreError> {
        let mut released = 0;
        for chunk in pow2_chunks(entities) {
            let mut delete = QueryBuilder::<Db>::new("DELETE FROM entity_leases WHERE owner = ");
            delete.push_bind(owner).push(" AND entity_id IN ");
            super::push_in(&mut delete, chunk.iter().copied());
            released += delete.build().execute(&self.write).await?.rows_affected();
        }
        Ok(released)
    }
}
