//! What a what-if found: per entity, the first decision that would differ and what it would
//! have written; over all of them, the summary.
//!
//! Only first differences are counted in the summary. After an entity's first differing
//! decision the systems would have answered differently (a create not made has no echo, a
//! value not written is not fetched back), so its later recorded decisions say nothing about
//! the proposal: they are listed as "after divergence" and never compared.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::events::{Basis, DecisionKind, SyncEvent, WriteOp};
use crate::log::Position;
use crate::replay::{DecisionSummary, summaries};

/// The whole report of a what-if.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WhatIfReport {
    pub summary: Summary,
    /// Every entity whose decisions would differ, in order of its first difference.
    pub entities: Vec<EntityWhatIf>,
}

/// Counts over the whole range.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Entities with events in the range.
    pub entities_examined: usize,
    /// Entities with a decision that would differ.
    pub entities_changed: usize,
    /// Entities examined that were erased (docs/privacy.md): their decisions are not replayed.
    pub entities_erased: usize,
    /// Decision groups handed their recorded inputs and decided under the proposal.
    pub decisions_replayed: usize,
    /// Decisions recorded before their inputs were kept: not replayed.
    pub decisions_without_inputs: usize,
    /// Recorded decisions of changed entities after their first difference: not compared.
    pub decisions_after_divergence: usize,
    /// Per target system: what the first differences would add or remove there.
    pub systems: BTreeMap<String, SystemDelta>,
    /// Links by equal match keys (G8) the proposal would make where none was recorded.
    pub links_formed: usize,
    /// Links by equal match keys that were recorded and the proposal would not make.
    pub links_not_formed: usize,
    /// Conflicts (G10) whose winner would be the other system (or nobody, or a winner where a
    /// review held the field).
    pub conflicts_other_way: usize,
}

/// One system's writes, recorded against proposed, over the entities' first differences.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SystemDelta {
    pub creates: Delta,
    pub updates: Delta,
    pub deletes: Delta,
    /// Requests the recorded decisions asked of the system.
    pub requests_recorded: usize,
    /// Requests the proposal's decisions would ask instead.
    pub requests_proposed: usize,
}

impl SystemDelta {
    /// Requests the proposal would make minus those recorded.
    pub fn request_difference(&self) -> i64 {
        self.requests_proposed as i64 - self.requests_recorded as i64
    }
}

/// Writes of one kind the proposal would add and remove.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delta {
    pub added: usize,
    pub removed: usize,
}

/// One entity whose decisions would differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityWhatIf {
    pub entity_id: Uuid,
    pub entity_type: String,
    /// Position of the first event of the first differing decision's group.
    pub position: Position,
    /// The work item that decision settled.
    pub trigger_id: Uuid,
    pub recorded: Vec<DecisionSummary>,
    pub proposed: Vec<DecisionSummary>,
    /// The values that decision would write differently.
    pub fields: Vec<FieldDifference>,
    /// Conflicts of that decision whose winner would differ.
    pub conflicts: Vec<ConflictFlip>,
    /// The entity's later recorded decisions, not compared.
    pub after_divergence: Vec<AfterDivergence>,
}

/// A value written to a system, recorded against proposed (`None`: not written).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDifference {
    pub system: String,
    pub field: String,
    pub recorded: Option<Value>,
    pub proposed: Option<Value>,
}

/// A conflict whose winner would differ (`None`: held for a person to decide).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictFlip {
    pub conflict_id: Uuid,
    pub field: String,
    pub recorded: Option<String>,
    pub proposed: Option<String>,
}

/// A recorded decision group after the entity's divergence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AfterDivergence {
    pub position: Position,
    pub recorded: Vec<DecisionSummary>,
}

/// The recorded events of one group (after `InputsGathered`) against the proposal's.
pub(super) fn compare(
    (entity_id, entity_type): (Uuid, &str),
    (position, trigger_id): (Position, Uuid),
    recorded: &[SyncEvent],
    proposed: &[SyncEvent],
) -> Option<EntityWhatIf> {
    let (recorded_sum, proposed_sum) = (summaries(recorded), summaries(proposed));
    if recorded_sum == proposed_sum {
        return None;
    }
    Some(EntityWhatIf {
        entity_id,
        entity_type: entity_type.to_string(),
        position,
        trigger_id,
        fields: field_differences(recorded, proposed),
        conflicts: conflict_flips(recorded, proposed),
        recorded: recorded_sum,
        proposed: proposed_sum,
        after_divergence: Vec::new(),
    })
}

