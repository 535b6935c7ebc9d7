//! `webhook_receipts`: which webhooks have been recorded, by the sender's own id.
//!
//! CONTRACT §2: the same `event_id` from the same tenant and system is acknowledged again and
//! recorded once, whatever else of the notice differs (a sender that stamps `occurred_at` at
//! delivery time sends a different body each time). One row per `(tenant, system, event_id)`,
//! kept by the first `ChangeObserved` that carried it. Inline, so the intake sees a receipt the
//! moment the append that made it commits.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, doc, row};
use crate::events::SyncEvent;
use crate::log::{Position, RecordedEvent};
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "webhook_receipts";

/// The row key of one webhook.
pub fn key(tenant: &str, system: &str, webhook_event_id: &str) -> String {
    format!("{tenant}/{system}/{webhook_event_id}")
}

/// What a receipt row's doc holds: where the webhook went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub event_id: Uuid,
    pub entity_id: Uuid,
    pub position: Position,
}

pub struct WebhookReceipts;

impl Projection for WebhookReceipts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::Inline
    }

    /// Only ever looked up by the sender's event id.
    fn lookups(&self) -> Lookups {
        Lookups::KEY_ONLY
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let Some(SyncEvent::ChangeObserved(observed)) = decode(event) else {
            return vec![];
        };
        let key = key(
            &event.meta.tenant,
            &observed.system,
            &observed.webhook_event_id,
        );
        let receipt = Receipt {
            event_id: event.event_id,
            entity_id: event.stream_id,
            position: event.position,
        };
        vec![RowOp::PutIfAbsent(row(
            event,
            key.clone(),
            Some(event.stream_id),
            key,
            doc(&receipt),
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Action, ChangeObserved};
    use crate::projections::testkit::recorded;

    #[test]
    fn the_first_observation_of_a_webhook_keeps_the_receipt() {
        let event = recorded(
            7,
            SyncEvent::ChangeObserved(ChangeObserved {
                entity_type: "customer".into(),
                system: "crm".into(),
                collection: "contacts".into(),
                record_id: "c-42".into(),
                action: Action::Created,
                webhook_event_id: "e-123".into(),
                occurred_at: chrono::Utc::now(),
            }),
        );
        let ops = WebhookReceipts.apply(&event);
        let [RowOp::PutIfAbsent(row)] = ops.as_slice() else {
            panic!("one PutIfAbsent, got {ops:?}")
        };
        assert_eq!(row.key, key(&event.meta.tenant, "crm", "e-123"));
        let receipt: Receipt = serde_json::from_value(row.doc.clone()).unwrap();
        assert_eq!(
            (receipt.event_id, receipt.position),
            (event.event_id, event.position)
        );
    }
}
