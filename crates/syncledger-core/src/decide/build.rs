//! The events a decision is made of: a `DecisionMade` settling a work item, the write of a
//! linked record it asks for (carried by the decision, [`asking`]), and the write-back of a
//! conflict's winning values to the decision's own source. Shared by every rule of the core.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::request_id;
use crate::entity::{Link, Trigger};
use crate::events::{
    Basis, DecisionKind, DecisionMade, FieldChange, Fields, SyncEvent, WriteOp, WriteRequested,
};

/// The values the target `winner` kept in a conflict, written to the decision's own source.
pub(super) fn write_back(
    trigger: &Trigger,
    (winner, source): (&str, &str),
    link: &Link,
    changes: Vec<FieldChange>,
    conflicts: BTreeMap<String, Uuid>,
    etag: Option<String>,
) -> SyncEvent {
    let id = request_id(trigger.event_id, source, WriteOp::Update);
    let values: Fields = changes
        .iter()
        .map(|c| (c.field.clone(), c.after.clone()))
        .collect();
    let mut update = decision(
        trigger,
        DecisionKind::Update,
        (winner, source),
        Basis::ConflictWon { conflicts },
    );
    if let SyncEvent::DecisionMade(d) = &mut update {
        d.diff = changes;
    }
    asking(
        update,
        write(id, source, link, WriteOp::Update, values, etag),
    )
}

/// A decision about `source`'s change acting on `target`, settling `trigger`.
pub(crate) fn decision(
    trigger: &Trigger,
    kind: DecisionKind,
    (source, target): (&str, &str),
    basis: Basis,
) -> SyncEvent {
    SyncEvent::DecisionMade(DecisionMade {
        trigger_id: Some(trigger.event_id),
        kind,
        source_system: source.into(),
        target_system: target.into(),
        basis,
        diff: vec![],
        request_id: None,
        write: None,
    })
}

/// `decision` asking for `write`: the request travels in the decision (`DecisionMade::write`).
pub(crate) fn asking(decision: SyncEvent, write: WriteRequested) -> SyncEvent {
    match decision {
        SyncEvent::DecisionMade(d) => SyncEvent::DecisionMade(d.asking(write)),
        other => other,
    }
}

/// A write of `fields` to a linked record, on the condition `if_match` when its system gave one.
pub(crate) fn write(
    id: Uuid,
    target: &str,
    link: &Link,
    op: WriteOp,
    fields: Fields,
    if_match: Option<String>,
) -> WriteRequested {
    WriteRequested {
        request_id: id,
        target_system: target.into(),
        collection: link.collection.clone(),
        op,
        record_id: Some(link.record_id.clone()),
        fields,
        match_fingerprint: None,
        if_match,
    }
}
