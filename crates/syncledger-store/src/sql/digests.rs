//! Keyed digests for lookups that need only equality (docs/privacy.md, "Lookups without
//! plaintext"): `match_index`, `round_trip_context` and `word_index` file rows under sort keys
//! whose last segment is a digest of values. When the store seals values, that segment is
//! replaced, as rows are written, by an HMAC under the tenant's key from `tenant_keys`
//! ([`privacy::keyed_sort_key`]), and an exact lookup computes the same form; without the key,
//! a dictionary of likely values (emails, names) cannot be tested against the table.
//!
//! Tenant keys are created by the append that first writes for a tenant (`seal_appends`, the
//! write pool) and only loaded by the folds of catch-up and rebuilds. Which form the keyed
//! projections' rows are in is recorded in `store_settings` (`sort_key_digests`: `keyed` or
//! `plain`); [`Inner::settle_digests`] runs in every migration, and when the recorded form is not
//! the one this process writes (a database from before keyed digests, or one that was run
//! unsealed), it empties those projections and sets their checkpoints back to 0: the inline
//! ones are then rebuilt by the migration, the catch-up one folds the log again.

use sqlx::{AssertSqlSafe, Pool, QueryBuilder};
use syncledger_core::privacy;
use syncledger_core::projection::{Projection, RowOp};

use super::{Conn, Db, Inner, now, push_in};
use crate::StoreError;
use crate::seal::Keyring;
use crate::types::RowQuery;

/// The `store_settings` entry that says which form the keyed projections' sort keys are in.
const SETTING: &str = "sort_key_digests";

/// Tenants loaded by one statement.
const TENANTS_PER_STATEMENT: usize = 256;

/// Keys the sort keys of the rows a projection that
/// [`keys_sort_keys`](Projection::keys_sort_keys) writes, under each row's tenant's key (loaded
/// by the caller). Without a keyring (values unsealed) they stay as the projection made them.
pub(crate) fn key_rows(
    ring: Option<&Keyring>,
    projection: &dyn Projection,
    ops: &mut [RowOp],
) -> Result<(), StoreError> {
    let (Some(ring), true) = (ring, projection.keys_sort_keys()) else {
        return Ok(());
    };
    for op in ops {
        if let RowOp::Put(row) | RowOp::PutIfAbsent(row) | RowOp::Add(row) | RowOp::Claim(row) = op
        {
            let key = ring.tenant_key(&row.tenant).ok_or_else(|| {
                StoreError::InvalidInput(format!(
                    "tenant {:?} has no digest key in tenant_keys",
                    row.tenant
                ))
            })?;
            row.sort_key = privacy::keyed_sort_key(&key, &row.sort_key);
        }
    }
    Ok(())
}

/// Loads the keys of these tenants that the cache lacks; a tenant the table has no key for stays
/// missing.
pub(crate) async fn load_tenant_keys<'a>(
    pool: &Pool<Db>,
    ring: &Keyring,
    tenants: impl IntoIterator<Item = &'a str>,
) -> Result<(), StoreError> {
    let mut missing: Vec<&str> = tenants
        .into_iter()
        .filter(|t| ring.tenant_key(t).is_none())
        .collect();
    missing.sort_unstable();
    missing.dedup();
    for chunk in missing.chunks(TENANTS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT tenant, key_id, wrapped FROM tenant_keys WHERE tenant IN ",
        );
        push_in(&mut query, chunk.iter().copied());
        let rows: Vec<(String, uuid::Uuid, Vec<u8>)> =
            query.build_query_as().fetch_all(pool).await?;
        for (tenant, key_id, wrapped) in rows {
            ring.remember_tenant(&tenant, key_id, &wrapped)?;
        }
    }
    Ok(())
}

