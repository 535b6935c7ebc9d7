//! The decision core: what to do about one piece of work, as a pure function.
//!
//! Input: the entity's folded state, the record just fetched from the system that changed, and
//! what the engine looked up around it ([`Gathered`]: the sync's recent writes into that system,
//! another entity the record may belong to, records in other systems with equal match keys).
//! Output: the events to append ([`Outcome`]), each decision with its typed [`Basis`]. Writes
//! are the requests the decisions carry (`DecisionMade::write`, [`Outcome::writes`]); the
//! engine performs them after the append commits. No clock, no randomness: request ids derive from the work item and the clock reading
//! is an input ([`Gathered::at`], recorded in `InputsGathered`), so the same input always gives
//! the same output and a replay of the same build is silent.
//!
//! One rule per module, each with its numbered steps:
//! - [`round_trip`]: the record belongs to another entity (G2): hand the work over.
//! - [`delete`]: the source record is gone.
//! - `fields`: per target, which differing fields are echoes (G3), the target's own newer
//!   changes or conflicts (G5), and which changed.
//! - [`link`]: no record in the target: wait for a create in flight (G1), link a record with
//!   equal match keys (G8), wait for required values, or create.
//!
//! Beside `decide`, the choices the engine makes around IO, each pure: [`recovery`] (how a
//! write whose answer was lost is settled, G4), [`retry`] (retry or dead letter) and
//! [`coalesce`] (which queued observations of the same record one fetch settles), and
//! [`created_echo`] (the `created` notice of the sync's own create, settled unfetched).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::config::EntityConfig;
use crate::entity::{EntityState, Link, Trigger, TriggerKind};
use crate::events::{
    Basis, DecisionKind, DecisionMade, FieldChange, Fields, InputsGathered, LinkCandidate,
    RecordFetched, RoundTrip, SyncEvent, WriteOp, WriteRequested,
};
use crate::mapping::match_fingerprint;

pub mod attempt;
mod build;
pub mod coalesce;
pub mod conflict;
pub mod created_echo;
pub mod dead_letter;
mod delete;
mod echo;
mod fields;
pub mod first_seen;
pub mod link;
pub mod recovery;
pub mod retry;
pub mod round_trip;
pub mod route;
#[cfg(test)]
mod tests;

use build::write_back;
pub(crate) use build::{asking, decision, write};
pub use echo::EchoContext;
pub use fields::has_later_work;

/// Everything the engine gathered before deciding one work item.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// The clock reading the round-trip window is measured to.
    pub at: DateTime<Utc>,
    /// The record as its source system returned it.
    pub fetched: Option<RecordFetched>,
    /// The event id of `fetched` when G8's first step recorded it already (`first_seen`): the
    /// decision's group refers to it instead of recording it again.
    pub fetched_first: Option<Uuid>,
    /// The sync's writes into each system within the round-trip window before `at` (G3).
    pub echo: EchoContext,
    /// Another entity the fetched record belongs to (G2).
    pub round_trip: Option<RoundTrip>,
    /// Per target system, a record with equal match keys nobody pairs yet (G8).
    pub link_candidates: BTreeMap<String, LinkCandidate>,
    /// Fresh values of target systems that have later work queued for this entity (G5).
    pub fresh_targets: BTreeMap<String, Fields>,
    /// The `ETag`s of those fresh fetches, when their systems give them (CONTRACT §1).
    pub fresh_etags: BTreeMap<String, String>,
    /// Later queued items about the same record that this fetch and decision settle too
    /// ([`coalesce`]). Not an input of any rule; recorded so the log says what settled them.
    pub covers: Vec<Uuid>,
    /// The versions of the other entities looked at: what an [`Effect`] on them expects. Not an
    /// input of any rule, so not recorded.
    pub versions: BTreeMap<Uuid, u64>,
}

impl Gathered {
    /// The lookups to record with the decision of `trigger`.
    pub fn recorded(&self, trigger: &Trigger) -> InputsGathered {
        InputsGathered {
            trigger_id: trigger.event_id,
            at: self.at,
            round_trip: self.round_trip.clone(),
            link_candidates: self.link_candidates.clone(),
            covers: self.covers.clone(),
            fetched_first: self.fetched_first,
        }
    }

