//! The events of one outbound write: requested before the call, then its outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Fields;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOp {
    Create,
    Update,
    Delete,
}

/// Recorded before the outbound call, so a crash or an early webhook finds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteRequested {
    /// Also the `Idempotency-Key` of a create: the same decision retried sends the same key.
    pub request_id: Uuid,
    pub target_system: String,
    pub collection: String,
    pub op: WriteOp,
    /// The target record (absent for a create).
    pub record_id: Option<String>,
    /// Canonical values being written: what the echo of this write will carry back.
    pub fields: Fields,
    /// Hash of the match keys' values: recognises the target's create webhook before the answer.
    pub match_fingerprint: Option<String>,
    /// The `ETag` the ledger last saw for the target record, sent as `If-Match` (CONTRACT §1):
    /// the write lands only on the record the decision was made about. Absent for a create and
    /// for a system that gives no ETags (an unconditional write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_match: Option<String>,
}

/// How the outcome of a write became known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The target answered the request.
    Response,
    /// The answer was lost (crash, timeout); the record the entity already links in the target
    /// (its echo linked it) was found there.
    ExistingLink,
    /// The answer was lost (crash, timeout); the record was found by match keys afterwards.
    LookupByMatchKeys,
    /// The answer was lost; the retried request with the same idempotency key answered it.
    IdempotentRetry,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteSucceeded {
    pub request_id: Uuid,
    pub target_system: String,
    pub record_id: String,
    /// Canonical values the target holds after the write.
    pub fields: Fields,
    pub resolution: Resolution,
    /// The record's `ETag` in the target's answer, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteFailed {
    pub request_id: Uuid,
    pub target_system: String,
    /// HTTP status; absent for a timeout or a connection failure.
    pub status: Option<u16>,
    /// The response body; `None` once the entity is erased (docs/privacy.md).
    pub body: Option<String>,
    pub will_retry: bool,
    pub attempt: u32,
    /// When the retry is due (with `will_retry`).
    pub retry_at: Option<DateTime<Utc>>,
}
