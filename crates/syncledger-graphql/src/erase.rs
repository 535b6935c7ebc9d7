//! `eraseEntity(id, reason)` (CONTRACT §7, docs/privacy.md): the entity's data keys destroyed,
//! `EntityErased` appended, its value-bearing rows deleted, and the database searched for its
//! values; the answer is the receipt. Admin token only; idempotent.

use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};
use syncledger_store::StoreError;

use crate::ApiContext;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::query::parse_id;

/// What an erasure did and found.
#[derive(SimpleObject)]
pub struct ErasureReceipt {
    pub entity_id: ID,
    /// When the entity's keys were destroyed (the `EntityErased` event's time).
    pub erased_at: DateTime<Utc>,
    pub reason: String,
    /// True only when a check of every table (and, on SQLite, of the database file) found none
    /// of the values the entity held.
    pub verified: bool,
    /// Where a value remains: table names, `database file` or `database WAL` (SQLite). Empty
    /// when verified.
    pub residue: Vec<String>,
}

/// Longest reason kept.
pub const MAX_REASON_CHARS: usize = 500;

pub async fn erase(
    ledger: &ApiContext,
    caller: &Caller,
    id: &ID,
    reason: &str,
) -> ApiResult<ErasureReceipt> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad_input(format!(
            "an erasure needs a reason of 1 to {MAX_REASON_CHARS} characters"
        )));
    }
    let entity_id = parse_id(id)?;
    if !ledger.store().seals_values() {
        return Err(ApiError::bad_input(
            "values are not sealed in this database (no master key): nothing can be erased",
        ));
    }
    let receipt = match ledger
        .store()
        .erase_entity(entity_id, reason, caller.name())
        .await
    {
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("entity")),
        other => other?,
    };
    Ok(ErasureReceipt {
        entity_id: ID(receipt.entity_id.to_string()),
        erased_at: receipt.erased_at,
        reason: receipt.reason,
        verified: receipt.verified,
        residue: receipt.residue,
    })
}
