//! Replaying decisions: re-run today's decision code over recorded history and report where it
//! now decides differently. A dry run by construction: it reads events and returns a report.
//!
//! Each work item the engine settled left one group of events in the entity's stream, appended
//! together and chained by causation: the records it fetched, its decisions, the writes it
//! requested. The replay folds the stream up to each group, rebuilds what the engine had gathered
//! from the group's own `RecordFetched` events and the sync's earlier writes, decides again and
//! compares the decisions.

use chrono::Duration;
use serde::Serialize;
use uuid::Uuid;

use crate::config::EntityConfig;
use crate::decide::{Gathered, LinkCandidate, RoundTripMatch, decide};
use crate::entity::EntityState;
use crate::events::{DecisionKind, DecisionMade, SyncEvent};
use crate::log::{Position, RecordedEvent};

/// One decision reduced to what a reviewer compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionSummary {
    pub kind: DecisionKind,
    pub target_system: String,
    /// `field=value` for every changed field, in field order.
    pub changes: Vec<String>,
}

impl From<&DecisionMade> for DecisionSummary {
    fn from(d: &DecisionMade) -> Self {
        DecisionSummary {
            kind: d.kind,
            target_system: d.target_system.clone(),
            changes: d
                .diff
                .iter()
                .map(|c| format!("{}={}", c.field, c.after))
                .collect(),
        }
    }
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

/// Replays the groups of one entity's stream whose first event lies in `[from, to]`.
/// `events` is the whole stream in sequence order; `echo_ttl` is the round-trip context's TTL.
pub fn replay_entity(
    config: &EntityConfig,
    events: &[RecordedEvent],
    from: Position,
    to: Position,
    echo_ttl: Duration,
) -> Vec<ReplayDifference> {
    let Some(first) = events.first() else {
        return vec![];
    };
    let mut state = EntityState::fold(first.stream_id, std::iter::empty());
    let mut differences = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let end = group_end(&state, events, i);
        if end > i + 1 || starts_group(&state, &events[i]) {
            let group = &events[i..end];
            if (from..=to).contains(&group[0].position)
                && let Some(diff) = replay_group(config, &state, group, echo_ttl)
            {
                differences.push(diff);
            }
            for e in group {
                state.apply(e);
            }
            i = end;
        } else {
            state.apply(&events[i]);
            i += 1;
        }
    }
    differences
}

/// Whether `event` opens the events of a work item: caused by an open trigger.
fn starts_group(state: &EntityState, event: &RecordedEvent) -> bool {
    let caused_by_trigger = event
        .meta
        .causation_id
        .is_some_and(|c| state.open_triggers.iter().any(|t| t.event_id == c));
    caused_by_trigger
        && matches!(
            event.event_type.as_str(),
            "RecordFetched" | "DecisionMade" | "RecordLinked"
        )
}

/// One past the last event of the group starting at `start` (causation-chained events).
fn group_end(state: &EntityState, events: &[RecordedEvent], start: usize) -> usize {
    if !starts_group(state, &events[start]) {
        return start;
    }
    let mut end = start + 1;
    while end < events.len() && events[end].meta.causation_id == Some(events[end - 1].event_id) {
        end += 1;
    }
    end
}

fn replay_group(
    config: &EntityConfig,
    state: &EntityState,
    group: &[RecordedEvent],
    echo_ttl: Duration,
) -> Option<ReplayDifference> {
    let trigger_id = group[0].meta.causation_id?;
    let trigger = state
        .open_triggers
        .iter()
        .find(|t| t.event_id == trigger_id)?;
    let decoded: Vec<SyncEvent> = group
        .iter()
        .filter_map(|e| SyncEvent::from_recorded(e).ok())
        .collect();
    let mut gathered = Gathered::default();
    let source = trigger.source().map(|(s, _)| s.to_string());
    for event in &decoded {
        match event {
            SyncEvent::RecordFetched(f)
                if Some(&f.system) == source.as_ref() && gathered.fetched.is_none() =>
            {
                gathered.fetched = Some(f.clone());
            }
            SyncEvent::RecordFetched(f) => {
                gathered
                    .fresh_targets
                    .insert(f.system.clone(), f.fields.clone());
            }
            SyncEvent::RedirectedTo(r) => {
                gathered.round_trip = Some(RoundTripMatch {
                    entity_id: r.entity_id,
                    entity_version: 0,
                    request_id: Uuid::nil(),
                });
            }
            _ => {}
        }
    }
    // A link made by equal match keys was a lookup result: hand it back as a candidate.
    let linked_by_keys = decoded.iter().filter_map(|e| match e {
        SyncEvent::RecordLinked(l) if l.reason == "equal match keys" => Some(l),
        _ => None,
    });
    for link in linked_by_keys {
        gathered.link_candidates.insert(
            link.system.clone(),
            LinkCandidate {
                record_id: link.record_id.clone(),
                fields: Default::default(),
            },
        );
    }
    // The sync's own writes within the TTL before this group: the echo context it had (the
    // live path reads it from the folded stream the same way).
    gathered.echo = state.written_within(echo_ttl, group[0].recorded_at);
    let recorded: Vec<DecisionSummary> = decoded
        .iter()
        .filter_map(|e| match e {
            SyncEvent::DecisionMade(d) => Some(DecisionSummary::from(d)),
            _ => None,
        })
        .collect();
    let outcome = decide(config, state, trigger, &gathered);
    let replayed: Vec<DecisionSummary> = outcome.decisions().map(DecisionSummary::from).collect();
    (recorded != replayed).then(|| ReplayDifference {
        entity_id: group[0].stream_id,
        position: group[0].position,
        trigger_id,
        recorded,
        replayed,
    })
}
