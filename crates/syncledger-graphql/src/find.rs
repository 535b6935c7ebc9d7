//! `findEntities`: the entities whose records hold a match-key value (an email), for a person
//! who knows the customer but not the record's id in any system.
//!
//! It reads `match_index`, the inline projection the engine itself uses to link records by
//! their match keys (G8): for each entity type, each of its systems and each match key, one
//! keyed range read of the rows holding the value's hash. A row remembers the stream that saw
//! the record; the ID mapping says who holds the record now, and wins when it differs. The
//! index holds only match-key fields, so other fields are not searchable here (by design: it
//! is what keeps the index small).

use std::collections::BTreeSet;

use serde_json::Value;
use syncledger_core::mapping::match_value_hash;
use syncledger_core::projections::{id_mappings, match_index};
use syncledger_store::RowQuery;
use uuid::Uuid;

use crate::ApiContext;
use crate::auth::Caller;
use crate::entity::Entity;
use crate::error::ApiResult;
use crate::rows::doc;

/// Most entities one search answers (a match key is meant to identify one record).
pub const MAX_FOUND: usize = 20;

/// The visible entities of `tenant` with a record holding `value` in a match-key field, in the
/// order the index lists them.
pub async fn find_entities(
    ledger: &ApiContext,
    caller: &Caller,
    tenant: &str,
    value: &str,
) -> ApiResult<Vec<Entity>> {
    let Some(hash) = match_value_hash(&Value::String(value.to_string())) else {
        return Ok(Vec::new());
    };
    if !caller.sees(tenant) {
        return Ok(Vec::new());
    }
    let mut found: Vec<Uuid> = Vec::new();
    let mut seen = BTreeSet::new();
    for entity in &ledger.config().entities {
        for system in entity.systems.keys() {
            for field in &entity.match_keys {
                let sort_key = match_index::sort_key(system, field, &hash);
                let query = RowQuery {
                    tenant: Some(tenant.to_string()),
                    sort_key_from: Some(sort_key.clone()),
                    sort_key_to: Some(sort_key),
                    after: None,
                    limit: MAX_FOUND as i64,
                };
                for row in ledger.store().rows(match_index::NAME, &query).await? {
                    let record: match_index::SeenValue = doc(&row)?;
                    let key = id_mappings::key(tenant, &record.system, &record.record_id);
                    let owner = ledger
                        .store()
                        .row(id_mappings::NAME, &key)
                        .await?
                        .and_then(|m| m.entity_id)
                        .unwrap_or(record.entity_id);
                    if seen.insert(owner) {
                        found.push(owner);
                    }
                }
            }
        }
    }
    let mut entities = Vec::new();
    for id in found.into_iter().take(MAX_FOUND) {
        entities.push(Entity::load(ledger, caller, id).await?);
    }
    Ok(entities)
}
