//! `webhook_receipts`: which webhooks have been recorded, by the sender's own id.
//!
//! CONTRACT §2: the same `event_id` from the same tenant and system is acknowledged again and
//! recorded once, whatever else of the notice differs (a sender that stamps `occurred_at` at
//! delivery time sends a different body each time). One row per `(tenant, system, event_id)`,
//! kept by the first `ChangeObserved` that carried it. Inline, so the intake sees a receipt the
//! moment the append that made it commits.
//!
//! A receipt is only ever asked "is it there?", so its row is as narrow as the table allows
//! (issue 32): the key is a 16-byte digest of the three parts ([`key`], 32 hex characters), and
//! the row holds nothing else but its tenant (no entity, an empty sort key, a `null` doc).
//! Rows written before that (key `tenant/system/event_id` in clear, a sort key equal to it and a
//! doc saying where the webhook went) are still recognised: the intake looks up both forms
//! ([`legacy_key`]) until a rebuild of the projection rewrites them all in the narrow form.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{decode, row};
use crate::events::SyncEvent;
use crate::log::RecordedEvent;
use crate::projection::{Lookups, Mode, Projection, RowOp};

pub const NAME: &str = "webhook_receipts";

/// The row key of one webhook: the first 16 bytes of the SHA-256 of its tenant, system and
/// event id, each preceded by its length (so no two different triples share an input), in hex.
/// 128 bits: a chance of about 1 in 10^20 that two of a billion webhooks share a key (the later
/// one would be taken for a redelivery).
pub fn key(tenant: &str, system: &str, webhook_event_id: &str) -> String {
    let mut digest = Sha256::new();
    for part in [tenant, system, webhook_event_id] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    hex::encode(&digest.finalize()[..16])
}

/// The key receipts had before they were narrowed (read by the intake, never written).
pub fn legacy_key(tenant: &str, system: &str, webhook_event_id: &str) -> String {
    format!("{tenant}/{system}/{webhook_event_id}")
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
        vec![RowOp::PutIfAbsent(row(
            event,
            key,
            None,
            String::new(),
            Value::Null,
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Action, ChangeObserved};
    use crate::projections::testkit::recorded;

    fn observed(system: &str, webhook_event_id: &str) -> RecordedEvent {
        recorded(
            7,
            SyncEvent::ChangeObserved(ChangeObserved {
                entity_type: "customer".into(),
                system: system.into(),
                collection: "contacts".into(),
                record_id: "c-42".into(),
                action: Action::Created,
                webhook_event_id: webhook_event_id.into(),
                occurred_at: chrono::Utc::now(),
            }),
        )
    }

    #[test]
    fn the_first_observation_of_a_webhook_keeps_a_narrow_receipt() {
        let event = observed("crm", "e-123");
        let ops = WebhookReceipts.apply(&event);
        let [RowOp::PutIfAbsent(row)] = ops.as_slice() else {
            panic!("one PutIfAbsent, got {ops:?}")
        };
        assert_eq!(row.key, key(&event.meta.tenant, "crm", "e-123"));
        assert_eq!(row.key.len(), 32);
        assert_eq!(
            (row.entity_id, row.sort_key.as_str(), &row.doc, row.n),
            (None, "", &Value::Null, 0)
        );
        assert_eq!(row.tenant, event.meta.tenant);
    }

    #[test]
    fn keys_tell_tenant_system_and_id_apart_even_when_the_parts_could_be_cut_differently() {
        assert_eq!(key("acme", "crm", "e-1"), key("acme", "crm", "e-1"));
        assert_ne!(key("acme", "crm", "e-1"), key("acme", "crm", "e-2"));
        assert_ne!(key("acme", "crm", "e-1"), key("acme", "erp", "e-1"));
        assert_ne!(key("acme", "crm", "e-1"), key("other", "crm", "e-1"));
        // The clear-text form could not tell these apart; the length prefixes do.
        assert_eq!(legacy_key("a/b", "c", "d"), legacy_key("a", "b/c", "d"));
        assert_ne!(key("a/b", "c", "d"), key("a", "b/c", "d"));
        // And a narrow key never looks like a legacy one (which always holds a `/`).
        assert!(!key("acme", "crm", "e-1").contains('/'));
    }
}