/// Creates a key for each of these tenants that has none (two processes racing agree on the
/// first one in), in the caller's transaction or on its connection.
async fn create_tenant_keys(
    conn: &mut Conn,
    ring: &Keyring,
    tenants: &[String],
) -> Result<(), StoreError> {
    for tenant in tenants {
        let (key_id, wrapped) = ring.new_tenant_key(tenant);
        sqlx::query(
            "INSERT INTO tenant_keys (tenant, key_id, wrapped, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant)
        .bind(key_id)
        .bind(wrapped)
        .bind(now())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Inner {
    /// Makes sure each of these tenants has a digest key, loaded in the cache: created on the
    /// write pool when the table has none. Without a keyring, nothing.
    pub(crate) async fn ensure_tenant_keys(&self, tenants: &[&str]) -> Result<(), StoreError> {
        let Some(ring) = self.shared.keyring.as_deref() else {
            return Ok(());
        };
        if tenants.iter().all(|t| ring.tenant_key(t).is_some()) {
            return Ok(());
        }
        load_tenant_keys(&self.read, ring, tenants.iter().copied()).await?;
        let missing: Vec<String> = tenants
            .iter()
            .filter(|t| ring.tenant_key(t).is_none())
            .map(|t| t.to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut conn = self.write.acquire().await?;
        create_tenant_keys(&mut conn, ring, &missing).await?;
        drop(conn);
        load_tenant_keys(&self.write, ring, missing.iter().map(String::as_str)).await
    }

    /// `query` as it reads a projection whose sort keys are keyed: an exact lookup (one tenant,
    /// `sort_key_from == sort_key_to`) gets the keyed form of its sort key. `None` when no row
    /// can match (the tenant has no key, so nothing of it was ever filed keyed). Any other query
    /// (a listing, a range) is left as it is: a range over a digest means nothing anyway.
    pub(crate) async fn keyed_query(
        &self,
        projection: &str,
        query: &RowQuery,
    ) -> Result<Option<RowQuery>, StoreError> {
        let (Some(ring), Ok(p)) = (
            self.shared.keyring.as_deref(),
            self.shared.registry.get(projection),
        ) else {
            return Ok(Some(query.clone()));
        };
        let (true, Some(tenant), Some(from), Some(to)) = (
            p.keys_sort_keys(),
            &query.tenant,
            &query.sort_key_from,
            &query.sort_key_to,
        ) else {
            return Ok(Some(query.clone()));
        };
        if from != to {
            return Ok(Some(query.clone()));
        }
        load_tenant_keys(&self.read, ring, [tenant.as_str()]).await?;
        let Some(key) = ring.tenant_key(tenant) else {
            return Ok(None);
        };
        let keyed = privacy::keyed_sort_key(&key, from);
        Ok(Some(RowQuery {
            sort_key_from: Some(keyed.clone()),
            sort_key_to: Some(keyed),
            ..query.clone()
        }))
    }

    /// Run by every migration, holding the log-order lock in `tx`: when the keyed projections'
    /// rows are not in the form this process writes (keyed with a keyring, plain without),
    /// creates a key for every tenant of the log (keyed), empties those projections and sets
    /// their checkpoints back to 0, and records the new form. The migration then rebuilds the
    /// inline ones; the catch-up one folds the log again.
    pub(crate) async fn settle_digests(&self, tx: &mut Conn) -> Result<(), StoreError> {
        let ring = self.shared.keyring.as_deref();
        let wanted = if ring.is_some() { "keyed" } else { "plain" };
        let stored: Option<String> =
            sqlx::query_scalar("SELECT value FROM store_settings WHERE name = $1")
                .bind(SETTING)
                .fetch_optional(&mut *tx)
                .await?;
        if stored.as_deref() == Some(wanted) {
            return Ok(());
        }
        let logged: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM events LIMIT 1) AS one")
                .fetch_one(&mut *tx)
                .await?;
        if let Some(ring) = ring {
            let tenants: Vec<String> =
                sqlx::query_scalar("SELECT DISTINCT tenant FROM events ORDER BY tenant")
                    .fetch_all(&mut *tx)
                    .await?;
            create_tenant_keys(&mut *tx, ring, &tenants).await?;
        }
        let keyed: Vec<&str> = self
            .shared
            .registry
            .all()
            .filter(|p| p.keys_sort_keys())
            .map(|p| p.name())
            .collect();
        for name in &keyed {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {name}")))
                .execute(&mut *tx)
                .await?;
        }
        if !keyed.is_empty() {
            let mut reset = QueryBuilder::<Db>::new(
                "UPDATE projection_checkpoints SET position = 0 WHERE name IN ",
            );
            push_in(&mut reset, keyed.iter().copied());
            reset.build().execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO store_settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(SETTING)
        .bind(wanted)
        .execute(&mut *tx)
        .await?;
        if logged > 0 {
            tracing::info!(
                from = stored.as_deref().unwrap_or("unkeyed"),
                to = wanted,
                projections = ?keyed,
                "lookup digests change form; those projections are rebuilt"
            );
        }
        Ok(())
    }
}
