//! `findEntities`: the entities whose records hold a match-key value (an email), or every whole
//! word of a text ("Alan Turing", "turing") in their text fields, for a person who knows the
//! customer but not the record's id in any system.
//!
//! Two lookups, exact matches first:
//!
//! - `match_index`, the inline projection the engine itself uses to link records by their match
//!   keys (G8): for each entity type, each of its systems and each match key, one keyed range
//!   read of the rows holding the value's hash.
//! - `word_index`: for each whole word of the text (`lookup::words`), one keyed range read of the
//!   rows filed under its digest (`lookup::term_digest`); an entity is found when each word is in
//!   one of its records (any text field, any system).
//!
//! A row remembers the stream that saw the record; the ID mapping says who holds the record now,
//! and wins when it differs (a stub stream redirected to the real entity never answers).

use std::collections::BTreeSet;

use serde_json::Value;
use syncledger_core::lookup::{term_digest, words};
use syncledger_core::mapping::match_value_hash;
use syncledger_core::projections::{id_mappings, match_index, word_index};
use syncledger_store::RowQuery;
use uuid::Uuid;

use crate::ApiContext;
use crate::auth::Caller;
use crate::entity::Entity;
use crate::error::{ApiError, ApiResult};
use crate::rows::doc;

/// Most entities one search answers (a match key is meant to identify one record).
pub const MAX_FOUND: usize = 20;

/// Most records read for one word: a word as common as a first name is cut off here, and the
/// other words of the search narrow what was read.
const MAX_PER_WORD: i64 = 500;

/// The visible entities of `tenant` with a record holding `value` in a match-key field, then
/// those with every whole word of `value` in their records' text fields; at most [`MAX_FOUND`].
pub async fn find_entities(
    ledger: &ApiContext,
    caller: &Caller,
    tenant: &str,
    value: &str,
) -> ApiResult<Vec<Entity>> {
    if !caller.sees(tenant) {
        return Ok(Vec::new());
    }
    let mut found = by_match_key(ledger, tenant, value).await?;
    if found.len() < MAX_FOUND {
        for owner in by_words(ledger, tenant, value).await? {
            if !found.contains(&owner) {
                found.push(owner);
            }
        }
    }
    let mut entities = Vec::new();
    for id in found.into_iter().take(MAX_FOUND) {
        entities.push(Entity::load(ledger, caller, id).await?);
    }
    Ok(entities)
}

/// Who holds `record_id` in `system` now: the ID mapping's entity, else the stream that saw it.
async fn owner(
    ledger: &ApiContext,
    tenant: &str,
    system: &str,
    record_id: &str,
    seen_by: Uuid,
) -> ApiResult<Uuid> {
    let key = id_mappings::key(tenant, system, record_id);
    Ok(ledger
        .store()
        .row(id_mappings::NAME, &key)
        .await?
        .and_then(|m| m.entity_id)
        .unwrap_or(seen_by))
}

/// A tenant's rows of `projection` filed under exactly `sort_key`.
fn exactly(tenant: &str, sort_key: String, limit: i64) -> RowQuery {
    RowQuery {
        tenant: Some(tenant.to_string()),
        sort_key_from: Some(sort_key.clone()),
        sort_key_to: Some(sort_key),
        after: None,
        limit,
    }
}

/// The entities with a record holding `value` in a match-key field, in the order the index
/// lists them.
async fn by_match_key(ledger: &ApiContext, tenant: &str, value: &str) -> ApiResult<Vec<Uuid>> {
    let Some(hash) = match_value_hash(&Value::String(value.to_string())) else {
        return Ok(Vec::new());
    };
    let mut found: Vec<Uuid> = Vec::new();
    let mut seen = BTreeSet::new();
    for entity in &ledger.config().entities {
        for system in entity.systems.keys() {
            for field in &entity.match_keys {
                let query = exactly(
                    tenant,
                    match_index::sort_key(system, field, &hash),
                    MAX_FOUND as i64,
                );
                for row in ledger.store().rows(match_index::NAME, &query).await? {
                    let record: match_index::SeenValue = doc(&row)?;
                    let owner = owner(
                        ledger,
                        tenant,
                        &record.system,
                        &record.record_id,
                        record.entity_id,
                    )
                    .await?;
                    if seen.insert(owner) {
                        found.push(owner);
                    }
                }
            }
        }
    }
    Ok(found)
}

/// The entities with every whole word of `text` in their records' text fields, ordered by the
/// log position at which the first word was last seen (the most recent first).
async fn by_words(ledger: &ApiContext, tenant: &str, text: &str) -> ApiResult<Vec<Uuid>> {
    let terms = words(text);
    let mut candidates: Option<Vec<(Uuid, i64)>> = None;
    for term in &terms {
        let query = exactly(tenant, term_digest(term), MAX_PER_WORD);
        let mut holders: Vec<(Uuid, i64)> = Vec::new();
        for row in ledger.store().rows(word_index::NAME, &query).await? {
            let seen = word_index::SeenWord::from_row(tenant, &row.key, row.entity_id, &row.doc)
                .ok_or_else(|| ApiError::internal(format!("word_index row {:?}", row.key)))?;
            let owner = owner(
                ledger,
                tenant,
                &seen.system,
                &seen.record_id,
                seen.entity_id,
            )
            .await?;
            match holders.iter_mut().find(|(id, _)| *id == owner) {
                Some(held) => held.1 = held.1.max(seen.position.0),
                None => holders.push((owner, seen.position.0)),
            }
        }
        candidates = Some(match candidates {
            None => holders,
            Some(before) => before
                .into_iter()
                .filter(|(id, _)| holders.iter().any(|(h, _)| h == id))
                .collect(),
        });
        if candidates.as_ref().is_some_and(Vec::is_empty) {
            break;
        }
    }
    let mut found = candidates.unwrap_or_default();
    found.sort_by_key(|(_, position)| std::cmp::Reverse(*position));
    Ok(found.into_iter().map(|(id, _)| id).collect())
}
