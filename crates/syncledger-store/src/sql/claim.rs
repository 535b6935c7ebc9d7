//! Claims: keys of an inline projection that one entity holds by construction.
//!
//! A record linked to two entities is a duplicate waiting to happen (two jobs, of one process
//! or two, each decided the record was unlinked from what it read, and each linked it). So a
//! link is a [`RowOp::Claim`](syncledger_core::projection::RowOp::Claim), checked where it is
//! written, in the append's transaction: a key held by another entity is taken only by an
//! append that also writes to the holder's stream (a redirect or a G8 hand-over, which expects
//! the holder's version); any other claim fails the whole append with [`Claimed`], and the
//! caller reads again and finds whose the record is. Rebuilds do not check: they apply a claim
//! as a put, since the log already says who won.

use std::sync::Arc;

use sqlx::types::Json;
use sqlx::{AssertSqlSafe, QueryBuilder};
use syncledger_core::log::{Claimed, StreamAppend};
use syncledger_core::projection::Row;
use uuid::Uuid;

use super::{Conn, Db};
use crate::StoreError;

/// For each event of `appends`, the streams its caller's append writes to.
pub(super) fn scopes(appends: &[StreamAppend], units: &[usize]) -> Vec<Arc<Vec<Uuid>>> {
    let mut scopes = Vec::new();
    let mut parts = appends.iter();
    for &n in units {
        let unit: Vec<&StreamAppend> = parts.by_ref().take(n).collect();
        let streams = Arc::new(unit.iter().map(|p| p.stream_id).collect::<Vec<_>>());
        for part in unit {
            scopes.extend(part.events.iter().map(|_| streams.clone()));
        }
    }
    scopes
}

/// Writes each claimed row unless another entity holds its key and the claim's own append does
/// not write to that entity's stream; then fails with [`Claimed`]. One conditional upsert per
/// claim (links are few): on PostgreSQL a concurrent claim of the same key waits for this one's
/// commit and then sees its holder, so two first claims cannot both win.
pub(super) async fn check(
    tx: &mut Conn,
    table: &str,
    claims: &[(Row, Uuid, &[Uuid])],
) -> Result<(), StoreError> {
    for (row, claimant, scope) in claims {
        let mut upsert = QueryBuilder::<Db>::new(format!(
            "INSERT INTO {table} (key, tenant, entity_id, sort_key, doc, n) VALUES ("
        ));
        let mut values = upsert.separated(", ");
        values
            .push_bind(&row.key)
            .push_bind(&row.tenant)
            .push_bind(*claimant)
            .push_bind(&row.sort_key)
            .push_bind(Json(&row.doc))
            .push_bind(row.n);
        upsert.push(format!(
            ") ON CONFLICT (key) DO UPDATE SET tenant = excluded.tenant, \
             entity_id = excluded.entity_id, sort_key = excluded.sort_key, doc = excluded.doc, \
             n = excluded.n WHERE {table}.entity_id IS NULL \
             OR {table}.entity_id = excluded.entity_id OR {table}.entity_id IN ("
        ));
        let mut streams = upsert.separated(", ");
        for stream in scope.iter() {
            streams.push_bind(*stream);
        }
        upsert.push(") RETURNING key");
        let taken: Option<String> = upsert.build_query_scalar().fetch_optional(&mut *tx).await?;
        if taken.is_some() {
            continue;
        }
        // Refused: the row is there and names an entity (a row without one is always taken).
        let holder: Uuid = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT entity_id FROM {table} WHERE key = $1"
        )))
        .bind(&row.key)
        .fetch_one(&mut *tx)
        .await?;
        return Err(StoreError::Claimed(Claimed {
            projection: table.to_string(),
            key: row.key.clone(),
            holder,
            claimant: *claimant,
        }));
    }
    Ok(())
}
