//! The decision core: what to do about one piece of work, as a pure function.
//!
//! Input: the entity's folded state, the record just fetched from the system that changed, and
//! what the engine looked up around it (the sync's recent writes into that system, a pending
//! create whose echo this record may be, records in other systems with equal match keys).
//! Output: the events to append. Writes are the `WriteRequested` events among them; the engine
//! performs them after the append commits. No clock, no randomness: request ids derive from the
//! work item, so the same input always gives the same output (replays compare against history).
//!
//! How the seed's races end here:
//! - same-direction creates (G1): work for one entity runs one at a time; a create towards a system
//!   where one is already in flight is a `skip`, and the next work item sees the link.
//! - round-trip creates (G2): a record nobody linked yet whose fingerprint equals a pending create's
//!   is that create's echo: the stream is redirected to the requesting entity ([`RoundTripMatch`]).
//! - round-trip updates (G3): fields whose incoming value equals a value the sync itself recently
//!   wrote into the source system are removed before diffing ([`EchoContext`]).
//! - equal match keys (G8): a create towards a system where an unpaired record with the same
//!   match keys is known becomes a link; the entity that record belonged to is redirected here in
//!   the same append, with its version as the expectation ([`LinkOwner`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use uuid::Uuid;

use crate::config::{ConflictPolicy, EntityConfig, OnDelete};
use crate::entity::{EntityState, Trigger, TriggerKind};
use crate::events::{
    Action, DecisionKind, DecisionMade, FieldChange, Fields, RecordFetched, RecordLinked,
    RecordUnlinked, RedirectedTo, ResyncRequested, SyncEvent, WriteOp, WriteRequested,
};
use crate::mapping::{match_fingerprint, missing_required};

/// What the sync recently wrote into each system: system -> canonical field -> values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EchoContext {
    pub written: BTreeMap<String, BTreeMap<String, Vec<Value>>>,
}

impl EchoContext {
    pub fn record(&mut self, system: &str, field: &str, value: Value) {
        let values = self
            .written
            .entry(system.into())
            .or_default()
            .entry(field.into())
            .or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }

    pub fn was_written(&self, system: &str, field: &str, value: &Value) -> bool {
        self.written
            .get(system)
            .and_then(|fields| fields.get(field))
            .is_some_and(|values| values.contains(value))
    }
}

/// A pending create, made by another entity, whose fingerprint equals the fetched record's.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundTripMatch {
    pub entity_id: Uuid,
    /// That entity's current version: the redirect appends to it with this expectation.
    pub entity_version: u64,
    /// The create in flight this record is the echo of; nil when the record is already mapped
    /// to that entity (its link landed after this record's webhook was recorded elsewhere).
    pub request_id: Uuid,
}

/// A record in another system with the same match keys that no entity links yet (G8).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkCandidate {
    pub record_id: String,
    pub fields: Fields,
}

/// The entity a [`LinkCandidate`] belongs to now: a link redirects it to the deciding entity, in
/// the same append, expecting this version (so a concurrent decision of that entity loses).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkOwner {
    pub entity_id: Uuid,
    pub entity_version: u64,
}

/// Everything the engine gathered before deciding one work item.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// The record as its source system returned it.
    pub fetched: Option<RecordFetched>,
    pub echo: EchoContext,
    pub round_trip: Option<RoundTripMatch>,
    /// Per target system.
    pub link_candidates: BTreeMap<String, LinkCandidate>,
    /// Per target system, the entity its candidate belongs to (absent in replays: the decisions
    /// do not depend on it, only the redirect does).
    pub link_owners: BTreeMap<String, LinkOwner>,
    /// Fresh values of target systems that have later work queued for this entity (conflicts).
    pub fresh_targets: BTreeMap<String, Fields>,
}

/// The events a decision appends: to this entity, and (for a redirect) to another one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub own: Vec<SyncEvent>,
    pub other: Option<(Uuid, u64, Vec<SyncEvent>)>,
}

impl Outcome {
    pub fn writes(&self) -> impl Iterator<Item = &WriteRequested> {
        self.own.iter().filter_map(|e| match e {
            SyncEvent::WriteRequested(w) => Some(w),
            _ => None,
        })
    }

    pub fn decisions(&self) -> impl Iterator<Item = &DecisionMade> {
        self.own
            .iter()
            .chain(self.other.iter().flat_map(|o| o.2.iter()))
            .filter_map(|e| match e {
                SyncEvent::DecisionMade(d) => Some(d),
                _ => None,
            })
    }
}

/// The request id (and `Idempotency-Key`) of the write a work item asks of a target: the same
/// decision retried asks with the same key.
pub fn request_id(trigger_id: Uuid, target_system: &str, op: WriteOp) -> Uuid {
    let name = format!("{trigger_id}/{target_system}/{op:?}");
    Uuid::new_v5(&trigger_id, name.as_bytes())
}

