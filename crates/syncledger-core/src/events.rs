//! The event catalog: every fact the sync records, as typed payloads.
//!
//! A sync entity is one stream. Its events tell the whole story of one business record across the
//! connected systems: the change a webhook announced, the record as fetched, the decision and its
//! reason, the write requested before the outbound call, the write's outcome, links and unlinks,
//! dead letters, and what people asked for. [`SyncEvent::to_new`] and [`SyncEvent::from_recorded`]
//! convert between these payloads and the log's untyped envelopes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::log::{EventMeta, NewEvent, RecordedEvent};

mod basis;
mod bringup;
mod conflicts;
mod decision;
mod erasure;
mod inputs;
mod requests;
mod writes;
pub use basis::{Basis, upcasters};
pub use bringup::{
    InitialSyncCompleted, InitialSyncPageRead, InitialSyncStarted, RecordDiscovered, WorkHeld,
    WorkReleased,
};
pub use conflicts::{
    Candidate, Chosen, ConflictDetected, ConflictResolved, WritePreconditionFailed, conflict_id,
};
pub use decision::{DecisionMade, write_request};
pub use erasure::EntityErased;
pub use inputs::{InputsGathered, LinkCandidate, RoundTrip};
#[cfg(test)]
pub(crate) use requests::refused_update;
pub use requests::{
    DeadLetterDiscarded, DeadLetterRequest, DeadLetterRetried, DeadLetterToTyped, DeadLettered,
    RecordRef, ReplayRequested, ResyncRequested, WorkFailed,
};
pub use writes::{Resolution, WriteFailed, WriteOp, WriteRequested, WriteSucceeded};

/// A record's fields in canonical names (the entity's vocabulary, not a system's).
pub type Fields = BTreeMap<String, Value>;

/// What a webhook said happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Deleted,
}

/// A webhook announced a change. Its content is a hint: the record is fetched before any decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeObserved {
    pub entity_type: String,
    pub system: String,
    pub collection: String,
    pub record_id: String,
    pub action: Action,
    /// The sender's own id for the webhook: `(tenant, system, webhook_event_id)` is deduplicated.
    pub webhook_event_id: String,
    pub occurred_at: DateTime<Utc>,
}

/// The record as its origin system returned it, and its canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordFetched {
    pub system: String,
    pub record_id: String,
    /// False when the system answered 404.
    pub found: bool,
    /// Canonical fields read through the entity's field mapping (empty when not found).
    pub fields: Fields,
    /// The record's `ETag`, when the system gives one: the `If-Match` of the next write there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// What the decision core chose to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Create,
    Update,
    Delete,
    Skip,
    EchoSuppressed,
    Deferred,
    ConflictResolved,
    Link,
    Unlink,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Create => "create",
            DecisionKind::Update => "update",
            DecisionKind::Delete => "delete",
            DecisionKind::Skip => "skip",
            DecisionKind::EchoSuppressed => "echo_suppressed",
            DecisionKind::Deferred => "deferred",
            DecisionKind::ConflictResolved => "conflict_resolved",
            DecisionKind::Link => "link",
            DecisionKind::Unlink => "unlink",
        }
    }
}

/// One canonical field's change: what the target had (or `null`) and what it gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// The entity now knows its record in `system`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordLinked {
    pub entity_type: String,
    pub system: String,
    pub collection: String,
    pub record_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordUnlinked {
    pub system: String,
    pub record_id: String,
    pub reason: String,
}

/// This stream was opened for a record that turned out to belong to another entity (a round-trip
/// create, or a match-key link): its pending work continues there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedirectedTo {
    /// The work item (see [`DecisionMade::trigger_id`]) handed over to the other entity.
    pub trigger_id: Option<Uuid>,
    pub entity_id: Uuid,
    pub system: String,
    pub record_id: String,
    /// Why the record belongs there; [`RedirectedTo::reason`] says it in words.
    pub basis: Basis,
}

impl RedirectedTo {
    /// The reason in words, derived from the basis.
    pub fn reason(&self) -> String {
        self.basis.explain(&self.system, &self.system)
    }
}

/// Every event type the sync writes. The variant name is the stored `event_type`.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncEvent {
    ChangeObserved(ChangeObserved),
    RecordDiscovered(RecordDiscovered),
    InitialSyncStarted(InitialSyncStarted),
    InitialSyncPageRead(InitialSyncPageRead),
    InitialSyncCompleted(InitialSyncCompleted),
    WorkHeld(WorkHeld),
    WorkReleased(WorkReleased),
    RecordFetched(RecordFetched),
    InputsGathered(InputsGathered),
    DecisionMade(DecisionMade),
    WriteRequested(WriteRequested),
    WriteSucceeded(WriteSucceeded),
    WriteFailed(WriteFailed),
    RecordLinked(RecordLinked),
    RecordUnlinked(RecordUnlinked),
    RedirectedTo(RedirectedTo),
    DeadLettered(DeadLettered),
    ReplayRequested(ReplayRequested),
    ResyncRequested(ResyncRequested),
    DeadLetterRetried(DeadLetterRetried),
    WorkFailed(WorkFailed),
    ConflictDetected(ConflictDetected),
    ConflictResolved(ConflictResolved),
    WritePreconditionFailed(WritePreconditionFailed),
    DeadLetterDiscarded(DeadLetterDiscarded),
    EntityErased(EntityErased),
}

