//! Conflicts (CONTRACT §3, G10), as pure functions: a field both linked records changed since
//! the ledger last synced it, and what the entity's policy makes of it.
//!
//! Numbered as in docs/races.md, "Conflicts":
//!
//! 1. **Detect**: the source's fetched value and the target's value (fresh, or as last seen)
//!    both differ from the value the systems last agreed on (`synced`), and from each other.
//! 2. **Choose**: `last_observed` keeps the value the ledger observed last (a target fetched
//!    fresh for later work is observed after the source); `owner` keeps the owning system's
//!    (the field's owner when it is one of the two, else as `last_observed`); `review` keeps
//!    neither: the field is held, each side keeping its value.
//! 3. **Record**: the conflict is recorded with both values, systems and observation times, the
//!    policy and the choice, so the loser's value is in the log whatever happens next. The same
//!    conflict met again (same values on both sides) is not recorded twice; an open review whose
//!    values changed is recorded again under its id (its candidates move).
//! 4. **Act**: the winner's value is written to the side that does not hold it (the target, or
//!    the source itself); a held field is written nowhere.
//! 5. **Resolve** ([`resolve`]): a person's choice on a review is written, by the workers, to
//!    every linked system that does not hold it, once.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::config::{ConflictPolicy, EntityConfig};
use crate::entity::{EntityState, Trigger};
use crate::events::{
    Basis, Candidate, Chosen, ConflictDetected, DecisionKind, DecisionMade, FieldChange, SyncEvent,
    WriteOp, conflict_id,
};

use super::{Outcome, request_id, write};

/// One side of a field in conflict, as the decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Side<'a> {
    pub system: &'a str,
    pub value: &'a Value,
    pub observed_at: DateTime<Utc>,
}

/// What the policy (or an earlier choice) makes of a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The source's value wins: written to the target.
    Source,
    /// The target's value wins: kept there, and written to the source.
    Target,
    /// Nobody yet (`review`): written nowhere.
    Held,
}

/// A conflict found on one field of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub conflict_id: Uuid,
    pub field: String,
    pub verdict: Verdict,
    /// The event to record; `None` when this very conflict is already recorded.
    pub recorded: Option<ConflictDetected>,
}

/// Step 1: whether `field` is in conflict between the source's `value` and the target's
/// `target_value`: both changed since the systems last agreed, or a review holds it.
pub fn in_conflict(state: &EntityState, field: &str, value: &Value, target_value: &Value) -> bool {
    if value == target_value {
        return false;
    }
    if state.conflicts.open.get(field).is_some_and(|o| o.is_held()) {
        return true;
    }
    state
        .synced
        .get(field)
        .is_some_and(|base| base != value && base != target_value)
}

/// Step 2: the policy's choice between two sides. `target_fresh`: the target was fetched for
/// this decision, after the source.
pub fn choose(
    config: &EntityConfig,
    field: &str,
    (source, target): (&Side, &Side),
    target_fresh: bool,
) -> Verdict {
    let last_observed = || match target_fresh || target.observed_at > source.observed_at {
        true => Verdict::Target,
        false => Verdict::Source,
    };
    match config.conflict {
        ConflictPolicy::Review => Verdict::Held,
        ConflictPolicy::LastObserved => last_observed(),
        ConflictPolicy::Owner => match config.owners.get(field) {
            Some(owner) if owner == source.system => Verdict::Source,
            Some(owner) if owner == target.system => Verdict::Target,
            _ => last_observed(),
        },
    }
}

/// Steps 2 and 3: the conflict on `field` between `source` and `target`, found by `trigger`.
pub fn found(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    field: &str,
    (source, target): (Side, Side),
    target_fresh: bool,
) -> Found {
    let open = state.conflicts.open.get(field);
    let same_values = open.is_some_and(|o| {
        o.candidates.get(source.system) == Some(source.value)
            && o.candidates.get(target.system) == Some(target.value)
    });
    if let (Some(open), true) = (open, same_values) {
        let verdict = match &open.chosen {
            Some(c) if c.value == *source.value => Verdict::Source,
            Some(c) if c.value == *target.value => Verdict::Target,
            _ => Verdict::Held,
        };
        return Found {
            conflict_id: open.conflict_id,
            field: field.to_string(),
            verdict,
            recorded: None,
        };
    }
    // An open review keeps its id while its candidates move; anything else is a new conflict.
    let (id, verdict, detected_at) = match open.filter(|o| o.is_held()) {
        Some(held) => (held.conflict_id, Verdict::Held, held.recorded.detected_at),
        None => (
            conflict_id(trigger.event_id, field),
            choose(config, field, (&source, &target), target_fresh),
            source.observed_at.max(target.observed_at),
        ),
    };
    let chosen = match verdict {
        Verdict::Source => Some(&source),
        Verdict::Target => Some(&target),
        Verdict::Held => None,
    }
    .map(|side| Chosen {
        system: Some(side.system.to_string()),
        value: side.value.clone(),
    });
    let mut candidates: Vec<Candidate> = [&source, &target]
        .into_iter()
        .map(|side| Candidate {
            system: side.system.to_string(),
            value: side.value.clone(),
            observed_at: side.observed_at,
        })
        .collect();
    candidates.sort_by(|a, b| a.system.cmp(&b.system));
    let policy = open.map_or(config.conflict, |o| o.policy);
    Found {
        conflict_id: id,
        field: field.to_string(),
        verdict,
        recorded: Some(ConflictDetected {
            conflict_id: id,
            trigger_id: trigger.event_id,
            field: field.to_string(),
            candidates,
            policy,
            chosen,
            detected_at,
        }),
    }
}

