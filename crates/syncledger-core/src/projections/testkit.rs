//! Builders for the projections' tests: recorded events with predictable ids and times.

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::events::SyncEvent;
use crate::log::{EventMeta, Position, RecordedEvent};

pub const ENTITY: Uuid = Uuid::from_u128(0xe1);

/// The recorded-at time of the event at `position`: one second apart, with microseconds.
pub fn at(position: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()
        + chrono::Duration::seconds(position)
        + chrono::Duration::microseconds(123_456)
}

/// The event id of the event at `position`.
pub fn id(position: i64) -> Uuid {
    Uuid::from_u128(0x1000 + position as u128)
}

/// `event` as stored at `position` in the stream of [`ENTITY`], tenant `acme`.
pub fn recorded(position: i64, event: SyncEvent) -> RecordedEvent {
    recorded_in(ENTITY, position, event)
}

pub fn recorded_in(stream: Uuid, position: i64, event: SyncEvent) -> RecordedEvent {
    let meta = EventMeta {
        tenant: "acme".into(),
        correlation_id: None,
        causation_id: None,
    };
    let new = event.to_new_with_id(id(position), meta);
    RecordedEvent {
        position: Position(position),
        stream_id: stream,
        sequence: position as u64,
        event_id: new.event_id,
        event_type: new.event_type,
        schema_version: new.schema_version,
        payload: new.payload,
        meta: new.meta,
        recorded_at: at(position),
    }
}
