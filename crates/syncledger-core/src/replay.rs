//! Replaying decisions: re-run today's decision code over recorded history and report where it
//! now decides differently. A dry run by construction: it reads events and returns a report.
//!
//! Each work item the engine decided left one group of events in the entity's stream, appended
//! together: `InputsGathered` (the work item and what was looked up for it), the records it
//! fetched, then what the decision core returned for this stream. The replay folds the stream up
//! to each group, hands today's code exactly the recorded inputs (the fetches, the lookups, the
//! echo window at the recorded clock reading), decides again and compares the *bases* of the
//! decisions: which rule fired, on which inputs, with which field changes. The same build
//! replaying its own history is therefore silent; a changed rule shows up in exactly the
//! decisions it changes.
//!
//! Groups recorded before `InputsGathered` existed cannot be handed their inputs and are not
//! replayed (the report counts them). A person's retry of a dead letter is decided by the core
//! like any work item (`decide::dead_letter`, from the letter the stream holds) and replayed
//! like one.

use chrono::Duration;
use serde::Serialize;
use uuid::Uuid;

use crate::config::EntityConfig;
use crate::decide::{Gathered, Outcome};
use crate::entity::{EntityState, Trigger};
use crate::events::{Basis, InputsGathered, RecordFetched, SyncEvent};
use crate::log::{Position, RecordedEvent};

/// The decision code a replay runs: [`crate::decide::decide`], or a variant under test.
pub type DecideFn = fn(&EntityConfig, &EntityState, &Trigger, &Gathered) -> Outcome;

/// One verdict of a decision group, reduced to what a reviewer compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionSummary {
    /// A decision kind, or `redirect` for work handed over to another entity.
    pub kind: String,
    pub target_system: String,
    /// The rule that fired and its inputs.
    pub basis: Basis,
    /// `field=value` for every changed field, in field order.
    pub changes: Vec<String>,
}

/// Where today's code decides differently from what was recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayDifference {
    pub entity_id: Uuid,
    /// Position of the first event of the recorded group.
    pub position: Position,
    /// The work item that was being settled.
    pub trigger_id: Uuid,
    pub recorded: Vec<DecisionSummary>,
    pub replayed: Vec<DecisionSummary>,
}

/// What a replay of one stream found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamReplay {
    pub differences: Vec<ReplayDifference>,
    /// Decision groups replayed.
    pub replayed: usize,
    /// Decisions recorded without their inputs (before `InputsGathered`): not replayed.
    pub without_inputs: usize,
    /// Decision groups recorded before the entity was erased: their inputs read as erased, so
    /// they are skipped, never reported as differences (docs/privacy.md).
    pub erased: usize,
}

/// Replays the groups of one entity's stream whose first event lies in `[from, to]` with
/// today's [`crate::decide::decide`]. `events` is the whole stream in sequence order;
/// `echo_ttl` is the round-trip window.
pub fn replay_entity(
    config: &EntityConfig,
    events: &[RecordedEvent],
    from: Position,
    to: Position,
    echo_ttl: Duration,
) -> StreamReplay {
    replay_entity_with(crate::decide::decide, config, events, (from, to), echo_ttl)
}

/// [`replay_entity`] with the decision code given.
pub fn replay_entity_with(
    decide: DecideFn,
    config: &EntityConfig,
    events: &[RecordedEvent],
    (from, to): (Position, Position),
    echo_ttl: Duration,
) -> StreamReplay {
    let mut report = StreamReplay::default();
    let Some(first) = events.first() else {
        return report;
    };
    let mut state = EntityState::fold(first.stream_id, std::iter::empty());
    // Everything before the last erasure was recorded with values that now read as erased.
    let erased_before = events
        .iter()
        .rposition(|e| e.event_type == "EntityErased")
        .unwrap_or(0);
    // Each event is decoded once: to find groups, to replay them, and to fold.
    let mut decoded: Vec<Option<SyncEvent>> = events
        .iter()
        .map(|e| SyncEvent::from_recorded(e).ok())
        .collect();
    // The last fetch G8's first step recorded on its own, for the group that refers to it.
    let mut first_fetch = FirstFetch::default();
    let mut i = 0;
    while i < events.len() {
        let in_range = (from..=to).contains(&events[i].position);
        first_fetch.note(&events[i], decoded[i].as_ref());
        let end = match &decoded[i] {
            Some(SyncEvent::InputsGathered(inputs)) => {
                let end = group_end(events, &decoded, i);
                if in_range && i < erased_before {
                    report.erased += 1;
                } else if in_range {
                    report.replayed += 1;
                    // Every event of a group after its first decoded (`continues_group`).
                    let recorded: Vec<SyncEvent> =
                        decoded[i + 1..end].iter().flatten().cloned().collect();
                    let group = (&events[i..end], recorded.as_slice());
                    let first = first_fetch.of(inputs);
                    if let Some(diff) =
                        replay_group(decide, config, &state, (inputs, first), group, echo_ttl)
                    {
                        report.differences.push(diff);
                    }
                }
                end
            }
            Some(SyncEvent::DecisionMade(d)) if in_range && d.trigger_id.is_some() => {
                report.without_inputs += 1;
                i + 1
            }
            _ => i + 1,
        };
        for (event, sync) in events[i..end].iter().zip(&mut decoded[i..end]) {
            state.apply_decoded(event, sync.take());
        }
        i = end;
    }
    report
}

