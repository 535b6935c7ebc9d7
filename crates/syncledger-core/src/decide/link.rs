//! A target this entity has no record in: wait, link or create (G1, G8).
//!
//! In this order:
//!
//! 1. **A create is in flight** towards the target (G1): nothing more is asked; the next work
//!    item sees its link.
//! 2. **Equal match keys** (G8): the target holds a record with the same match keys that no
//!    entity pairs with a record of the source yet ([`is_unpaired`]): it is linked instead of
//!    created, the entity whose stream held it is redirected here in the same append (expecting
//!    its version, so a concurrent decision of that entity loses), and the linked record is
//!    fetched again as this entity's work so the pair converges (G5).
//! 3. **A required field is empty**: the create waits for a later change.
//! 4. Otherwise the record is **created**, with a fingerprint its echo is recognised by (G2).

use serde_json::Value;

use crate::config::EntityConfig;
use crate::entity::{EntityState, Trigger};
use crate::events::{
    Basis, DecisionKind, FieldChange, Fields, RecordFetched, RecordLinked, RedirectedTo,
    ResyncRequested, SyncEvent, WriteOp, WriteRequested,
};
use crate::mapping::{match_fingerprint, missing_required};

use super::{Effect, Gathered, create_fingerprint, decision, request_id};

/// The systems other than `source` this entity has no record in and no create on its way to:
/// where a record with equal match keys is looked for (G8).
pub fn open_targets<'a>(
    config: &'a EntityConfig,
    state: &EntityState,
    source: &str,
) -> Vec<&'a String> {
    config
        .systems
        .keys()
        .filter(|s| s.as_str() != source)
        .filter(|s| !state.links.contains_key(s.as_str()) && state.pending_create(s).is_none())
        .collect()
}

/// Whether `owner`'s record of `target` with the fields `known` (what `owner` holds of it:
/// linked and fetched, or listed by the initial sync) is free to be linked by an entity deciding
/// a `source` record with the match `fingerprint`: `owner` was not handed over elsewhere, is of
/// the same type, has no record in `source` and none on its way there, and the keys still match.
pub fn is_unpaired(
    config: &EntityConfig,
    owner: &EntityState,
    source: &str,
    known: Option<&Fields>,
    fingerprint: Option<&str>,
) -> bool {
    owner.redirected_to.is_none()
        && owner.entity_type.as_deref() == Some(config.name.as_str())
        && !owner.links.contains_key(source)
        && owner.pending_create(source).is_none()
        && known.is_some_and(|k| match_fingerprint(&config.match_keys, k).as_deref() == fingerprint)
}

pub(super) fn plan_create(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    (source, target): (&str, &str),
    fetched: &RecordFetched,
    input: &Gathered,
    effects: &mut Vec<Effect>,
) -> Vec<SyncEvent> {
    let target_cfg = &config.systems[target];
    let pair = (source, target);
    if let Some(pending) = state.pending_create(target) {
        let basis = Basis::CreateInFlight {
            request_id: pending.request.request_id,
        };
        return vec![decision(trigger, DecisionKind::Skip, pair, basis)];
    }
    if let Some(candidate) = input.link_candidates.get(target) {
        let basis = Basis::EqualMatchKeys {
            record_id: candidate.record_id.clone(),
            keys: config.match_keys.clone(),
        };
        // One redirect per decision: a second target's owner is linked, not handed over.
        if candidate.entity_id != state.entity_id && effects.is_empty() {
            effects.push(Effect {
                stream: candidate.entity_id,
                expected: input.version_of(candidate.entity_id),
                events: vec![SyncEvent::RedirectedTo(RedirectedTo {
                    trigger_id: None,
                    entity_id: state.entity_id,
                    system: target.into(),
                    record_id: candidate.record_id.clone(),
                    basis: basis.clone(),
                })],
            });
        }
        return vec![
            decision(trigger, DecisionKind::Link, pair, basis),
            SyncEvent::RecordLinked(RecordLinked {
                entity_type: config.name.clone(),
                system: target.into(),
                collection: target_cfg.collection.clone(),
                record_id: candidate.record_id.clone(),
                reason: "equal match keys".into(),
            }),
            SyncEvent::ResyncRequested(ResyncRequested {
                by: "sync (linked by match keys)".into(),
                system: target.into(),
                record_id: candidate.record_id.clone(),
            }),
        ];
    }
    let missing = missing_required(&target_cfg.required, &fetched.fields);
    if !missing.is_empty() {
        let basis = Basis::RequiredEmpty { fields: missing };
        return vec![decision(trigger, DecisionKind::Deferred, pair, basis)];
    }
    let fields: Fields = fetched
        .fields
        .iter()
        .filter(|(f, v)| target_cfg.fields.contains_key(*f) && !v.is_null())
        .map(|(f, v)| (f.clone(), v.clone()))
        .collect();
    let diff = fields
        .iter()
        .map(|(f, v)| FieldChange {
            field: f.clone(),
            before: Value::Null,
            after: v.clone(),
        })
        .collect();
    let id = request_id(trigger.event_id, target, WriteOp::Create);
    let basis = Basis::NoRecordInTarget {
        record_id: fetched.record_id.clone(),
    };
    let mut create = decision(trigger, DecisionKind::Create, pair, basis);
    if let SyncEvent::DecisionMade(d) = &mut create {
        d.diff = diff;
    }
    let write = WriteRequested {
        request_id: id,
        target_system: target.into(),
        collection: target_cfg.collection.clone(),
        op: WriteOp::Create,
        record_id: None,
        match_fingerprint: Some(create_fingerprint(config, &fields)),
        fields,
        if_match: None,
    };
    vec![super::asking(create, write)]
}
