//! Recovery at start-up: writes a dead process asked for and never saw answered are settled
//! before any other work.
//!
//! Order matters for creates. The record such a create made is found by its match keys or by
//! its idempotency key, and linked. Until then its webhooks open a stream of their own, and the
//! only way that stream recognises the record as the sync's own echo is the match-key
//! fingerprint of the create. If a user changed the record's match keys meanwhile, deciding that
//! stream first would take the record for a new one and create its twin in the origin: a
//! duplicate (G2, G4). Settling the lost writes first links the record before its echo is
//! looked at.

use std::collections::BTreeSet;

use syncledger_core::projections::pending_queue;
use syncledger_store::RowQuery;
use uuid::Uuid;

use crate::error::EngineError;
use crate::ledger::Ledger;

/// Queue rows read per page while looking for lost writes.
const PAGE: i64 = 1000;

impl Ledger {
    /// Entities holding a write that was requested and never answered (its process died, or
    /// another live process has it in flight), found in one pass over the pending queue.
    pub async fn entities_with_unanswered_writes(&self) -> Result<Vec<Uuid>, EngineError> {
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
            let page = self.store().rows(pending_queue::NAME, &query).await?;
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

    /// Works every entity holding an unanswered write (see the module doc). Entities another
    /// live process holds are left to it; one entity failing does not stop the others. Returns
    /// the number of entities worked.
    pub async fn resume_unanswered_writes(&self) -> Result<usize, EngineError> {
        let mut worked = 0;
        for entity in self.entities_with_unanswered_writes().await? {
            match self.work_entity(entity).await {
                Ok(true) => worked += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(entity = %entity, error = %e, "resuming an unanswered write failed")
                }
            }
        }
        Ok(worked)
    }
}