    /// The events that record these inputs, opening the decision's group: `InputsGathered`,
    /// the source's fetch (unless G8's first step recorded it already: `fetched_first`), then
    /// the fresh fetches of targets (G5), by the records `state` links there. What a replay
    /// hands today's code again.
    pub fn recorded_events(&self, trigger: &Trigger, state: &EntityState) -> Vec<SyncEvent> {
        let mut events = vec![SyncEvent::InputsGathered(self.recorded(trigger))];
        if self.fetched_first.is_none() {
            events.extend(self.fetched.clone().map(SyncEvent::RecordFetched));
        }
        for (system, fields) in &self.fresh_targets {
            let Some(link) = state.links.get(system) else {
                continue;
            };
            events.push(SyncEvent::RecordFetched(RecordFetched {
                etag: self.fresh_etags.get(system).cloned(),
                system: system.clone(),
                record_id: link.record_id.clone(),
                found: true,
                fields: fields.clone(),
            }));
        }
        events
    }

    fn version_of(&self, entity_id: Uuid) -> u64 {
        self.versions.get(&entity_id).copied().unwrap_or_default()
    }
}

/// Events a decision appends to another entity's stream, in the same transaction, expecting
/// that stream to be at `expected`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub stream: Uuid,
    pub expected: u64,
    pub events: Vec<SyncEvent>,
}

/// The events a decision appends: to this entity, and to others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub own: Vec<SyncEvent>,
    pub effects: Vec<Effect>,
}

impl From<SyncEvent> for Outcome {
    fn from(event: SyncEvent) -> Self {
        Outcome {
            own: vec![event],
            effects: vec![],
        }
    }
}

impl Outcome {
    /// The writes this entity's decisions ask for, in order.
    pub fn writes(&self) -> impl Iterator<Item = &WriteRequested> {
        self.own.iter().filter_map(crate::events::write_request)
    }

