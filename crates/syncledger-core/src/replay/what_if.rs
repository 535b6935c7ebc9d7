//! What-if: replay recorded history under a proposed configuration and report, per entity and
//! with reasons, what it would have decided differently (CONTRACT §7 `replayDecisions(...,
//! config:)`, §8 `syncledger what-if`).
//!
//! [`WhatIf`] is fed the log one event at a time, in position order (entities interleaved, as
//! the log holds them), so a caller streams the log instead of loading it: what it keeps is one
//! folded [`EntityState`] per entity, and the decision group each entity has open. In steps:
//!
//! 1. **Fold.** Every event is folded into its entity's recorded state, whatever the range.
//! 2. **Gather.** A decision group whose first event lies in the range is handed, as in a
//!    same-build replay, exactly its recorded inputs (fetches, lookups, clock reading), except
//!    the G8 lookups of a type whose match keys the proposal changes: those are made again on
//!    what the log knew then ([`match_keys`]).
//! 3. **Decide** with the proposed entity configuration, and compare bases with what was
//!    recorded ([`report::compare`]). An entity type the proposal drops decides nothing.
//! 4. **Diverge.** An entity's first differing decision is reported with the values it would
//!    write differently and the conflicts it would settle the other way, and counted in the
//!    summary. From there on the systems would have answered differently, so the entity's later
//!    recorded decisions are listed as after divergence, not compared.
//!
//! Nothing here writes: it reads events and returns a report.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Duration;
use uuid::Uuid;

use super::{DecideFn, FirstFetch, continues_group, recorded_inputs, summaries};
use crate::config::EntityConfig;
use crate::entity::EntityState;
use crate::events::{InputsGathered, SyncEvent};
use crate::log::{Position, RecordedEvent};

mod match_keys;
mod report;

use match_keys::MatchKeys;
pub use report::{
    AfterDivergence, ConflictFlip, Delta, EntityWhatIf, FieldDifference, Summary, SystemDelta,
    WhatIfReport,
};

/// One entity as the what-if walks it.
struct Walk {
    state: EntityState,
    /// The decision group being read (its events so far), opened by `InputsGathered`.
    group: Vec<RecordedEvent>,
    /// The group's events decoded (every event of a group decodes: `continues_group`).
    decoded: Vec<SyncEvent>,
    examined: bool,
    /// Its place in the report once a decision differed.
    diverged: Option<usize>,
    /// The last fetch G8's first step recorded on its own, for the group that refers to it.
    first_fetch: FirstFetch,
}

/// A what-if over a stream of the log; see the module's steps.
pub struct WhatIf {
    proposed: BTreeMap<String, EntityConfig>,
    range: (Position, Position),
    echo_ttl: Duration,
    decide: DecideFn,
    match_keys: MatchKeys,
    walks: HashMap<Uuid, Walk>,
    /// Entities erased since (docs/privacy.md): their recorded inputs read as erased, so their
    /// decisions are skipped and counted, never compared.
    erased: HashSet<Uuid>,
    report: WhatIfReport,
}

impl WhatIf {
    /// A what-if of `proposed` (the `[[entities]]` a proposal holds) over the decision groups
    /// starting in `[from, to]`; `running` is today's entity configuration, `echo_ttl` the
    /// round-trip window.
    pub fn new(
        running: &[EntityConfig],
        proposed: &[EntityConfig],
        (from, to): (Position, Position),
        echo_ttl: Duration,
    ) -> Self {
        WhatIf::with_decide(
            crate::decide::decide,
            running,
            proposed,
            (from, to),
            echo_ttl,
        )
    }

    /// [`WhatIf::new`] with the decision code given.
    pub fn with_decide(
        decide: DecideFn,
        running: &[EntityConfig],
        proposed: &[EntityConfig],
        range: (Position, Position),
        echo_ttl: Duration,
    ) -> Self {
        WhatIf {
            proposed: proposed
                .iter()
                .map(|e| (e.name.clone(), e.clone()))
                .collect(),
            range,
            echo_ttl,
            decide,
            match_keys: MatchKeys::new(running, proposed),
            walks: HashMap::new(),
            erased: HashSet::new(),
            report: WhatIfReport::default(),
        }
    }

    /// The entities erased anywhere in the log (an `EntityErased` may come after the range): the
    /// caller finds them first, since the log is streamed in position order.
    pub fn skip_erased(&mut self, erased: impl IntoIterator<Item = Uuid>) {
        self.erased.extend(erased);
    }

    /// Entities with events in the range so far.
    pub fn examined(&self) -> usize {
        self.report.summary.entities_examined
    }

    /// The entities whose decision group is still open, with the sequence its next event would
    /// have: a caller that stopped reading before the end of the log completes them.
    pub fn open_groups(&self) -> Vec<(Uuid, u64)> {
        let mut open: Vec<_> = self
            .walks
            .iter()
            .filter_map(|(id, w)| Some((*id, w.group.last()?.sequence + 1)))
            .collect();
        open.sort();
        open
    }

    /// Step 1: the next event of the log (each entity's events in sequence order).
    pub fn push(&mut self, event: RecordedEvent) {
        let decoded = SyncEvent::from_recorded(&event).ok();
        self.push_decoded(event, decoded);
    }

