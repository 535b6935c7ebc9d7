//! A source record that is gone: deleted, or answering 404 to the fetch.
//!
//! 1. Not linked here: nothing to do (`gone_unlinked`).
//! 2. Linked: the link ends (`RecordUnlinked`), and for every other linked system
//!    `on_delete = propagate` deletes its record, `unlink` keeps it.
//! 3. No other system held the entity: the unlink is the decision (`deleted_alone`).

use crate::config::{EntityConfig, OnDelete};
use crate::entity::{EntityState, Trigger};
use crate::events::{Basis, DecisionKind, Fields, RecordUnlinked, SyncEvent, WriteOp};

use super::{Outcome, decision, request_id, write};

pub(super) fn decide_gone(
    config: &EntityConfig,
    state: &EntityState,
    trigger: &Trigger,
    (source, record_id): (&str, &str),
) -> Outcome {
    let linked_here = state
        .links
        .get(source)
        .is_some_and(|l| l.record_id == record_id);
    let record_id = record_id.to_string();
    if !linked_here {
        let basis = Basis::GoneUnlinked { record_id };
        return Outcome::from(decision(
            trigger,
            DecisionKind::Skip,
            (source, source),
            basis,
        ));
    }
    let mut own = vec![SyncEvent::RecordUnlinked(RecordUnlinked {
        system: source.into(),
        record_id: record_id.clone(),
        reason: format!("deleted in {source}"),
    })];
    for (target, link) in state.links.iter().filter(|(s, _)| s.as_str() != source) {
        let pair = (source, target.as_str());
        if config.on_delete == OnDelete::Propagate {
            let id = request_id(trigger.event_id, target, WriteOp::Delete);
            let basis = Basis::DeletedPropagated {
                record_id: record_id.clone(),
            };
            let delete = decision(trigger, DecisionKind::Delete, pair, basis);
            let etag = state.conflicts.etags.get(target).cloned();
            let write = write(id, target, link, WriteOp::Delete, Fields::new(), etag);
            own.push(super::asking(delete, write));
        } else {
            let basis = Basis::DeletedKept {
                record_id: record_id.clone(),
                kept: link.record_id.clone(),
            };
            own.push(decision(trigger, DecisionKind::Unlink, pair, basis));
        }
    }
    if own.len() == 1 {
        let basis = Basis::DeletedAlone { record_id };
        own.push(decision(
            trigger,
            DecisionKind::Unlink,
            (source, source),
            basis,
        ));
    }
    Outcome {
        own,
        effects: vec![],
    }
}