    /// Every decision, this entity's first.
    pub fn decisions(&self) -> impl Iterator<Item = &DecisionMade> {
        self.own
            .iter()
            .chain(self.effects.iter().flat_map(|e| e.events.iter()))
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
///
/// 1. A person's resolution of a conflict: [`conflict::resolve`]; a person's retry of a dead
///    letter: [`dead_letter::retry`].
///    Work that names no record, or a system the type does not sync, decides nothing / skips.
///    The `created` notice of a record the sync created itself is settled unfetched:
///    [`created_echo`].
/// 2. A record that is gone: [`delete`].
/// 3. A record that belongs to another entity: [`round_trip`].
/// 4. A record first seen here is linked to this entity.
/// 5. For every other system: a conflict kept there is recorded; with no record there,
///    [`link`] plans it; with nothing changed, the rule that explains why is recorded; else
///    the changed fields are written.
pub fn decide(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    input: &Gathered,
) -> Outcome {
    match trigger.kind {
        TriggerKind::Resolution { conflict_id } => {
            return conflict::resolve(state, trigger, conflict_id);
        }
        TriggerKind::DeadLetterRetry { dead_letter_id } => {
            return dead_letter::retry(state, trigger, dead_letter_id);
        }
        TriggerKind::Observed { .. } | TriggerKind::Resync { .. } => {}
    }
    let Some((source, record_id)) = trigger.source() else {
        return Outcome::default();
    };
    let Some(source_cfg) = config.systems.get(source) else {
        let basis = Basis::UnknownSystem {
            entity_type: config.name.clone(),
        };
        return decision(trigger, DecisionKind::Skip, (source, source), basis).into();
    };
    if let Some(settled) = created_echo::settled_without_fetch(state, trigger)
        .and_then(|request_id| created_echo::settle(trigger, request_id))
    {
        return settled.into();
    }
    let fetched = match &input.fetched {
        Some(f) if f.found => f,
        _ => return delete::decide_gone(config, state, trigger, (source, record_id)),
    };
    if let Some(found) = &input.round_trip
        && round_trip::may_belong_elsewhere(state, source, record_id)
    {
        return round_trip::redirect(config, trigger, (source, record_id), found, input);
    }
    let mut own = Vec::new();
    let mut effects = Vec::new();
    let mut to_source: (Vec<FieldChange>, BTreeMap<String, Uuid>, Option<String>) =
        Default::default();
    if state
        .links
        .get(source)
        .is_none_or(|l| l.record_id != record_id)
    {
        let collection = source_cfg.collection.as_str();
        let link = first_seen::first_seen_link(config, (source, collection), record_id);
        own.push(SyncEvent::RecordLinked(link));
    }
    for target in config.systems.keys().filter(|name| *name != source) {
        let pair = (source, target.as_str());
        let mut sorted = fields::sort(config, state, trigger, pair, fetched, input);
        for found in &sorted.found {
            own.extend(found.recorded.clone().map(SyncEvent::ConflictDetected));
            let policy = found
                .recorded
                .as_ref()
                .map_or(config.conflict, |r| r.policy);
            let made = conflict::verdict_decision(trigger, pair, found, policy);
            own.push(SyncEvent::DecisionMade(made));
            if found.verdict == conflict::Verdict::Target {
                to_source.1.insert(found.field.clone(), found.conflict_id);
                to_source.2.get_or_insert_with(|| target.clone());
            }
        }
        for change in sorted.to_source.drain(..) {
            if !to_source.0.iter().any(|c| c.field == change.field) {
                to_source.0.push(change);
            }
        }
        // A target with no record has nothing of its own to keep, whoever owns a field.
        let Some(link) = state.links.get(target.as_str()) else {
            own.extend(link::plan_create(
                config,
                state,
                trigger,
                pair,
                fetched,
                input,
                &mut effects,
            ));
            continue;
        };
        if !sorted.conflicts.is_empty() {
            let basis = Basis::ConflictKept {
                winners: sorted.conflicts.clone(),
            };
            let kind = DecisionKind::ConflictResolved;
            own.push(decision(trigger, kind, pair, basis));
        }
        if sorted.changed.is_empty() && !sorted.found.is_empty() {
            continue; // the conflict's decision says what happens to this target
        }
        if sorted.changed.is_empty() {
            let basis = if !sorted.echoed.is_empty() {
                Basis::EchoOfWrite {
                    fields: sorted.echoed,
                }
            } else if !sorted.theirs.is_empty() {
                Basis::ChangedInTarget {
                    fields: sorted.theirs,
                }
            } else {
                Basis::InSync
            };
            let kind = match basis {
                Basis::EchoOfWrite { .. } => DecisionKind::EchoSuppressed,
                _ => DecisionKind::Skip,
            };
            own.push(decision(trigger, kind, pair, basis));
            continue;
        }
        let values: Fields = sorted
            .changed
            .iter()
            .map(|c| (c.field.clone(), c.after.clone()))
            .collect();
        let id = request_id(trigger.event_id, target, WriteOp::Update);
        let basis = Basis::Changed {
            record_id: record_id.into(),
            fields: sorted.changed.iter().map(|c| c.field.clone()).collect(),
        };
        let mut update = decision(trigger, DecisionKind::Update, pair, basis);
        if let SyncEvent::DecisionMade(d) = &mut update {
            d.diff = sorted.changed;
        }
        let etag = input
            .fresh_etags
            .get(target)
            .or(state.conflicts.etags.get(target.as_str()))
            .cloned();
        let write = write(id, target, link, WriteOp::Update, values, etag);
        own.push(asking(update, write));
    }
    if let (false, Some(winner)) = (to_source.0.is_empty(), to_source.2) {
        let link = Link {
            collection: source_cfg.collection.clone(),
            record_id: record_id.into(),
        };
        own.push(write_back(
            trigger,
            (&winner, source),
            &link,
            to_source.0,
            to_source.1,
            fetched.etag.clone(),
        ));
    }
    Outcome { own, effects }
}
