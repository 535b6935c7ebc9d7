//! The intake room: webhooks in, from a signed body to observed changes durably in the log
//! (CONTRACT §2). It owns nothing but its view of the store and the configuration; it tells the
//! scheduler about new work only through the wake-up.
//!
//! Transport-free: the HTTP handler passes the raw body and the signature header and maps the
//! [`IngestError`] to a status. A rejected request records nothing; an accepted batch is appended
//! in one transaction, so it is recorded whole or not at all.
//!
//! Deduplication is by `(tenant, system, event_id)` alone, through the inline `webhook_receipts`
//! projection (keyed by a digest of the three; receipts written before that are found by their
//! clear-text key): a notice with a receipt is acknowledged and not recorded again. Each stream is
//! appended with the version the intake read, so two deliveries of one webhook racing each other
//! cannot both pass the receipt check: one append wins, the other retries and finds the receipt.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use syncledger_connector::record_id;
use syncledger_core::events::{Action, ChangeObserved, SyncEvent};
use syncledger_core::log::EventMeta;
use syncledger_core::projections::webhook_receipts;
use syncledger_store::StoreError;
use uuid::Uuid;

use crate::context::Context;
use crate::observe::{self, Observation};

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

/// Webhooks to the log.
#[derive(Clone)]
pub(crate) struct Intake {
    ctx: Context,
}

impl Intake {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Checks, parses and records one webhook request.
    pub async fn ingest(
        &self,
        tenant: &str,
        system: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Accepted, IngestError> {
        let tenant_cfg = self
            .ctx
            .config
            .tenant(tenant)
            .ok_or_else(|| IngestError::UnknownTarget(format!("tenant {tenant}")))?;
        let system_cfg = tenant_cfg
            .systems
            .get(system)
            .ok_or_else(|| IngestError::UnknownTarget(format!("system {system}")))?;
        if !syncledger_connector::signature::verify(
            system_cfg.webhook_secret.expose().as_bytes(),
            body,
            signature,
        ) {
            return Err(IngestError::BadSignature);
        }
        let notices = match serde_json::from_slice::<Body>(body) {
            Ok(Body::One(n)) => vec![n],
            Ok(Body::Many(v)) if v.is_empty() => {
                return Err(IngestError::Malformed("empty batch".into()));
            }
            Ok(Body::Many(v)) => v,
            Err(e) => return Err(IngestError::Malformed(describe_json_error(body, e))),
        };
        let mut observed = Vec::with_capacity(notices.len());
        for notice in notices {
            if notice.event_id.is_empty() || notice.record_id.is_empty() {
                return Err(IngestError::Malformed(
                    "event_id and record_id must not be empty".into(),
                ));
            }
            // Ids are data, never path: one that could steer a request is refused here.
            let max = self.ctx.config.server.max_record_id_bytes;
            if let Err(problem) = record_id::check(&notice.record_id, max) {
                return Err(IngestError::Malformed(format!("record_id: {problem}")));
            }
            if notice.event_id.len() > max {
                return Err(IngestError::Malformed(format!(
                    "event_id: {} bytes long, over the limit of {max}",
                    notice.event_id.len()
                )));
            }
            let entity = self
                .ctx
                .config
                .entity_for(system, &notice.collection)
                .ok_or_else(|| {
                    IngestError::UnknownTarget(format!("collection {}", notice.collection))
                })?;
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
        for _ in 0..RECORD_ATTEMPTS {
            match self.try_record(tenant, system, &observed).await {
                Err(Attempt::Raced) => continue,
                Err(Attempt::Failed(e)) => return Err(e),
                Ok(accepted) => {
                    metrics::counter!("syncledger_webhooks_accepted_total")
                        .increment(accepted.recorded as u64);
                    return Ok(accepted);
                }
            }
        }
        Err(IngestError::Unavailable)
    }

    /// One try: drop what has a receipt, append the rest with each stream's version as read
    /// (`observe::route`, the door the initial sync's discoveries use too).
    /// A concurrent append to one of the streams (another delivery of the same webhook, or a
    /// worker) makes the try fail as `Raced`; the next try sees its receipts. The receipts, the
    /// id mappings and the streams' versions are each read in one query for the whole batch.
    async fn try_record(
        &self,
        tenant: &str,
        system: &str,
        observed: &[(String, Notice)],
    ) -> Result<Accepted, Attempt> {
        let store = &self.ctx.store;
        let unavailable = |_| Attempt::Failed(IngestError::Unavailable);
        // Each notice's receipt in its narrow form, and in the form receipts were written in
        // before (until a rebuild of the projection rewrites them): one query for both.
        let receipt_keys: Vec<[String; 2]> = observed
            .iter()
            .map(|(_, n)| {
                [
                    webhook_receipts::key(tenant, system, &n.event_id),
                    webhook_receipts::legacy_key(tenant, system, &n.event_id),
                ]
            })
            .collect();
        let receipts: HashSet<String> = store
            .rows_by_keys(webhook_receipts::NAME, receipt_keys.as_flattened())
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|row| row.key)
            .collect();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut fresh: Vec<(&String, &Notice)> = Vec::new();
        for ((entity_type, n), keys) in observed.iter().zip(&receipt_keys) {
            if keys.iter().any(|k| receipts.contains(k)) || !seen.insert(n.event_id.as_str()) {
                continue;
            }
            fresh.push((entity_type, n));
        }
        let duplicates = observed.len() - fresh.len();
        if fresh.is_empty() {
            return Ok(Accepted {
                recorded: 0,
                duplicates,
            });
        }
        let mut filed = Vec::with_capacity(fresh.len());
        for (entity_type, n) in &fresh {
            let event = SyncEvent::ChangeObserved(ChangeObserved {
                entity_type: (*entity_type).clone(),
                system: system.into(),
                collection: n.collection.clone(),
                record_id: n.record_id.clone(),
                action: n.action,
                webhook_event_id: n.event_id.clone(),
                occurred_at: n.occurred_at,
            });
            let event_id = Uuid::now_v7();
            let meta = EventMeta {
                tenant: tenant.into(),
                correlation_id: Some(event_id),
                causation_id: None,
            };
            filed.push(Observation {
                entity_type,
                system,
                record_id: &n.record_id,
                event: event.to_new_with_id(event_id, meta),
            });
        }
        let appends = observe::route(store, tenant, filed)
            .await
            .map_err(unavailable)?;
        let recorded = fresh.len();
        match store.append(appends).await {
            Ok(_) => self.ctx.wake_workers(),
            Err(StoreError::Conflict(_)) => return Err(Attempt::Raced),
            Err(_) => return Err(Attempt::Failed(IngestError::Unavailable)),
        }
        Ok(Accepted {
            recorded,
            duplicates,
        })
    }
}

/// How many times the intake retries a batch that raced with other appends to its streams.
const RECORD_ATTEMPTS: usize = 16;

enum Attempt {
    Raced,
    Failed(IngestError),
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
