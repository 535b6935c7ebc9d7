//! The GraphQL shapes of projection rows: mappings, pending work, dead letters, counters.
//!
//! Each is read from the typed doc the projection module exports, so this file knows the
//! documents' fields but not the tables' layout. A doc that does not read is an internal error:
//! the projection and the API disagree, and a rebuild after the fix repairs the table.

use crate::ApiContext;
use async_graphql::{ComplexObject, Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use syncledger_core::events::SyncEvent;
use syncledger_core::projection::Row;
use syncledger_core::projections::{dead_letters, id_mappings, pending_queue};

use crate::auth::caller;
use crate::entity::Entity;
use crate::error::{ApiError, ApiResult, FieldResult};

pub fn doc<T: DeserializeOwned>(row: &Row) -> ApiResult<T> {
    serde_json::from_value(row.doc.clone()).map_err(ApiError::internal)
}

/// One record linked to a sync entity: the ID-mapping table.
pub struct Mapping {
    pub tenant: String,
    pub mapping: id_mappings::Mapping,
}

impl Mapping {
    pub fn from_row(row: Row) -> ApiResult<Self> {
        Ok(Mapping {
            mapping: doc(&row)?,
            tenant: row.tenant,
        })
    }
}

#[Object]
impl Mapping {
    async fn tenant(&self) -> &str {
        &self.tenant
    }
    async fn system(&self) -> &str {
        &self.mapping.system
    }
    async fn record_id(&self) -> &str {
        &self.mapping.record_id
    }
    async fn collection(&self) -> &str {
        &self.mapping.collection
    }
    async fn entity_type(&self) -> &str {
        &self.mapping.entity_type
    }
    async fn entity_id(&self) -> ID {
        ID(self.mapping.entity_id.to_string())
    }
    async fn linked_at(&self) -> DateTime<Utc> {
        self.mapping.linked_at
    }
    /// The position of the `RecordLinked` event.
    async fn position(&self) -> i64 {
        self.mapping.position.0
    }
    async fn reason(&self) -> &str {
        &self.mapping.reason
    }
    /// The sync entity the record belongs to.
    async fn entity(&self, ctx: &Context<'_>) -> FieldResult<Entity> {
        let ledger = ctx.data_unchecked::<ApiContext>();
        Ok(Entity::load(ledger, caller(ctx)?, self.mapping.entity_id).await?)
    }
}

/// Work the sync still owes: a change to settle (`ChangeObserved`, `ResyncRequested`,
/// `DeadLetterRetried`) or a write whose outcome is owed (`WriteRequested`, `WriteFailed` awaiting
/// its retry).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct PendingItem {
    /// The row's key: `trigger/{event id}` or `write/{request id}`.
    pub key: String,
    pub tenant: String,
    /// The event type that put the item in the queue.
    pub kind: String,
    pub entity_id: ID,
    pub due_at: DateTime<Utc>,
    pub position: i64,
    /// For a change to settle: the record to fetch.
    pub system: Option<String>,
    pub record_id: Option<String>,
    pub trigger_id: Option<ID>,
    pub dead_letter_id: Option<ID>,
    /// For a write: its request, target and attempts so far.
    pub request_id: Option<ID>,
    pub target_system: Option<String>,
    pub attempt: Option<i32>,
    pub last_status: Option<i32>,
}

#[ComplexObject]
impl PendingItem {
    /// For a write awaiting its retry: the response body of the last failed attempt, read from
    /// its `WriteFailed` event (sealed in the log, never copied into the queue; `null` once the
    /// entity is erased).
    async fn last_error(&self, ctx: &Context<'_>) -> FieldResult<Option<String>> {
        if self.kind != "WriteFailed" {
            return Ok(None);
        }
        let ledger = ctx.data_unchecked::<ApiContext>();
        let after = syncledger_core::log::Position(self.position - 1);
        let filter = syncledger_core::log::LogFilter::default();
        let events = ledger
            .store()
            .read_all(after, &filter, 1)
            .await
            .map_err(ApiError::internal)?;
        let failed = events
            .into_iter()
            .filter(|e| e.position.0 == self.position)
            .find_map(|e| match SyncEvent::from_recorded(&e) {
                Ok(SyncEvent::WriteFailed(f)) => Some(f),
                _ => None,
            });
        Ok(failed.and_then(|f| f.body))
    }
}