/// The schema version new events are written with, unless their type says otherwise
/// ([`SyncEvent::schema_version`]); older versions are brought up by [`upcasters`].
pub const SCHEMA_VERSION: i32 = 1;

/// Every stored type name, for filters and docs.
pub const EVENT_TYPES: &[&str] = &[
    "ChangeObserved",
    "RecordDiscovered",
    "InitialSyncStarted",
    "InitialSyncPageRead",
    "InitialSyncCompleted",
    "WorkHeld",
    "WorkReleased",
    "RecordFetched",
    "InputsGathered",
    "DecisionMade",
    "WriteRequested",
    "WriteSucceeded",
    "WriteFailed",
    "RecordLinked",
    "RecordUnlinked",
    "RedirectedTo",
    "DeadLettered",
    "ReplayRequested",
    "ResyncRequested",
    "DeadLetterRetried",
    "WorkFailed",
    "ConflictDetected",
    "ConflictResolved",
    "WritePreconditionFailed",
    "DeadLetterDiscarded",
    "EntityErased",
];

/// A stored event whose payload does not fit its type.
#[derive(Debug, thiserror::Error)]
#[error("event {event_id} of type {event_type}: {reason}")]
pub struct DecodeError {
    pub event_id: Uuid,
    pub event_type: String,
    pub reason: String,
}

macro_rules! catalog {
    ($($variant:ident),* $(,)?) => {
        impl SyncEvent {
            pub fn event_type(&self) -> &'static str {
                match self { $(SyncEvent::$variant(_) => stringify!($variant),)* }
            }

            fn payload(&self) -> Value {
                let value = match self { $(SyncEvent::$variant(e) => serde_json::to_value(e),)* };
                value.expect("sync event payloads are plain data and always serialize")
            }

            /// Decodes a stored event (already upcast to the current version).
            pub fn from_recorded(event: &RecordedEvent) -> Result<SyncEvent, DecodeError> {
                let fail = |reason: String| DecodeError {
                    event_id: event.event_id,
                    event_type: event.event_type.clone(),
                    reason,
                };
                // Deserialized from the borrowed document: no copy of its tree first.
                match event.event_type.as_str() {
                    $(stringify!($variant) => <$variant as serde::Deserialize>::deserialize(&event.payload)
                        .map(SyncEvent::$variant)
                        .map_err(|e| fail(e.to_string())),)*
                    _ => Err(fail("unknown event type".into())),
                }
            }
        }
    };
}

catalog!(
    ChangeObserved,
    RecordDiscovered,
    InitialSyncStarted,
    InitialSyncPageRead,
    InitialSyncCompleted,
    WorkHeld,
    WorkReleased,
    RecordFetched,
    InputsGathered,
    DecisionMade,
    WriteRequested,
    WriteSucceeded,
    WriteFailed,
    RecordLinked,
    RecordUnlinked,
    RedirectedTo,
    DeadLettered,
    ReplayRequested,
    ResyncRequested,
    DeadLetterRetried,
    WorkFailed,
    ConflictDetected,
    ConflictResolved,
    WritePreconditionFailed,
    DeadLetterDiscarded,
    EntityErased,
);

impl SyncEvent {
    /// The version this build writes the event's type with.
    pub fn schema_version(&self) -> i32 {
        match self {
            // 3: the write it asks for carried along (`write`, see `decision::WithWrite`).
            SyncEvent::DecisionMade(_) => 3,
            // 2: `basis` instead of `reason` (see `basis::ReasonToBasis`).
            SyncEvent::RedirectedTo(_) => 2,
            // 2: a typed `request` (see `requests::DeadLetterToTyped`).
            SyncEvent::DeadLettered(_) => 2,
            _ => SCHEMA_VERSION,
        }
    }

    /// Whether the event is part of what a decision group records after its `InputsGathered`:
    /// a fetch, or what the decision core returned for the stream (a write's outcome is caused
    /// by its request, but is not part of the decision). How a replay finds a group's end.
    pub fn is_decided(&self) -> bool {
        matches!(
            self,
            SyncEvent::RecordFetched(_)
                | SyncEvent::DecisionMade(_)
                | SyncEvent::WriteRequested(_)
                | SyncEvent::RecordLinked(_)
                | SyncEvent::RecordUnlinked(_)
                | SyncEvent::RedirectedTo(_)
                | SyncEvent::ResyncRequested(_)
                | SyncEvent::ConflictDetected(_)
        )
    }

    /// An envelope for the log, with a fresh UUID v7 as its id.
    pub fn to_new(&self, meta: EventMeta) -> NewEvent {
        self.to_new_with_id(Uuid::now_v7(), meta)
    }

    /// An envelope with a chosen id: a retried append with the same id is a no-op.
    pub fn to_new_with_id(&self, event_id: Uuid, meta: EventMeta) -> NewEvent {
        NewEvent {
            event_id,
            event_type: self.event_type().to_string(),
            schema_version: self.schema_version(),
            payload: self.payload(),
            meta,
        }
    }
}

/// The deterministic stream id of the entity first seen as `record_id` in `system`: two webhooks
/// racing for a record nobody has seen yet land in the same stream, whose version check then
/// serialises them.
pub fn entity_id_for_record(
    tenant: &str,
    entity_type: &str,
    system: &str,
    record_id: &str,
) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_7e6e_8b0a_4f44_9a47_7c1e_5a9f_0b21);
    let name = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        tenant, entity_type, system, record_id
    );
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests;
