//! One target's fields, sorted by the rule that applies to each (G3, G5).
//!
//! For every mapped field whose fetched value differs from what the target is known to hold, in
//! this order:
//!
//! 1. **Echo** (G3): the sync itself wrote this value into the source within the round-trip
//!    window, and the source has not been seen holding anything else since. A value a user put
//!    back after the sync saw it replaced is a real change and does not stop here.
//! 2. **Theirs** (G5): the source still holds the value both sides last agreed on, so the target
//!    changed the field since; the target's own work item carries that change the other way.
//! 3. **Conflict** (G10): both records changed the field since the last sync, or an open review
//!    holds it ([`super::conflict`]): recorded with both values; the policy's winner is written
//!    to the side that lacks it (the target, or the source), a held field nowhere.
//! 4. **Kept** (G5): the target has its own say (`conflict = "owner"` names another owner, or
//!    with `last_observed` a later observation of the target changed the field): it keeps it.
//! 5. **Changed**: everything else is written to the target.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::{ConflictPolicy, EntityConfig};
use crate::entity::{EntityState, Trigger, TriggerKind};
use crate::events::{FieldChange, RecordFetched};

use super::Gathered;
use super::conflict::{self, Found, Side, Verdict};

/// A target's differing fields, by the rule that claimed each.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Sorted {
    pub echoed: Vec<String>,
    pub theirs: Vec<String>,
    /// Field -> the system that keeps it.
    pub conflicts: BTreeMap<String, String>,
    /// Fields both sides changed (G10), with what the policy made of each.
    pub found: Vec<Found>,
    /// Values of the target that won a conflict: written to the source.
    pub to_source: Vec<FieldChange>,
    pub changed: Vec<FieldChange>,
}

pub(super) fn sort(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    (source, target): (&str, &str),
    fetched: &RecordFetched,
    input: &Gathered,
) -> Sorted {
    let mut sorted = Sorted::default();
    let Some(target_cfg) = config.systems.get(target) else {
        return sorted;
    };
    let known = state.known.get(target);
    let mapped = fetched
        .fields
        .iter()
        .filter(|(f, _)| target_cfg.fields.contains_key(*f));
    for (field, value) in mapped {
        let before = known
            .and_then(|k| k.get(field))
            .cloned()
            .unwrap_or(Value::Null);
        if *value == before {
            continue;
        }
        if input.echo.was_written(source, field, value) && state.may_be_echo(source, field, value) {
            sorted.echoed.push(field.clone());
        } else if state.synced.get(field) == Some(value)
            && !state.conflicts.open.get(field).is_some_and(|o| o.is_held())
        {
            sorted.theirs.push(field.clone());
        } else if let Some((found, target_value)) = conflicting(
            config,
            state,
            trigger,
            (source, target),
            (field, value),
            input,
        ) {
            let change = |before: &Value, after: &Value| FieldChange {
                field: field.clone(),
                before: before.clone(),
                after: after.clone(),
            };
            match found.verdict {
                Verdict::Source => sorted.changed.push(change(&target_value, value)),
                Verdict::Target => sorted.to_source.push(change(value, &target_value)),
                Verdict::Held => {}
            }
            sorted.found.push(found);
        } else if let Some(winner) =
            conflict_winner(config, state, trigger, (source, target), field, input)
        {
            sorted.conflicts.insert(field.clone(), winner);
        } else {
            sorted.changed.push(FieldChange {
                field: field.clone(),
                before,
                after: value.clone(),
            });
        }
    }
    sorted
}

/// The conflict on `field` between the source's fetched `value` and the target's (fresh, or as
/// last seen), with the target's value; `None` when there is none (G10).
fn conflicting(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    (source, target): (&str, &str),
    (field, value): (&str, &Value),
    input: &Gathered,
) -> Option<(Found, Value)> {
    let fresh = input.fresh_targets.get(target);
    let target_value = fresh
        .or(state.known.get(target))
        .and_then(|k| k.get(field))
        .cloned()
        .unwrap_or(Value::Null);
    if !conflict::in_conflict(state, field, value, &target_value) {
        return None;
    }
    let target_seen = match fresh {
        Some(_) => input.at,
        None => state
            .conflicts
            .observed_at(target, field)
            .unwrap_or(input.at),
    };
    let sides = (
        Side {
            system: source,
            value,
            observed_at: input.at,
        },
        Side {
            system: target,
            value: &target_value,
            observed_at: target_seen,
        },
    );
    let found = conflict::found(config, state, trigger, field, sides, fresh.is_some());
    Some((found, target_value))
}

/// Who keeps a field that changed in `source` when the target has its own say about it.
fn conflict_winner(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    (source, target): (&str, &str),
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
    let fresh = input.fresh_targets.get(target)?;
    let changed = fresh.get(field) != state.known.get(target).and_then(|k| k.get(field));
    (has_later_work(state, trigger, target) && changed).then(|| target.to_string())
}

/// Whether a change of `system` observed after `trigger` waits in the entity's queue: its
/// record is then fetched fresh before deciding, so a conflict is resolved by log order (G5).
pub fn has_later_work(state: &EntityState, trigger: &Trigger, system: &str) -> bool {
    state.open_triggers.iter().any(|t| {
        t.position > trigger.position
            && matches!(&t.kind, TriggerKind::Observed { system: s, .. } if s == system)
    })
}