    /// [`WhatIf::push`] of an event its reader already decoded (`None`: it does not decode):
    /// each event is decoded once, for finding groups, deciding again and folding alike, and
    /// the reader may decode on a task of its own.
    pub fn push_decoded(&mut self, event: RecordedEvent, decoded: Option<SyncEvent>) {
        let id = event.stream_id;
        let mut walk = self.walks.remove(&id).unwrap_or_else(|| Walk {
            state: EntityState::fold(id, std::iter::empty()),
            group: Vec::new(),
            decoded: Vec::new(),
            examined: false,
            diverged: None,
            first_fetch: FirstFetch::default(),
        });
        let in_range = self.in_range(event.position);
        if in_range && !walk.examined {
            walk.examined = true;
            self.report.summary.entities_examined += 1;
            if self.erased.contains(&id) {
                self.report.summary.entities_erased += 1;
            }
        }
        if let Some(last) = walk.group.last() {
            if continues_group(last, &event, decoded.as_ref()) {
                walk.group.push(event);
                walk.decoded.extend(decoded); // `Some`: a group's events decode
                self.walks.insert(id, walk);
                return;
            }
            self.close(&mut walk);
        }
        match decoded {
            Some(sync @ SyncEvent::InputsGathered(_)) => {
                walk.group.push(event);
                walk.decoded.push(sync);
            }
            decoded => {
                if let Some(SyncEvent::DecisionMade(d)) = &decoded
                    && in_range
                    && d.trigger_id.is_some()
                {
                    self.report.summary.decisions_without_inputs += 1;
                }
                self.apply(&mut walk, &event, decoded);
            }
        }
        self.walks.insert(id, walk);
    }

    /// The report, once every event of the range (and the rest of any open group) was pushed.
    pub fn finish(mut self) -> WhatIfReport {
        let ids: Vec<Uuid> = self.open_groups().into_iter().map(|(id, _)| id).collect();
        for id in ids {
            if let Some(mut walk) = self.walks.remove(&id) {
                self.close(&mut walk);
                self.walks.insert(id, walk);
            }
        }
        self.report
    }

    fn in_range(&self, position: Position) -> bool {
        (self.range.0..=self.range.1).contains(&position)
    }

    fn apply(&mut self, walk: &mut Walk, event: &RecordedEvent, decoded: Option<SyncEvent>) {
        walk.first_fetch.note(event, decoded.as_ref());
        walk.state.apply_decoded(event, decoded);
        if walk
            .state
            .entity_type
            .as_ref()
            .is_some_and(|t| self.match_keys.reruns(t))
        {
            self.match_keys.update(&walk.state);
        }
    }

    /// Steps 2 to 4 for the group `walk` has open, then folds it.
    fn close(&mut self, walk: &mut Walk) {
        let group = std::mem::take(&mut walk.group);
        let decoded = std::mem::take(&mut walk.decoded);
        let Some(first) = group.first() else { return };
        if let (true, Some(SyncEvent::InputsGathered(inputs))) =
            (self.in_range(first.position), decoded.first())
            && !self.erased.contains(&first.stream_id)
        {
            self.report.summary.decisions_replayed += 1;
            self.decide_again(walk, inputs, first.position, &decoded[1..]);
        }
        for (event, sync) in group.iter().zip(decoded) {
            self.apply(walk, event, Some(sync));
        }
    }

    /// Steps 2 to 4 for a group opened by `inputs` at `at`, whose later events are `recorded`.
    fn decide_again(
        &mut self,
        walk: &mut Walk,
        inputs: &InputsGathered,
        at: Position,
        recorded: &[SyncEvent],
    ) {
        if let Some(diverged) = walk.diverged {
            self.report.summary.decisions_after_divergence += 1;
            self.report.entities[diverged]
                .after_divergence
                .push(AfterDivergence {
                    position: at,
                    recorded: summaries(recorded),
                });
            return;
        }
        let state = &walk.state;
        let (Some(trigger), Some(entity_type)) = (
            state
                .open_triggers
                .iter()
                .find(|t| t.event_id == inputs.trigger_id),
            state.entity_type.as_deref(),
        ) else {
            return;
        };
        let proposed = match self.proposed.get(entity_type) {
            Some(config) => {
                let first = walk.first_fetch.of(inputs);
                let mut gathered =
                    recorded_inputs(state, trigger, (inputs, first), recorded, self.echo_ttl);
                if let (true, Some(fetched)) =
                    (self.match_keys.reruns(entity_type), &gathered.fetched)
                {
                    let walks = &self.walks;
                    gathered.link_candidates =
                        self.match_keys.candidates(config, state, fetched, |id| {
                            walks.get(&id).map(|w| &w.state)
                        });
                }
                (self.decide)(config, state, trigger, &gathered).own
            }
            None => Vec::new(),
        };
        let found = report::compare(
            (state.entity_id, entity_type),
            (at, trigger.event_id),
            recorded,
            &proposed,
        );
        if let Some(found) = found {
            self.report.summary.count(recorded, &proposed);
            walk.diverged = Some(self.report.entities.len());
            self.report.entities.push(found);
        }
    }
}

#[cfg(test)]
mod tests;
