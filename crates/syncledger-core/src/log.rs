//! The log's vocabulary: what an event looks like on its way in ([`NewEvent`]) and once stored
//! ([`RecordedEvent`]), how an append states what it expects of a stream ([`ExpectedVersion`]), and
//! the typed [`Conflict`] it gets back when that expectation does not hold.
//!
//! These types carry no storage detail: a store turns them into rows and back. Positions are opaque
//! to callers: compare them, store them as checkpoints, never do arithmetic on them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A place in the global log. Strictly increasing in commit order; gaps are allowed (a rolled-back
/// append leaves one), so callers compare positions and never count with them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Position(pub i64);

impl Position {
    /// Before the first event: reading "after START" reads the whole log.
    pub const START: Position = Position(0);
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What an append expects of a stream before it writes. A mismatch writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check at all.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must hold at least one event.
    StreamExists,
    /// The stream's last sequence number must be exactly this.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose last sequence is `actual` (0 when absent) satisfies this expectation.
    pub fn accepts(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::StreamExists => actual > 0,
            ExpectedVersion::Exact(n) => actual == n,
        }
    }
}

/// An expectation that did not hold: the stream, what the append expected, what the stream had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream {stream_id}: expected {expected:?}, actual version {actual}")]
pub struct Conflict {
    pub stream_id: Uuid,
    pub expected: ExpectedVersion,
    /// The stream's last sequence number when the append was tried (0: no stream).
    pub actual: u64,
}

/// A key an inline projection holds for one entity, claimed ([`crate::projection::RowOp::Claim`])
/// by an append that does not write to the holder's stream: nothing of that append was written.
/// For `id_mappings`, a record linked to one entity that another tried to link too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{projection} key {key} is held by entity {holder}, not {claimant}")]
pub struct Claimed {
    pub projection: String,
    pub key: String,
    /// The entity that holds the key.
    pub holder: Uuid,
    /// The entity whose append claimed it.
    pub claimant: Uuid,
}

/// Who and what an event belongs to, beyond its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    pub tenant: String,
    /// The observed change (webhook) that started the chain this event belongs to.
    pub correlation_id: Option<Uuid>,
    /// The event that directly caused this one.
    pub causation_id: Option<Uuid>,
}

/// An event on its way into the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// UUID v7, chosen by the writer: retrying an append with the same ids is a no-op.
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Value,
    pub meta: EventMeta,
}

/// One stream's part of an append: its expectation and its new events, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    pub stream_id: Uuid,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// Where an appended event landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    pub event_id: Uuid,
    pub stream_id: Uuid,
    pub sequence: u64,
    pub position: Position,
    /// The event's recorded-at time, as the log holds it.
    pub recorded_at: DateTime<Utc>,
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub position: Position,
    pub stream_id: Uuid,
    pub sequence: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Value,
    pub meta: EventMeta,
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// A new event as the log now holds it, from where its append says it landed.
    pub fn landed(event: NewEvent, at: &Appended) -> Self {
        RecordedEvent {
            position: at.position,
            stream_id: at.stream_id,
            sequence: at.sequence,
            event_id: event.event_id,
            event_type: event.event_type,
            schema_version: event.schema_version,
            payload: event.payload,
            meta: event.meta,
            recorded_at: at.recorded_at,
        }
    }
}

/// Which part of the global log a reader wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub tenant: Option<String>,
    /// Empty: every type.
    pub types: Vec<String>,
    pub recorded_from: Option<DateTime<Utc>>,
    pub recorded_to: Option<DateTime<Utc>>,
}

impl LogFilter {
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        self.tenant.as_ref().is_none_or(|t| *t == event.meta.tenant)
            && (self.types.is_empty() || self.types.contains(&event.event_type))
            && self.recorded_from.is_none_or(|f| event.recorded_at >= f)
            && self.recorded_to.is_none_or(|t| event.recorded_at < t)
    }
}

/// Turns an old schema version of one event type into the next. Readers apply a chain of these, so
/// stored events are never rewritten and old versions stay readable.
pub trait Upcaster: Send + Sync {
    fn event_type(&self) -> &str;
    /// The version this upcaster reads; it produces `source_version + 1`.
    fn source_version(&self) -> i32;
    fn upcast(&self, payload: Value) -> Value;
}

/// The chain of upcasters a reader applies to every event it returns.
#[derive(Default)]
pub struct Upcasters {
    steps: Vec<Box<dyn Upcaster>>,
}

impl Upcasters {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, step: impl Upcaster + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }

    /// Brings an event up to the newest version the chain knows for its type.
    pub fn apply(&self, mut event: RecordedEvent) -> RecordedEvent {
        while let Some(step) = self.steps.iter().find(|s| {
            s.event_type() == event.event_type && s.source_version() == event.schema_version
        }) {
            event.payload = step.upcast(std::mem::take(&mut event.payload));
            event.schema_version += 1;
        }
        event
    }
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upcasters")
            .field("steps", &self.steps.len())
            .finish()
    }
}