/// The decision that records a conflict's verdict, for `source`'s change acting on `target`.
pub(super) fn verdict_decision(
    trigger: &Trigger,
    (source, target): (&str, &str),
    found: &Found,
    policy: ConflictPolicy,
) -> DecisionMade {
    let chosen = match found.verdict {
        Verdict::Source => Some(source.to_string()),
        Verdict::Target => Some(target.to_string()),
        Verdict::Held => None,
    };
    DecisionMade {
        trigger_id: Some(trigger.event_id),
        kind: match found.verdict {
            Verdict::Held => DecisionKind::Deferred,
            _ => DecisionKind::ConflictResolved,
        },
        source_system: source.into(),
        target_system: target.into(),
        basis: Basis::Conflict {
            conflict_id: found.conflict_id,
            field: found.field.clone(),
            policy,
            chosen,
        },
        diff: vec![],
        request_id: None,
        write: None,
    }
}

/// What a person asks for a review they resolve: keep `system`'s value, or write `value` to
/// every system (exactly one of the two).
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Keep(String),
    Write(Value),
}

/// Why a person's resolution is refused; nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("conflict {0} is not open: it was decided already, or its systems agree again")]
    NotOpen(Uuid),
    #[error("{0} is not a side of this conflict")]
    NotASide(String),
    #[error(
        "conflict {0} was recorded before its entity was erased: its values are gone, so it \
         cannot be resolved; the systems' next change of the field records it again"
    )]
    Erased(Uuid),
}

/// Step 5's event: the person's `choice` on the open review `conflict_id` of `state`, by `by`.
pub fn resolution(
    state: &EntityState,
    conflict_id: Uuid,
    choice: Choice,
    by: &str,
) -> Result<crate::events::ConflictResolved, Refused> {
    let (field, open) = state
        .conflicts
        .open
        .iter()
        .find(|(_, o)| o.conflict_id == conflict_id && o.is_held())
        .ok_or(Refused::NotOpen(conflict_id))?;
    if open.erased {
        return Err(Refused::Erased(conflict_id));
    }
    let chosen = match choice {
        Choice::Keep(system) => {
            let value = open
                .candidates
                .get(&system)
                .ok_or_else(|| Refused::NotASide(system.clone()))?;
            Chosen {
                value: value.clone(),
                system: Some(system),
            }
        }
        Choice::Write(value) => Chosen {
            system: None,
            value,
        },
    };
    Ok(crate::events::ConflictResolved {
        conflict_id,
        field: field.clone(),
        chosen,
        by: by.to_string(),
        candidates: open.recorded.candidates.clone(),
        policy: open.policy,
        detected_at: open.recorded.detected_at,
    })
}

/// Step 5: a person resolved conflict `conflict_id`; every linked system that does not hold
/// the chosen value gets it. The resolution already recorded is the decision's only input.
pub fn resolve(state: &EntityState, trigger: &Trigger, conflict_id: Uuid) -> Outcome {
    let resolved = state
        .conflicts
        .open
        .iter()
        .find(|(_, o)| o.conflict_id == conflict_id)
        .and_then(|(field, o)| Some((field, o.chosen.as_ref()?, o.resolved_by.clone()?)));
    let Some((field, chosen, by)) = resolved else {
        let basis = Basis::ConflictGone { conflict_id };
        return Outcome::from(decision(trigger, DecisionKind::Skip, ("", ""), basis));
    };
    let from = chosen.system.clone().unwrap_or_default();
    let mut own = Vec::new();
    for (system, link) in &state.links {
        let held = state
            .known
            .get(system)
            .and_then(|k| k.get(field))
            .unwrap_or(&Value::Null);
        let basis = Basis::ResolvedByPerson {
            conflict_id,
            field: field.clone(),
            by: by.clone(),
        };
        if *held == chosen.value {
            own.push(decision(
                trigger,
                DecisionKind::Skip,
                (&from, system),
                basis,
            ));
            continue;
        }
        let id = request_id(trigger.event_id, system, WriteOp::Update);
        let mut update = decision(
            trigger,
            DecisionKind::ConflictResolved,
            (&from, system),
            basis,
        );
        if let SyncEvent::DecisionMade(d) = &mut update {
            d.diff = vec![FieldChange {
                field: field.clone(),
                before: held.clone(),
                after: chosen.value.clone(),
            }];
        }
        let fields = [(field.clone(), chosen.value.clone())].into();
        let etag = state.conflicts.etags.get(system).cloned();
        let write = write(id, system, link, WriteOp::Update, fields, etag);
        own.push(super::asking(update, write));
    }
    if own.is_empty() {
        let basis = Basis::ConflictGone { conflict_id };
        own.push(decision(trigger, DecisionKind::Skip, ("", ""), basis));
    }
    Outcome {
        own,
        effects: vec![],
    }
}

fn decision(
    trigger: &Trigger,
    kind: DecisionKind,
    (source, target): (&str, &str),
    basis: Basis,
) -> SyncEvent {
    super::decision(trigger, kind, (source, target), basis)
}
