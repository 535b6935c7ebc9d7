//! `DecisionMade`: what the decision core chose, why, and (since version 3) the write it asks for.
//!
//! Until version 3 a decision that wrote was followed by a `WriteRequested` of its own, which
//! repeated the request id and target and cost an event (an envelope, index entries). Now the
//! decision carries the request as `write`, stored without what the decision already says (its
//! `request_id` and `target_system`, and its fields when they are the diff's `after` values),
//! and the write's outcome is caused by the decision. Logs
//! recorded before keep their `WriteRequested` events: every reader takes a request from either
//! form through [`write_request`], so both read the same.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Basis, DecisionKind, FieldChange, Fields, SyncEvent, WriteOp, WriteRequested};

/// A sync decision, with its basis (the rule that fired, on which inputs) and the field diff it
/// acts on. Its reason in words is derived from the basis ([`DecisionMade::reason`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Stored")]
pub struct DecisionMade {
    /// The work item this decision settles: the event id of the `ChangeObserved`,
    /// `ResyncRequested` or `DeadLetterRetried` that asked for it.
    pub trigger_id: Option<Uuid>,
    pub kind: DecisionKind,
    /// The system whose change is being synced.
    pub source_system: String,
    /// The system the decision acts on.
    pub target_system: String,
    pub basis: Basis,
    pub diff: Vec<FieldChange>,
    /// The write this decision asks for, when it asks for one.
    pub request_id: Option<Uuid>,
    /// The request itself (version 3; set with [`DecisionMade::asking`]): its `request_id` and
    /// `target_system` are the decision's. `None` for a decision that writes nothing, and for
    /// one recorded before version 3, whose request is the `WriteRequested` that follows it.
    pub write: Option<WriteRequested>,
}

impl DecisionMade {
    /// The reason in words, derived from the basis.
    pub fn reason(&self) -> String {
        self.basis.explain(&self.source_system, &self.target_system)
    }

    /// This decision asking for `write` (into the decision's own target).
    pub fn asking(self, write: WriteRequested) -> Self {
        debug_assert_eq!(write.target_system, self.target_system);
        DecisionMade {
            request_id: Some(write.request_id),
            write: Some(write),
            ..self
        }
    }
}

/// The write `event` asks for, in either form: a decision's own (version 3), or a
/// `WriteRequested` (what every build before wrote, and what old logs hold). The one way every
/// reader finds a request, so old logs read as they did.
pub fn write_request(event: &SyncEvent) -> Option<&WriteRequested> {
    match event {
        SyncEvent::DecisionMade(d) => d.write.as_ref(),
        SyncEvent::WriteRequested(w) => Some(w),
        _ => None,
    }
}

/// A decision as stored: a version-2 decision is a version-3 one without `write`.
#[derive(Deserialize)]
struct Stored {
    trigger_id: Option<Uuid>,
    kind: DecisionKind,
    source_system: String,
    target_system: String,
    basis: Basis,
    diff: Vec<FieldChange>,
    request_id: Option<Uuid>,
    #[serde(default)]
    write: Option<StoredWrite>,
}

/// A decision's write as stored: the request without its id and target (the decision's), and
/// without its fields when they are the diff's `after` values (they are for every rule but a
/// person's retry of a dead letter, whose diff is empty).
#[derive(Deserialize)]
struct StoredWrite {
    op: WriteOp,
    collection: String,
    record_id: Option<String>,
    #[serde(default)]
    fields: Option<Fields>,
    match_fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    if_match: Option<String>,
}

impl TryFrom<Stored> for DecisionMade {
    type Error = &'static str;

    fn try_from(s: Stored) -> Result<Self, Self::Error> {
        let write = match (s.write, s.request_id) {
            (None, _) => None,
            (Some(w), Some(request_id)) => Some(WriteRequested {
                request_id,
                target_system: s.target_system.clone(),
                collection: w.collection,
                op: w.op,
                record_id: w.record_id,
                fields: w.fields.unwrap_or_else(|| afters(&s.diff)),
                match_fingerprint: w.match_fingerprint,
                if_match: w.if_match,
            }),
            (Some(_), None) => return Err("a decision's write without its request_id"),
        };
        Ok(DecisionMade {
            trigger_id: s.trigger_id,
            kind: s.kind,
            source_system: s.source_system,
            target_system: s.target_system,
            basis: s.basis,
            diff: s.diff,
            request_id: s.request_id,
            write,
        })
    }
}

/// Borrowed, for writing: the same shape as [`StoredWrite`].
#[derive(Serialize)]
struct WriteRef<'a> {
    op: WriteOp,
    collection: &'a str,
    record_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a Fields>,
    match_fingerprint: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    if_match: Option<&'a String>,
}

impl Serialize for DecisionMade {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Ref<'a> {
            trigger_id: &'a Option<Uuid>,
            kind: DecisionKind,
            source_system: &'a str,
            target_system: &'a str,
            basis: &'a Basis,
            diff: &'a [FieldChange],
            request_id: Option<Uuid>,
            #[serde(skip_serializing_if = "Option::is_none")]
            write: Option<WriteRef<'a>>,
        }
        let write = self.write.as_ref().map(|w| WriteRef {
            op: w.op,
            collection: &w.collection,
            record_id: &w.record_id,
            fields: (w.fields != afters(&self.diff)).then_some(&w.fields),
            match_fingerprint: &w.match_fingerprint,
            if_match: w.if_match.as_ref(),
        });
        Ref {
            trigger_id: &self.trigger_id,
            kind: self.kind,
            source_system: &self.source_system,
            target_system: &self.target_system,
            basis: &self.basis,
            diff: &self.diff,
            // The write's own id, should the two ever differ: it is the one stored.
            request_id: self
                .write
                .as_ref()
                .map(|w| w.request_id)
                .or(self.request_id),
            write,
        }
        .serialize(serializer)
    }
}

/// The values a diff writes: each field's `after`.
fn afters(diff: &[FieldChange]) -> Fields {
    diff.iter()
        .map(|c| (c.field.clone(), c.after.clone()))
        .collect()
}

/// Version 2 of `DecisionMade` to version 3: nothing to change (a version-2 decision carries
/// no `write`; its request, if any, is the `WriteRequested` after it).
pub struct WithWrite;

impl crate::log::Upcaster for WithWrite {
    fn event_type(&self) -> &str {
        "DecisionMade"
    }

    fn source_version(&self) -> i32 {
        2
    }

    fn upcast(&self, payload: serde_json::Value) -> serde_json::Value {
        payload
    }
}

#[cfg(test)]
mod tests;