/// The fingerprint a create is recognised by when its echo comes back: the match keys' values,
/// or (when a match key is empty) all the fields written.
pub fn create_fingerprint(config: &EntityConfig, fields: &Fields) -> String {
    match match_fingerprint(&config.match_keys, fields) {
        Some(fp) => format!("keys:{fp}"),
        None => {
            let all: Vec<String> = fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k.clone())
                .collect();
            format!(
                "all:{}",
                match_fingerprint(&all, fields).unwrap_or_default()
            )
        }
    }
}

/// Decides one work item of an entity. `state` is the entity before this decision.
pub fn decide(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    input: &Gathered,
) -> Outcome {
    let Some((source, record_id)) = trigger.source() else {
        return Outcome::default();
    };
    let Some(source_cfg) = config.systems.get(source) else {
        return skip(
            trigger,
            source,
            source,
            format!("{source} is not a system of {}", config.name),
        );
    };
    let fetched = match &input.fetched {
        Some(f) if f.found => f,
        _ => return decide_gone(config, state, trigger, source, record_id),
    };
    let mut own = Vec::new();
    let mut other = None;
    let linked_here = state
        .links
        .get(source)
        .is_some_and(|l| l.record_id == record_id);
    // An entity that knows nothing but this record (first seen here, or only just recorded by
    // the engine before deciding) may still turn out to be another entity's: the echo of its
    // create, or a record with the keys of a create in flight (see docs/races.md, G2 and G8).
    let alone = state.links.keys().all(|s| s == source) && state.pending_writes.is_empty();
    if let (Some(m), true) = (&input.round_trip, !linked_here || alone) {
        return redirect_round_trip(
            config,
            trigger,
            source,
            &source_cfg.collection,
            record_id,
            m,
        );
    }
    if !linked_here {
        own.push(SyncEvent::RecordLinked(RecordLinked {
            entity_type: config.name.clone(),
            system: source.into(),
            collection: source_cfg.collection.clone(),
            record_id: record_id.into(),
            reason: format!("first seen in {source}"),
        }));
    }

    for (target, target_cfg) in config.systems.iter().filter(|(name, _)| *name != source) {
        let mapped: BTreeSet<&String> = target_cfg.fields.keys().collect();
        let target_known = state.known.get(target.as_str());
        let mut diff = Vec::new();
        let mut echoed = Vec::new();
        let mut theirs = Vec::new();
        let mut conflicts = Vec::new();
        for (field, value) in fetched.fields.iter().filter(|(f, _)| mapped.contains(f)) {
            let before = target_known
                .and_then(|k| k.get(field))
                .cloned()
                .unwrap_or(Value::Null);
            if *value == before {
                continue;
            }
            // Written by the sync within the round-trip TTL, and not replaced in the source
            // since: a value put back by a user after the sync saw it replaced is a real change.
            if input.echo.was_written(source, field, value)
                && state.may_be_echo(source, field, value)
            {
                echoed.push(field.clone());
                continue;
            }
            // The source still holds the value both sides last agreed on: the target changed
            // it since, and its own work item carries that change the other way.
            if state.synced.get(field) == Some(value) {
                theirs.push(field.clone());
                continue;
            }
            if let Some(winner) =
                conflict_winner(config, state, trigger, source, target, field, input)
            {
                conflicts.push(format!("{field} ({winner} wins)"));
                continue;
            }
            diff.push(FieldChange {
                field: field.clone(),
                before,
                after: value.clone(),
            });
        }
        if !conflicts.is_empty() {
            own.push(decision(
                trigger,
                DecisionKind::ConflictResolved,
                source,
                target,
                vec![],
                None,
                format!("kept {} in {target}", conflicts.join(", ")),
            ));
        }
        let linked = state.links.contains_key(target.as_str());
        if !linked {
            own.extend(plan_create(
                config, state, trigger, source, target, fetched, input, &mut other,
            ));
        } else if diff.is_empty() {
            let (kind, reason) = if !echoed.is_empty() {
                (
                    DecisionKind::EchoSuppressed,
                    format!(
                        "{} equal what the sync wrote to {source} (echo)",
                        echoed.join(", ")
                    ),
                )
            } else if !theirs.is_empty() {
                (
                    DecisionKind::Skip,
                    format!(
                        "{} changed in {target} since the last sync, not in {source}",
                        theirs.join(", ")
                    ),
                )
            } else {
                (
                    DecisionKind::Skip,
                    format!("{target} already holds these values"),
                )
            };
            own.push(decision(
                trigger,
                kind,
                source,
                target,
                vec![],
                None,
                reason,
            ));
        } else {
            let link = &state.links[target.as_str()];
            let fields: Fields = diff
                .iter()
                .map(|c| (c.field.clone(), c.after.clone()))
                .collect();
            let id = request_id(trigger.event_id, target, WriteOp::Update);
            let names: Vec<&str> = diff.iter().map(|c| c.field.as_str()).collect();
            own.push(decision(
                trigger,
                DecisionKind::Update,
                source,
                target,
                diff.clone(),
                Some(id),
                format!("{} changed in {source} {record_id}", names.join(", ")),
            ));
            own.push(SyncEvent::WriteRequested(WriteRequested {
                request_id: id,
                target_system: target.clone(),
                collection: link.collection.clone(),
                op: WriteOp::Update,
                record_id: Some(link.record_id.clone()),
                fields,
                match_fingerprint: None,
            }));
        }
    }
    Outcome { own, other }
}

