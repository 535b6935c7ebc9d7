//! Stream snapshots: a stream's folded state at the point where its first events were archived
//! (docs/log.md, "Archiving"). Live work folds on from the snapshot with the stream's live
//! events, and gets the state the whole stream would give: `resume(snapshot of the first n
//! events, the rest) == fold(all)`, the property the tests hold it to.
//!
//! A snapshot is JSON in the store (`stream_archives.state`), tagged with what the stream is:
//! an entity's stream or an initial sync's.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::entity::EntityState;
use crate::events::SyncEvent;
use crate::initial_sync::InitialSync;
use crate::log::RecordedEvent;

/// The state a snapshot holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stream", rename_all = "snake_case")]
pub enum StreamState {
    Entity(Box<EntityState>),
    InitialSync(InitialSync),
}

impl StreamState {
    /// The stream's state after `events`, starting from the `prior` snapshot (or the stream's
    /// start). A stream is an initial sync's when its snapshot says so or its first event
    /// starts one; any other stream is an entity's.
    pub fn advance(stream_id: Uuid, prior: Option<&Value>, events: &[RecordedEvent]) -> Self {
        let prior = prior.and_then(|v| serde_json::from_value::<StreamState>(v.clone()).ok());
        let mut state = prior.unwrap_or_else(|| {
            let starts_sync = events.first().is_some_and(|e| {
                matches!(
                    SyncEvent::from_recorded(e),
                    Ok(SyncEvent::InitialSyncStarted(_))
                )
            });
            if starts_sync {
                StreamState::InitialSync(InitialSync::default())
            } else {
                StreamState::Entity(Box::new(EntityState {
                    entity_id: stream_id,
                    ..EntityState::default()
                }))
            }
        });
        for event in events {
            match &mut state {
                StreamState::Entity(s) => s.apply(event),
                StreamState::InitialSync(s) => s.apply(event),
            }
        }
        state
    }

    pub fn to_value(&self) -> Option<Value> {
        serde_json::to_value(self).ok()
    }
}

/// What an entity's snapshot keeps once the entity is erased (docs/privacy.md, "Archives"):
/// what it is and where its records are (id, tenant, type, version, links, redirects, field
/// sources, the records it created), none of its values. Kept members are listed one by one,
/// so a member added to [`EntityState`] later is dropped until it is listed here. `None` for
/// anything but an entity's snapshot (an initial sync is no one's to erase).
pub fn without_values(snapshot: &Value) -> Option<Value> {
    let StreamState::Entity(state) =
        serde_json::from_value::<StreamState>(snapshot.clone()).ok()?
    else {
        return None;
    };
    let state = *state;
    StreamState::Entity(Box::new(EntityState {
        entity_id: state.entity_id,
        tenant: state.tenant,
        entity_type: state.entity_type,
        version: state.version,
        links: state.links,
        redirected_to: state.redirected_to,
        redirected_record: state.redirected_record,
        field_sources: state.field_sources,
        created: state.created,
        ..EntityState::default()
    }))
    .to_value()
}

/// The values an entity's snapshot holds as text, as an erasure searches for them
/// ([`crate::privacy::strings_of`]): the values last known in each system, last agreed, last
/// written and listed by the initial sync.
pub fn value_texts(snapshot: &Value, into: &mut Vec<String>) {
    let Ok(StreamState::Entity(state)) = serde_json::from_value::<StreamState>(snapshot.clone())
    else {
        return;
    };
    for fields in state.known.values() {
        fields
            .values()
            .for_each(|v| crate::privacy::strings_of(v, into));
    }
    state
        .synced
        .values()
        .for_each(|v| crate::privacy::strings_of(v, into));
    for per_field in state.sync_written.values() {
        for values in per_field.values() {
            values
                .iter()
                .for_each(|v| crate::privacy::strings_of(v, into));
        }
    }
    for (_, fields) in state.discovered.values() {
        fields
            .values()
            .for_each(|v| crate::privacy::strings_of(v, into));
    }
}

/// An entity's state: its snapshot (when its first events were archived) folded on with its
/// live events after the snapshot's version.
pub fn resume_entity(
    entity_id: Uuid,
    snapshot: Option<&Value>,
    live: &[RecordedEvent],
) -> EntityState {
    match snapshot.and_then(|v| serde_json::from_value::<StreamState>(v.clone()).ok()) {
        Some(StreamState::Entity(mut state)) => {
            for event in live {
                state.apply(event);
            }
            *state
        }
        _ => EntityState::fold(entity_id, live),
    }
}

/// An initial sync's state, the same way.
pub fn resume_initial_sync(snapshot: Option<&Value>, live: &[RecordedEvent]) -> InitialSync {
    match snapshot.and_then(|v| serde_json::from_value::<StreamState>(v.clone()).ok()) {
        Some(StreamState::InitialSync(mut state)) => {
            for event in live {
                state.apply(event);
            }
            state
        }
        _ => InitialSync::fold(live),
    }
}

#[cfg(test)]
mod tests;