impl PendingItem {
    pub fn from_row(row: Row) -> ApiResult<Self> {
        let id = |u: uuid::Uuid| ID(u.to_string());
        if row.key.starts_with(pending_queue::WRITE_PREFIX) {
            let w: pending_queue::PendingWrite = doc(&row)?;
            return Ok(PendingItem {
                key: row.key,
                tenant: row.tenant,
                kind: w.kind,
                entity_id: id(w.entity_id),
                due_at: w.due_at,
                position: w.position.0,
                system: None,
                record_id: None,
                trigger_id: None,
                dead_letter_id: None,
                request_id: Some(id(w.request_id)),
                target_system: Some(w.target_system),
                attempt: Some(w.attempt as i32),
                last_status: w.last_status.map(i32::from),
            });
        }
        let t: pending_queue::Trigger = doc(&row)?;
        Ok(PendingItem {
            key: row.key,
            tenant: row.tenant,
            kind: t.kind,
            entity_id: id(t.entity_id),
            due_at: t.due_at,
            position: t.position.0,
            system: t.system,
            record_id: t.record_id,
            trigger_id: Some(id(t.trigger_id)),
            dead_letter_id: t.dead_letter_id.map(id),
            request_id: None,
            target_system: None,
            attempt: None,
            last_status: None,
        })
    }
}

/// Work that will not succeed by retrying, kept with its request and the target's answer.
#[derive(SimpleObject)]
pub struct DeadLetter {
    /// The `DeadLettered` event's id: what `retryDeadLetter` takes.
    pub id: ID,
    pub tenant: String,
    pub entity_id: ID,
    pub position: i64,
    pub dead_lettered_at: DateTime<Utc>,
    pub request_id: Option<ID>,
    /// The system the failed write or work was about (absent for work that named none).
    pub target_system: Option<String>,
    pub reason: String,
    /// What a retry retries: `{"kind": "write", ...}` the write that was refused, its fields
    /// canonical; `{"kind": "work", "trigger_id", "record": {system, record_id}}` the work item
    /// that failed; `{"kind": "unreadable", "recorded"}` an old letter's request as recorded.
    pub request: Json<Value>,
    pub status: Option<i32>,
    /// The target's answer; null once the entity was erased (docs/privacy.md).
    pub body: Option<String>,
}

impl DeadLetter {
    pub fn from_row(row: Row) -> ApiResult<Self> {
        let d: dead_letters::DeadLetter = doc(&row)?;
        Ok(DeadLetter {
            id: ID(d.dead_letter_id.to_string()),
            tenant: row.tenant,
            entity_id: ID(d.entity_id.to_string()),
            position: d.position.0,
            dead_lettered_at: d.dead_lettered_at,
            request_id: d.letter.request_id.map(|r| ID(r.to_string())),
            target_system: d.letter.target_system,
            reason: d.letter.reason,
            request: Json(
                serde_json::to_value(&d.letter.request)
                    .map_err(|_| ApiError::internal("a dead letter's request"))?,
            ),
            status: d.letter.status.map(i32::from),
            body: d.letter.body,
        })
    }
}

/// One counter of `sync_stats`: `observed`, `decision/update`, `write/failed`, ...
#[derive(SimpleObject)]
pub struct Counter {
    pub name: String,
    pub count: i64,
}

/// How one tenant's sync is doing.
#[derive(SimpleObject)]
pub struct SyncStatus {
    pub tenant: String,
    /// Items in the pending queue (changes to settle and writes owed).
    pub queue_depth: i64,
    /// Of those, the items due now.
    pub due_now: i64,
    /// When the oldest pending item became due; null when the queue is empty.
    pub oldest_pending_since: Option<DateTime<Utc>>,
    /// Seconds since then (0 when the queue is empty).
    pub oldest_pending_age_seconds: f64,
    /// Failed write attempts over all write attempts with an outcome (0 when there were none).
    pub error_rate: f64,
    pub writes_succeeded: i64,
    pub writes_failed: i64,
    pub dead_letters: i64,
    /// This tenant's events the slowest projection has still to apply (other tenants' events
    /// do not count).
    pub lag: i64,
    /// Every counter of the tenant, by name.
    pub counters: Vec<Counter>,
    /// Each entity type's initial sync (bring-up on records that existed before syncledger).
    pub initial_syncs: Vec<crate::initial_sync::InitialSyncStatus>,
    /// Each connected system's recent write outcomes (the log's last 10,000 events).
    pub systems: Vec<crate::systems::SystemStatus>,
}
