//! Where a work item is worked: under which entity type ([`entity_config_for`]), and, when the
//! entity's stream turned out to belong to another entity, how the work is handed over there
//! ([`forward`]).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Effect, Outcome};
use crate::config::EntityConfig;
use crate::entity::{EntityState, Trigger, TriggerKind};
use crate::events::{
    Basis, ChangeObserved, DeadLetterRetried, RecordRef, RedirectedTo, ResyncRequested, SyncEvent,
};

/// Why a work item has no entity type to be decided under.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unrouted {
    /// The stream's type is not (or no longer) configured.
    #[error("entity type {0} is not configured")]
    NotConfigured(String),
    /// A resync of a record no webhook ever announced, in a system that no configured entity
    /// type syncs, or that more than one does.
    #[error("no single configured entity type syncs {system} (the resync of {record_id})")]
    NoSingleType { system: String, record_id: String },
    /// The stream holds no entity type and the work names no record.
    #[error("the stream holds no entity type and its work names no record")]
    Untyped,
}

/// The entity type `trigger` of `state` is decided under:
///
/// 1. the stream's own type, when configured;
/// 2. for a resync asked for a record no webhook ever announced (a stream with no type yet),
///    the one configured entity type that syncs that system.
pub fn entity_config_for<'a>(
    entities: &'a [EntityConfig],
    state: &EntityState,
    trigger: &Trigger,
) -> Result<&'a EntityConfig, Unrouted> {
    if let Some(entity_type) = &state.entity_type {
        return entities
            .iter()
            .find(|e| &e.name == entity_type)
            .ok_or_else(|| Unrouted::NotConfigured(entity_type.clone()));
    }
    let TriggerKind::Resync { system, record_id } = &trigger.kind else {
        return Err(Unrouted::Untyped);
    };
    let mut candidates = entities.iter().filter(|e| e.systems.contains_key(system));
    match (candidates.next(), candidates.next()) {
        (Some(only), None) => Ok(only),
        _ => Err(Unrouted::NoSingleType {
            system: system.clone(),
            record_id: record_id.clone(),
        }),
    }
}

/// The hand-over of `trigger` from this stream, whose record belongs to entity `to` (at version
/// `to_version`), at the clock reading `at`:
///
/// 1. this stream records `RedirectedTo`, which closes the work here;
/// 2. `to` receives the same work: a change observed (its webhook id derived from the work
///    item's, so a hand-over retried is recognised), a resync, or a dead letter's retry with
///    the letter's request (`to`'s stream does not hold the letter);
/// 3. a person's resolution of a conflict belongs to this stream's conflict: closed here,
///    not handed over.
///
/// `None` when neither the work nor the stream names the record that belongs elsewhere.
pub fn forward(
    state: &EntityState,
    trigger: &Trigger,
    (to, to_version): (Uuid, u64),
    at: DateTime<Utc>,
) -> Option<Outcome> {
    let handed = match &trigger.kind {
        TriggerKind::Resolution { .. } => None,
        TriggerKind::Observed {
            system,
            collection,
            record_id,
            action,
        } => Some(SyncEvent::ChangeObserved(ChangeObserved {
            entity_type: state.entity_type.clone()?,
            system: system.clone(),
            collection: collection.clone(),
            record_id: record_id.clone(),
            action: *action,
            webhook_event_id: format!("forwarded:{}", trigger.event_id),
            occurred_at: at,
        })),
        TriggerKind::Resync { system, record_id } => {
            Some(SyncEvent::ResyncRequested(ResyncRequested {
                by: "forwarded".into(),
                system: system.clone(),
                record_id: record_id.clone(),
            }))
        }
        TriggerKind::DeadLetterRetry { dead_letter_id } => {
            Some(SyncEvent::DeadLetterRetried(DeadLetterRetried {
                by: "forwarded".into(),
                dead_letter_id: *dead_letter_id,
                request: state.dead_letters.get(dead_letter_id).cloned(),
            }))
        }
    };
    let record = match trigger.source() {
        Some((system, record_id)) => RecordRef {
            system: system.into(),
            record_id: record_id.into(),
        },
        None => state.redirected_record.clone()?,
    };
    let here = SyncEvent::RedirectedTo(RedirectedTo {
        trigger_id: Some(trigger.event_id),
        entity_id: to,
        system: record.system,
        record_id: record.record_id.clone(),
        basis: Basis::LinkedElsewhere {
            record_id: record.record_id,
            entity_id: to,
        },
    });
    Some(Outcome {
        own: vec![here],
        effects: handed
            .map(|handed| Effect {
                stream: to,
                expected: to_version,
                events: vec![handed],
            })
            .into_iter()
            .collect(),
    })
}
