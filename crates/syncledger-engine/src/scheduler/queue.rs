//! What the scheduler reads of the pending queue: the entities with work due, and the entities
//! holding a write a dead process never saw answered.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::Utc;
use syncledger_core::projections::pending_queue;
use syncledger_store::{RowQuery, Store};
use uuid::Uuid;

use super::fair::Due;
use crate::error::EngineError;

/// Queue rows read per page while looking for lost writes.
const PAGE: i64 = 1000;
/// The oldest due rows of all tenants looked at for tenants the configuration no longer lists.
const UNLISTED_SCAN: i64 = 16;

/// The entities of the oldest `rows` due queue rows, oldest first.
pub(crate) async fn due_entities(store: &Store, rows: i64) -> Result<Vec<Uuid>, EngineError> {
    let query = RowQuery {
        tenant: None,
        sort_key_from: None,
        sort_key_to: Some(pending_queue::due_sort_key(Utc::now())),
        after: None,
        limit: rows,
    };
    let mut seen = HashSet::new();
    let rows = store.row_entities(pending_queue::NAME, &query).await?;
    Ok(rows
        .into_iter()
        .flatten()
        .filter(|id| seen.insert(*id))
        .collect())
}

/// The due work of each tenant (`(tenant, queue rows to read)`): its entities, oldest first, each
/// with the systems its due rows name (the record to fetch, the write's target). Read per tenant
/// (`Store::rows_of_tenants`), so a tenant with a long queue never hides another's work.
pub(crate) async fn due_work(
    store: &Store,
    tenants: &[(String, i64)],
) -> Result<Vec<Due>, EngineError> {
    let due = pending_queue::due_sort_key(Utc::now());
    let mut rows = store
        .rows_of_tenants(pending_queue::NAME, Some(&due), tenants)
        .await?;
    // Work of a tenant no longer configured still ends (as a dead letter, in its job): the
    // oldest due rows of all tenants are looked at too, and those of unlisted tenants kept.
    let oldest = RowQuery {
        tenant: None,
        sort_key_from: None,
        sort_key_to: Some(due),
        after: None,
        limit: UNLISTED_SCAN,
    };
    let listed: HashSet<&str> = tenants.iter().map(|(t, _)| t.as_str()).collect();
    let unlisted: Vec<_> = store
        .rows(pending_queue::NAME, &oldest)
        .await?
        .into_iter()
        .filter(|row| !listed.contains(row.tenant.as_str()))
        .collect();
    rows.extend(unlisted);
    let mut work: Vec<Due> = Vec::new();
    let mut at: HashMap<Uuid, usize> = HashMap::new();
    for row in rows {
        let Some(entity) = row.entity_id else {
            continue;
        };
        let system = row_system(&row.key, row.doc);
        let i = *at.entry(entity).or_insert_with(|| {
            work.push(Due {
                entity,
                tenant: row.tenant,
                systems: Vec::new(),
            });
            work.len() - 1
        });
        if let Some(system) = system
            && !work[i].systems.contains(&system)
        {
            work[i].systems.push(system);
        }
    }
    Ok(work)
}

/// The system a queue row names: a trigger's record's origin, or a write's target. A row that
/// names none (a person's retry of a dead letter) or cannot be read names none.
fn row_system(key: &str, doc: serde_json::Value) -> Option<String> {
    if key.starts_with(pending_queue::WRITE_PREFIX) {
        serde_json::from_value::<pending_queue::PendingWrite>(doc)
            .ok()
            .map(|w| w.target_system)
    } else {
        serde_json::from_value::<pending_queue::Trigger>(doc)
            .ok()
            .and_then(|t| t.system)
    }
}

/// Entities holding a write that was requested and never answered (its process died, or
/// another live process has it in flight), found in one pass over the pending queue.
pub(crate) async fn entities_with_unanswered_writes(
    store: &Store,
) -> Result<Vec<Uuid>, EngineError> {
    let mut entities = BTreeSet::new();
    let mut after = None;
    loop {
        let query = RowQuery {
            tenant: None,
            sort_key_from: None,
            sort_key_to: None,
            after,
            limit: PAGE,
        };
        let page = store.rows(pending_queue::NAME, &query).await?;
        for row in &page {
            if !row.key.starts_with(pending_queue::WRITE_PREFIX) {
                continue;
            }
            let write = serde_json::from_value::<pending_queue::PendingWrite>(row.doc.clone());
            if write.is_ok_and(|w| w.unanswered()) {
                entities.extend(row.entity_id);
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => {
                after = Some((last.sort_key.clone(), last.key.clone()))
            }
            _ => return Ok(entities.into_iter().collect()),
        }
    }
}
