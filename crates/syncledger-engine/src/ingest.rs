//! Webhooks in: from a signed body to observed changes durably in the log (CONTRACT §2).
//!
//! Transport-free: the HTTP handler passes the raw body and the signature header and maps the
//! [`IngestError`] to a status. A rejected request records nothing; an accepted batch is appended
//! in one transaction, so it is recorded whole or not at all.
//!
//! Deduplication uses the log's own idempotency: the event id of an observed change is a UUID v7
//! whose time part is the webhook's `occurred_at` and whose other bits hash `(tenant, system,
//! event_id)`. The same webhook delivered twice has the same id, and appending a stored id is a no-op.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use syncledger_core::events::{Action, ChangeObserved, SyncEvent, entity_id_for_record};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_core::projections::id_mappings;
use syncledger_store::StoreError;
use uuid::Uuid;

use crate::ledger::Ledger;

/// Why a webhook was refused; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unknown {0}")]
    UnknownTarget(String),
    #[error("bad or missing signature")]
    BadSignature,
    #[error("{0}")]
    Malformed(String),
    #[error("store unavailable")]
    Unavailable,
}

impl IngestError {
    /// The label counted in `syncledger_webhook_rejects_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::UnknownTarget(_) => "unknown",
            IngestError::BadSignature => "signature",
            IngestError::Malformed(_) => "malformed",
            IngestError::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Notice {
    event_id: String,
    collection: String,
    action: Action,
    record_id: String,
    occurred_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Body {
    One(Notice),
    Many(Vec<Notice>),
}

/// What an accepted webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Observed changes appended now.
    pub recorded: usize,
    /// Notices already in the log (redeliveries).
    pub duplicates: usize,
}

impl Ledger {
    /// Checks, parses and records one webhook request.
    pub async fn ingest(
        &self,
        tenant: &str,
        system: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Accepted, IngestError> {
        let tenant_cfg = self
            .config()
            .tenant(tenant)
            .ok_or_else(|| IngestError::UnknownTarget(format!("tenant {tenant}")))?;
        let system_cfg = tenant_cfg
            .systems
            .get(system)
            .ok_or_else(|| IngestError::UnknownTarget(format!("system {system}")))?;
        if !syncledger_connector::signature::verify(system_cfg.webhook_secret.expose().as_bytes(), body, signature) {
            return Err(IngestError::BadSignature);
        }
        let notices = match serde_json::from_slice::<Body>(body) {
            Ok(Body::One(n)) => vec![n],
            Ok(Body::Many(v)) if v.is_empty() => return Err(IngestError::Malformed("empty batch".into())),
            Ok(Body::Many(v)) => v,
            Err(e) => return Err(IngestError::Malformed(describe_json_error(body, e))),
        };
        let mut observed = Vec::with_capacity(notices.len());
        for notice in notices {
            if notice.event_id.is_empty() || notice.record_id.is_empty() {
                return Err(IngestError::Malformed("event_id and record_id must not be empty".into()));
            }
            let entity = self
                .config()
                .entity_for(system, &notice.collection)
                .ok_or_else(|| IngestError::UnknownTarget(format!("collection {}", notice.collection)))?;
            observed.push((entity.name.clone(), notice));
        }
        self.record_observed(tenant, system, observed).await
    }

    async fn record_observed(
        &self,
        tenant: &str,
        system: &str,
        observed: Vec<(String, Notice)>,
    ) -> Result<Accepted, IngestError> {
        let store = self.store();
        let mut appends: Vec<StreamAppend> = Vec::new();
        let mut ids = Vec::new();
        for (entity_type, n) in observed {
            let event_id = observed_event_id(tenant, system, &n.event_id, n.occurred_at);
            if ids.contains(&event_id) {
                continue; // the same notice twice in one batch
            }
            ids.push(event_id);
            let mapped = store
                .row(id_mappings::NAME, &id_mappings::key(tenant, system, &n.record_id))
                .await
                .map_err(|_| IngestError::Unavailable)?;
            let stream_id = mapped
                .and_then(|row| row.entity_id)
                .unwrap_or_else(|| entity_id_for_record(tenant, &entity_type, system, &n.record_id));
            let event = SyncEvent::ChangeObserved(ChangeObserved {
                entity_type,
                system: system.into(),
                collection: n.collection,
                record_id: n.record_id,
                action: n.action,
                webhook_event_id: n.event_id,
                occurred_at: n.occurred_at,
            });
            let meta = EventMeta { tenant: tenant.into(), correlation_id: Some(event_id), causation_id: None };
            let new = event.to_new_with_id(event_id, meta);
            match appends.iter_mut().find(|a| a.stream_id == stream_id) {
                Some(a) => a.events.push(new),
                None => appends.push(StreamAppend { stream_id, expected: ExpectedVersion::Any, events: vec![new] }),
            }
        }
        // Redeliveries are dropped before the append: a batch mixing old and new notices records
        // the new ones (the store refuses a partly duplicate append).
        let stored = store.events_by_id(&ids).await.map_err(|_| IngestError::Unavailable)?;
        let duplicates = stored.len();
        for a in &mut appends {
            a.events.retain(|e| !stored.iter().any(|s| s.event_id == e.event_id));
        }
        appends.retain(|a| !a.events.is_empty());
        let recorded = appends.iter().map(|a| a.events.len()).sum();
        if recorded > 0 {
            match store.append(appends).await {
                Ok(_) => self.wake_workers(),
                // A concurrent redelivery won the race: the notices are in the log, which is the point.
                Err(StoreError::PartialDuplicate) => {}
                Err(_) => return Err(IngestError::Unavailable),
            }
        }
        metrics::counter!("syncledger_webhooks_accepted_total").increment(recorded as u64);
        Ok(Accepted { recorded, duplicates })
    }
}

/// The stable id of one observed change (see the module doc).
pub fn observed_event_id(tenant: &str, system: &str, webhook_event_id: &str, occurred_at: DateTime<Utc>) -> Uuid {
    let digest = Sha256::digest(format!("{tenant}\u{1f}{system}\u{1f}{webhook_event_id}").as_bytes());
    let mut rand = [0u8; 10];
    rand.copy_from_slice(&digest[..10]);
    let millis = occurred_at.timestamp_millis().max(0) as u64;
    uuid::Builder::from_unix_timestamp_millis(millis, &rand).into_uuid()
}

fn describe_json_error(body: &[u8], e: serde_json::Error) -> String {
    // The untagged enum hides the field-level message; parse again as one notice to name it.
    match serde_json::from_slice::<serde_json::Value>(body) {
        Err(e) => format!("body is not JSON: {e}"),
        Ok(serde_json::Value::Object(_)) => match serde_json::from_slice::<Notice>(body) {
            Err(inner) => format!("invalid webhook: {inner}"),
            Ok(_) => format!("invalid webhook: {e}"),
        },
        Ok(serde_json::Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                if let Err(inner) = serde_json::from_value::<Notice>(item) {
                    return format!("invalid webhook at index {i}: {inner}");
                }
            }
            format!("invalid webhook batch: {e}")
        }
        Ok(_) => "body must be a JSON object or an array of objects".into(),
    }
}