/// One past the last event of the group opened at `start`: the events that follow it, each
/// caused by the one before, up to the first that is not the decision core's (a write's outcome
/// is caused by its request, but is not part of the decision). `decoded` holds each event of
/// `events` decoded.
fn group_end(events: &[RecordedEvent], decoded: &[Option<SyncEvent>], start: usize) -> usize {
    let mut end = start + 1;
    while end < events.len()
        && continues_group(&events[end - 1], &events[end], decoded[end].as_ref())
    {
        end += 1;
    }
    end
}

/// Whether `next` (the stream's next event, `decoded` when it decodes) belongs to the decision
/// group `last` is in: caused by it, and one of the decision core's own events (a write's
/// outcome is caused by its request, but is not part of the decision).
pub(crate) fn continues_group(
    last: &RecordedEvent,
    next: &RecordedEvent,
    decoded: Option<&SyncEvent>,
) -> bool {
    next.meta.causation_id == Some(last.event_id) && decoded.is_some_and(SyncEvent::is_decided)
}

/// Replays one group: its events, and those after its first decoded.
fn replay_group(
    decide: DecideFn,
    config: &EntityConfig,
    state: &EntityState,
    (inputs, first): (&InputsGathered, Option<&RecordFetched>),
    (group, decoded): (&[RecordedEvent], &[SyncEvent]),
    echo_ttl: Duration,
) -> Option<ReplayDifference> {
    let trigger = state
        .open_triggers
        .iter()
        .find(|t| t.event_id == inputs.trigger_id)?;
    let gathered = recorded_inputs(state, trigger, (inputs, first), decoded, echo_ttl);
    let recorded = summaries(decoded);
    let replayed = summaries(&decide(config, state, trigger, &gathered).own);
    (recorded != replayed).then(|| ReplayDifference {
        entity_id: group[0].stream_id,
        position: group[0].position,
        trigger_id: trigger.event_id,
        recorded,
        replayed,
    })
}

/// What the engine gathered for a recorded group, rebuilt from the log: the lookups of
/// `inputs`, the echo window at its clock reading, and the fetches that lead `decoded` (the
/// group after `InputsGathered`): the source's first, then fresh targets (G5). When `inputs`
/// refers to a fetch G8's first step recorded before the group (`fetched_first`), `first` is
/// that fetch (as [`FirstFetch::of`] found it) and every fetch of the group is a target's.
pub(crate) fn recorded_inputs(
    state: &EntityState,
    trigger: &Trigger,
    (inputs, first): (&InputsGathered, Option<&RecordFetched>),
    decoded: &[SyncEvent],
    echo_ttl: Duration,
) -> Gathered {
    let mut gathered = Gathered {
        at: inputs.at,
        echo: state.written_within(echo_ttl, inputs.at),
        round_trip: inputs.round_trip.clone(),
        link_candidates: inputs.link_candidates.clone(),
        fetched_first: inputs.fetched_first,
        ..Gathered::default()
    };
    let source = trigger.source().map(|(s, _)| s);
    let mut fetches = decoded.iter().map_while(|e| match e {
        SyncEvent::RecordFetched(f) => Some(f),
        _ => None,
    });
    gathered.fetched = match inputs.fetched_first {
        Some(_) => first.cloned(),
        None => fetches
            .next()
            .filter(|f| Some(f.system.as_str()) == source)
            .cloned(),
    };
    for fresh in fetches {
        gathered
            .fresh_targets
            .insert(fresh.system.clone(), fresh.fields.clone());
        if let Some(etag) = &fresh.etag {
            gathered
                .fresh_etags
                .insert(fresh.system.clone(), etag.clone());
        }
    }
    gathered
}

/// The last fetch of a stream that G8's first step recorded on its own (a `RecordFetched`
/// without causation, `decide::first_seen`), kept while walking the stream for the group that
/// refers to it (`InputsGathered::fetched_first`).
#[derive(Debug, Default)]
pub(crate) struct FirstFetch(Option<(Uuid, RecordFetched)>);

impl FirstFetch {
    /// Notes `event` (`decoded` when it decodes) if it is such a fetch.
    pub(crate) fn note(&mut self, event: &RecordedEvent, decoded: Option<&SyncEvent>) {
        if let (Some(SyncEvent::RecordFetched(f)), None) = (decoded, event.meta.causation_id) {
            self.0 = Some((event.event_id, f.clone()));
        }
    }

    /// The fetch `inputs` refers to, if it was the last one noted.
    pub(crate) fn of(&self, inputs: &InputsGathered) -> Option<&RecordFetched> {
        let wanted = inputs.fetched_first?;
        self.0
            .as_ref()
            .filter(|(id, _)| *id == wanted)
            .map(|(_, f)| f)
    }
}

/// The verdicts among a stream's own events: its decisions, and a hand-over.
pub(crate) fn summaries(events: &[SyncEvent]) -> Vec<DecisionSummary> {
    events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::DecisionMade(d) => Some(DecisionSummary {
                kind: d.kind.as_str().to_string(),
                target_system: d.target_system.clone(),
                basis: d.basis.clone(),
                changes: d
                    .diff
                    .iter()
                    .map(|c| format!("{}={}", c.field, c.after))
                    .collect(),
            }),
            SyncEvent::RedirectedTo(r) => Some(DecisionSummary {
                kind: "redirect".into(),
                target_system: r.system.clone(),
                basis: r.basis.clone(),
                changes: vec![format!("entity={}", r.entity_id)],
            }),
            _ => None,
        })
        .collect()
}

pub mod what_if;

#[cfg(test)]
mod tests;
