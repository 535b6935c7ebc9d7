//! G8, step 1: *record first, then decide*. What the engine does with a fetched record before
//! it decides, so that two workers deciding a CRM record and an ERP record with the same match
//! keys at the same moment each see the other's record, at the latest when deciding.
//!
//! 1. A record that belongs to another entity (a round trip was found), was not found, or has
//!    an empty match key, or whose entity has a record (or a create on its way) in every other
//!    system, needs no lookup: it is decided at once ([`BeforeDeciding::Decide`]).
//! 2. A record this entity does not link yet is **recorded first**
//!    ([`BeforeDeciding::RecordFirst`]): its fetch and its link to this entity are appended on
//!    their own (so `match_index` holds it before this entity's decision and before any other
//!    worker's), and the decision follows on the job's next step, on the same fetch. The events
//!    are not caused by the work item, so a replay does not take them for a decision.
//! 3. A record this entity links already: `match_index` is asked, for every system the entity
//!    has no record in, for an unpaired record with the same keys
//!    ([`BeforeDeciding::LookUp`], then [`super::link::is_unpaired`]).

use super::link::open_targets;
use crate::config::EntityConfig;
use crate::entity::EntityState;
use crate::events::{RecordFetched, RecordLinked, SyncEvent};
use crate::mapping::match_fingerprint;

/// What the engine does with a fetched record before deciding.
#[derive(Debug, Clone, PartialEq)]
pub enum BeforeDeciding<'a> {
    /// Step 1: decide now, nothing to look up.
    Decide,
    /// Step 2: append these events (the fetch and the link), decide on the next step.
    RecordFirst(Vec<SyncEvent>),
    /// Step 3: look for an unpaired record with equal match keys in these systems.
    LookUp(Vec<&'a String>),
}

/// What to do with `fetched` (a record of `fetched.system`) before deciding; `belongs_elsewhere`:
/// the engine found another entity it belongs to (G2).
pub fn before_deciding<'a>(
    config: &'a EntityConfig,
    state: &EntityState,
    fetched: &RecordFetched,
    belongs_elsewhere: bool,
) -> BeforeDeciding<'a> {
    let source = fetched.system.as_str();
    let Some(source_cfg) = config.systems.get(source) else {
        return BeforeDeciding::Decide; // `decide` skips a system the type does not sync
    };
    if belongs_elsewhere || !fetched.found {
        return BeforeDeciding::Decide;
    }
    let open = open_targets(config, state, source);
    let keyed = match_fingerprint(&config.match_keys, &fetched.fields).is_some();
    if !keyed || open.is_empty() {
        return BeforeDeciding::Decide;
    }
    let linked_here = state
        .links
        .get(source)
        .is_some_and(|l| l.record_id == fetched.record_id);
    if !linked_here {
        return BeforeDeciding::RecordFirst(vec![
            SyncEvent::RecordFetched(fetched.clone()),
            SyncEvent::RecordLinked(first_seen_link(
                config,
                (source, &source_cfg.collection),
                &fetched.record_id,
            )),
        ]);
    }
    BeforeDeciding::LookUp(open)
}

/// The link of a record first seen in `source` (its `collection`) to the entity deciding it:
/// recorded by step 2, or by the decision itself when step 2 did not run (`decide`, step 4).
pub fn first_seen_link(
    config: &EntityConfig,
    (source, collection): (&str, &str),
    record_id: &str,
) -> RecordLinked {
    RecordLinked {
        entity_type: config.name.clone(),
        system: source.into(),
        collection: collection.into(),
        record_id: record_id.into(),
        reason: format!("first seen in {source}"),
    }
}
