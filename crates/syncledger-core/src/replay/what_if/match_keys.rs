//! G8 again under proposed match keys.
//!
//! A decision's recorded `link_candidates` were looked up with the match keys of the day. When
//! a proposal changes an entity type's `match_keys`, those lookups no longer say what the
//! proposal would have found, so they are made again, on what the log knew at that point: every
//! record the ledger had fetched, written or listed (as `match_index` holds them), by the
//! fingerprint of the proposed keys, kept free by [`link::is_unpaired`] as the engine keeps it.
//! A record the ledger had never seen cannot be found this way: only asking the system could
//! (docs/operations.md, "What-if").

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use crate::config::EntityConfig;
use crate::decide::link;
use crate::entity::EntityState;
use crate::events::{Fields, LinkCandidate, RecordFetched};
use crate::mapping::match_fingerprint;

/// (entity type, system, fingerprint of the proposed keys).
type Key = (String, String, String);

/// Records by the proposed match keys of the types whose keys the proposal changes.
#[derive(Debug, Default)]
pub(super) struct MatchKeys {
    /// Entity type -> its proposed keys, for the types whose keys change.
    changed: BTreeMap<String, Vec<String>>,
    index: HashMap<Key, BTreeSet<(String, Uuid)>>,
    /// Entity -> the index entries it holds now.
    entries: HashMap<Uuid, Vec<(Key, String)>>,
}

impl MatchKeys {
    pub(super) fn new(running: &[EntityConfig], proposed: &[EntityConfig]) -> Self {
        let changed = proposed
            .iter()
            .filter(|p| {
                running
                    .iter()
                    .find(|r| r.name == p.name)
                    .is_none_or(|r| r.match_keys != p.match_keys)
            })
            .map(|p| (p.name.clone(), p.match_keys.clone()))
            .collect();
        MatchKeys {
            changed,
            ..MatchKeys::default()
        }
    }

    /// Whether decisions of `entity_type` look their candidates up again.
    pub(super) fn reruns(&self, entity_type: &str) -> bool {
        self.changed.contains_key(entity_type)
    }

    /// Files the records `state` holds under the proposed keys (after each of its events).
    pub(super) fn update(&mut self, state: &EntityState) {
        let Some(keys) = state
            .entity_type
            .as_ref()
            .and_then(|t| Some((t, self.changed.get(t)?)))
        else {
            return;
        };
        let (entity_type, keys) = (keys.0.clone(), keys.1.clone());
        let mut now = Vec::new();
        for (system, (record_id, fields)) in records(state) {
            if let Some(fp) = match_fingerprint(&keys, fields) {
                let key = (entity_type.clone(), system.to_string(), fp);
                now.push((key, record_id.to_string()));
            }
        }
        let before = self.entries.remove(&state.entity_id).unwrap_or_default();
        if before == now {
            self.entries.insert(state.entity_id, now);
            return;
        }
        for (key, record_id) in before {
            if let Some(set) = self.index.get_mut(&key) {
                set.remove(&(record_id, state.entity_id));
            }
        }
        for (key, record_id) in &now {
            self.index
                .entry(key.clone())
                .or_default()
                .insert((record_id.clone(), state.entity_id));
        }
        self.entries.insert(state.entity_id, now);
    }

    /// The candidates G8 would find under the proposed keys for `fetched`, per open target.
    /// `owner` gives another entity's state (`None`: the entity deciding, or unknown).
    pub(super) fn candidates<'s>(
        &self,
        config: &EntityConfig,
        state: &'s EntityState,
        fetched: &RecordFetched,
        owner: impl Fn(Uuid) -> Option<&'s EntityState>,
    ) -> BTreeMap<String, LinkCandidate> {
        let mut out = BTreeMap::new();
        let Some(fp) = match_fingerprint(&config.match_keys, &fetched.fields) else {
            return out;
        };
        for target in link::open_targets(config, state, &fetched.system) {
            let key = (config.name.clone(), target.clone(), fp.clone());
            let found = self.index.get(&key).into_iter().flatten().find(|(_, id)| {
                let holder = if *id == state.entity_id {
                    Some(state)
                } else {
                    owner(*id)
                };
                holder.is_some_and(|h| {
                    let known = records(h).get(target.as_str()).map(|(_, f)| *f);
                    link::is_unpaired(config, h, &fetched.system, known, Some(fp.as_str()))
                })
            });
            if let Some((record_id, entity_id)) = found {
                out.insert(
                    target.clone(),
                    LinkCandidate {
                        record_id: record_id.clone(),
                        entity_id: *entity_id,
                    },
                );
            }
        }
        out
    }
}

/// Per system, the record an entity holds there and its fields as last seen: linked and
/// fetched or written, else listed by the initial sync.
fn records(state: &EntityState) -> BTreeMap<&str, (&str, &Fields)> {
    let mut out = BTreeMap::new();
    for (system, (record_id, fields)) in &state.discovered {
        out.insert(system.as_str(), (record_id.as_str(), fields));
    }
    for (system, link) in &state.links {
        if let Some(fields) = state.known.get(system) {
            out.insert(system.as_str(), (link.record_id.as_str(), fields));
        }
    }
    out
}