/// (system, field) -> value, for every write among `events`.
fn written(events: &[SyncEvent]) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for event in events {
        if let Some(w) = crate::events::write_request(event) {
            for (field, value) in &w.fields {
                out.insert((w.target_system.clone(), field.clone()), value.clone());
            }
        }
    }
    out
}

fn field_differences(recorded: &[SyncEvent], proposed: &[SyncEvent]) -> Vec<FieldDifference> {
    let (mut was, will) = (written(recorded), written(proposed));
    let mut out = Vec::new();
    for (key, value) in &will {
        let before = was.remove(key);
        if before.as_ref() != Some(value) {
            out.push(FieldDifference {
                system: key.0.clone(),
                field: key.1.clone(),
                recorded: before,
                proposed: Some(value.clone()),
            });
        }
    }
    out.extend(
        was.into_iter()
            .map(|((system, field), value)| FieldDifference {
                system,
                field,
                recorded: Some(value),
                proposed: None,
            }),
    );
    out.sort_by(|a, b| (&a.system, &a.field).cmp(&(&b.system, &b.field)));
    out
}

/// conflict id -> (field, chosen system), for every conflict verdict among `events`.
fn verdicts(events: &[SyncEvent]) -> BTreeMap<Uuid, (String, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::DecisionMade(d) => match &d.basis {
                Basis::Conflict {
                    conflict_id,
                    field,
                    chosen,
                    ..
                } => Some((*conflict_id, (field.clone(), chosen.clone()))),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn conflict_flips(recorded: &[SyncEvent], proposed: &[SyncEvent]) -> Vec<ConflictFlip> {
    let will = verdicts(proposed);
    verdicts(recorded)
        .into_iter()
        .filter_map(|(conflict_id, (field, was))| {
            let (_, now) = will.get(&conflict_id)?;
            (*now != was).then(|| ConflictFlip {
                conflict_id,
                field,
                recorded: was,
                proposed: now.clone(),
            })
        })
        .collect()
}

impl Summary {
    /// Counts what a first difference adds or removes.
    pub(super) fn count(&mut self, recorded: &[SyncEvent], proposed: &[SyncEvent]) {
        self.entities_changed += 1;
        let writes = |events: &[SyncEvent]| -> BTreeMap<(String, u8), usize> {
            let mut out = BTreeMap::new();
            for event in events {
                if let Some(w) = crate::events::write_request(event) {
                    let op = match w.op {
                        WriteOp::Create => 0,
                        WriteOp::Update => 1,
                        WriteOp::Delete => 2,
                    };
                    *out.entry((w.target_system.clone(), op)).or_default() += 1;
                }
            }
            out
        };
        let (was, will) = (writes(recorded), writes(proposed));
        let mut keys: Vec<_> = was.keys().chain(will.keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        for (system, op) in keys {
            let before = was.get(&(system.clone(), op)).copied().unwrap_or(0);
            let after = will.get(&(system.clone(), op)).copied().unwrap_or(0);
            let delta = self.systems.entry(system).or_default();
            delta.requests_recorded += before;
            delta.requests_proposed += after;
            let kind = match op {
                0 => &mut delta.creates,
                1 => &mut delta.updates,
                _ => &mut delta.deletes,
            };
            kind.added += after.saturating_sub(before);
            kind.removed += before.saturating_sub(after);
        }
        let links = |events: &[SyncEvent]| -> Vec<String> {
            let mut out: Vec<String> = events
                .iter()
                .filter_map(|e| match e {
                    SyncEvent::DecisionMade(d) if d.kind == DecisionKind::Link => {
                        Some(d.target_system.clone())
                    }
                    _ => None,
                })
                .collect();
            out.sort();
            out
        };
        let (was, will) = (links(recorded), links(proposed));
        self.links_formed += will.iter().filter(|s| !was.contains(s)).count();
        self.links_not_formed += was.iter().filter(|s| !will.contains(s)).count();
        self.conflicts_other_way += conflict_flips(recorded, proposed).len();
    }
}