/// Who keeps a field that changed in `source` when the target has its own say about it.
fn conflict_winner(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    source: &str,
    target: &str,
    field: &str,
    input: &Gathered,
) -> Option<String> {
    if config.conflict == ConflictPolicy::Owner {
        return config
            .owners
            .get(field)
            .filter(|owner| owner.as_str() != source)
            .cloned();
    }
    // last_observed: a later observation of the target that changed this field wins; its own
    // work item will carry the value the other way.
    let later_target_work = state.open_triggers.iter().any(|t| {
        t.position > trigger.position
            && matches!(&t.kind, TriggerKind::Observed { system, .. } if system == target)
    });
    let fresh = input.fresh_targets.get(target)?;
    let known = state.known.get(target);
    let changed = fresh.get(field) != known.and_then(|k| k.get(field));
    (later_target_work && changed).then(|| target.to_string())
}

/// What to do towards a target this entity has no record in: wait for a create in flight, link a
/// record with equal match keys, wait for required values, or create.
#[allow(clippy::too_many_arguments)]
fn plan_create(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    source: &str,
    target: &str,
    fetched: &RecordFetched,
    input: &Gathered,
    other: &mut Option<(Uuid, u64, Vec<SyncEvent>)>,
) -> Vec<SyncEvent> {
    let target_cfg = &config.systems[target];
    if state.pending_create(target).is_some() {
        return vec![decision(
            trigger,
            DecisionKind::Skip,
            source,
            target,
            vec![],
            None,
            format!("a create in {target} is already in flight"),
        )];
    }
    if let Some(candidate) = input.link_candidates.get(target) {
        // The record's entity so far hands its work over here, in the same append: if it is
        // deciding at the same moment, one of the two appends loses its version check.
        if let (Some(owner), None) = (input.link_owners.get(target), other.as_ref()) {
            *other = Some((
                owner.entity_id,
                owner.entity_version,
                vec![SyncEvent::RedirectedTo(RedirectedTo {
                    trigger_id: None,
                    entity_id: state.entity_id,
                    system: target.into(),
                    record_id: candidate.record_id.clone(),
                    reason: format!(
                        "{target} {} has the same {} as {source} {}",
                        candidate.record_id,
                        config.match_keys.join(", "),
                        fetched.record_id
                    ),
                })],
            ));
        }
        return vec![
            decision(
                trigger,
                DecisionKind::Link,
                source,
                target,
                vec![],
                None,
                format!(
                    "{target} {} has the same {}",
                    candidate.record_id,
                    config.match_keys.join(", ")
                ),
            ),
            SyncEvent::RecordLinked(RecordLinked {
                entity_type: config.name.clone(),
                system: target.into(),
                collection: target_cfg.collection.clone(),
                record_id: candidate.record_id.clone(),
                reason: "equal match keys".into(),
            }),
            // The two records may differ beyond their keys: fetching the linked one as work
            // of this entity diffs it against what this one holds, so the pair converges (G5).
            SyncEvent::ResyncRequested(ResyncRequested {
                by: "sync (linked by match keys)".into(),
                system: target.into(),
                record_id: candidate.record_id.clone(),
            }),
        ];
    }
    let missing = missing_required(&target_cfg.required, &fetched.fields);
    if !missing.is_empty() {
        return vec![decision(
            trigger,
            DecisionKind::Deferred,
            source,
            target,
            vec![],
            None,
            format!("{target} requires {}, which is empty", missing.join(", ")),
        )];
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
    vec![
        decision(
            trigger,
            DecisionKind::Create,
            source,
            target,
            diff,
            Some(id),
            format!("{source} {} has no record in {target}", fetched.record_id),
        ),
        SyncEvent::WriteRequested(WriteRequested {
            request_id: id,
            target_system: target.into(),
            collection: target_cfg.collection.clone(),
            op: WriteOp::Create,
            record_id: None,
            match_fingerprint: Some(create_fingerprint(config, &fields)),
            fields,
        }),
    ]
}

/// The source record is gone (404), or the work says it was deleted and the fetch agrees.
fn decide_gone(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    source: &str,
    record_id: &str,
) -> Outcome {
    let linked_here = state
        .links
        .get(source)
        .is_some_and(|l| l.record_id == record_id);
    if !linked_here {
        return skip(
            trigger,
            source,
            source,
            format!("{source} {record_id} is gone and not linked"),
        );
    }
    let mut own = vec![SyncEvent::RecordUnlinked(RecordUnlinked {
        system: source.into(),
        record_id: record_id.into(),
        reason: format!("deleted in {source}"),
    })];
    for (target, link) in state.links.iter().filter(|(s, _)| s.as_str() != source) {
        if config.on_delete == OnDelete::Propagate {
            let id = request_id(trigger.event_id, target, WriteOp::Delete);
            own.push(decision(
                trigger,
                DecisionKind::Delete,
                source,
                target,
                vec![],
                Some(id),
                format!("{source} {record_id} was deleted and on_delete = propagate"),
            ));
            own.push(SyncEvent::WriteRequested(WriteRequested {
                request_id: id,
                target_system: target.clone(),
                collection: link.collection.clone(),
                op: WriteOp::Delete,
                record_id: Some(link.record_id.clone()),
                fields: Fields::new(),
                match_fingerprint: None,
            }));
        } else {
            own.push(decision(
                trigger,
                DecisionKind::Unlink,
                source,
                target,
                vec![],
                None,
                format!(
                    "{source} {record_id} was deleted; {target} {} is kept (on_delete = unlink)",
                    link.record_id
                ),
            ));
        }
    }
    if own.len() == 1 {
        own.push(decision(
            trigger,
            DecisionKind::Unlink,
            source,
            source,
            vec![],
            None,
            format!("{source} {record_id} was deleted"),
        ));
    }
    Outcome { own, other: None }
}

fn redirect_round_trip(
    config: &EntityConfig,
    trigger: &Trigger,
    source: &str,
    collection: &str,
    record_id: &str,
    m: &RoundTripMatch,
) -> Outcome {
    // A nil request: the record is already mapped to that entity (its link landed after this
    // webhook was recorded here), so there is nothing to link, only the work to hand over.
    let already_linked = m.request_id.is_nil();
    let reason = if already_linked {
        format!(
            "{source} {record_id} is already linked to entity {}",
            m.entity_id
        )
    } else {
        format!(
            "echo of the sync's own create request {} in {source}",
            m.request_id
        )
    };
    let own = vec![SyncEvent::RedirectedTo(RedirectedTo {
        trigger_id: Some(trigger.event_id),
        entity_id: m.entity_id,
        system: source.into(),
        record_id: record_id.into(),
        reason: reason.clone(),
    })];
    let mut other = Vec::new();
    if !already_linked {
        other.push(SyncEvent::RecordLinked(RecordLinked {
            entity_type: config.name.clone(),
            system: source.into(),
            collection: collection.into(),
            record_id: record_id.into(),
            reason: reason.clone(),
        }));
    }
    other.push(decision(
        trigger,
        DecisionKind::EchoSuppressed,
        source,
        source,
        vec![],
        None,
        reason,
    ));
    // The other entity's decision does not settle a trigger of its own.
    let other = other
        .into_iter()
        .map(|e| match e {
            SyncEvent::DecisionMade(d) => SyncEvent::DecisionMade(DecisionMade {
                trigger_id: None,
                ..d
            }),
            e => e,
        })
        .collect();
    Outcome {
        own,
        other: Some((m.entity_id, m.entity_version, other)),
    }
}

fn skip(trigger: &Trigger, source: &str, target: &str, reason: String) -> Outcome {
    Outcome {
        own: vec![decision(
            trigger,
            DecisionKind::Skip,
            source,
            target,
            vec![],
            None,
            reason,
        )],
        other: None,
    }
}

fn decision(
    trigger: &Trigger,
    kind: DecisionKind,
    source: &str,
    target: &str,
    diff: Vec<FieldChange>,
    request_id: Option<Uuid>,
    reason: String,
) -> SyncEvent {
    SyncEvent::DecisionMade(DecisionMade {
        trigger_id: Some(trigger.event_id),
        kind,
        source_system: source.into(),
        target_system: target.into(),
        reason,
        diff,
        request_id,
    })
}

/// Whether a webhook action alone (without a fetch) says the record is gone.
pub fn announces_delete(trigger: &Trigger) -> bool {
    matches!(
        &trigger.kind,
        TriggerKind::Observed {
            action: Action::Deleted,
            ..
        }
    )
}
