//! What the scheduler reads of the pending queue: the entities with work due, and the entities
//! holding a write a dead process never saw answered.

use std::collections::{BTreeSet, HashSet};

use chrono::Utc;
use syncledger_core::projections::pending_queue;
use syncledger_store::{RowQuery, Store};
use uuid::Uuid;

use crate::error::EngineError;

/// Queue rows read per page while looking for lost writes.
const PAGE: i64 = 1000;

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
            if row.key.starts_with(pending_queue::WRITE_PREFIX)
                && row.doc["kind"] == "WriteRequested"
            {
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
