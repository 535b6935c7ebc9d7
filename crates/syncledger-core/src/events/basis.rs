//! Why a decision was taken, as data: which rule of the decision core fired, on which inputs.
//!
//! A [`DecisionMade`](super::DecisionMade) carries its [`Basis`]; the explanation a person reads
//! is derived from it ([`Basis::explain`]), and a replay compares bases, never text. A basis
//! names only what the rule looked at (record ids, field names, request ids), never a value a
//! person could not see in the stream itself.
//!
//! Decisions recorded before bases existed (schema version 1 of `DecisionMade` and
//! `RedirectedTo`) are upcast to
//! [`Basis::Recorded`], which keeps their text; such a basis compares equal only to itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The rule behind a decision, with the inputs it fired on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Basis {
    /// The work names a system the entity type does not sync.
    UnknownSystem { entity_type: String },
    /// The source record is gone (404) and this entity never linked it.
    GoneUnlinked { record_id: String },
    /// The source record was deleted; `on_delete = propagate` deletes the target's.
    DeletedPropagated { record_id: String },
    /// The source record was deleted; `on_delete = unlink` keeps the target's record `kept`.
    DeletedKept { record_id: String, kept: String },
    /// The source record was deleted and no other system holds the entity.
    DeletedAlone { record_id: String },
    /// G2: the record is the echo of the sync's own create `request_id`, in flight for `entity_id`.
    EchoOfCreate { entity_id: Uuid, request_id: Uuid },
    /// The `created` notice of `record_id`, which this entity's sync created itself (request
    /// `request_id`): its answer already said what the record holds, so nothing is fetched.
    CreatedBySync { record_id: String, request_id: Uuid },
    /// G2: the record is already linked to another entity (its link landed after this work was
    /// recorded here).
    LinkedElsewhere { record_id: String, entity_id: Uuid },
    /// G3: every differing field holds a value the sync itself wrote into the source.
    EchoOfWrite { fields: Vec<String> },
    /// G5: the source still holds the last agreed values; the target changed `fields` since.
    ChangedInTarget { fields: Vec<String> },
    /// The target already holds the source's values.
    InSync,
    /// G5: a conflicting field kept in the target, by field, with the system that wins it.
    ConflictKept { winners: BTreeMap<String, String> },
    /// G10: both linked records changed `field` since the last sync (conflict `conflict_id`,
    /// recorded with both values by `ConflictDetected`); `policy` chose `chosen`'s value, or
    /// nobody's (`review`: the field is held).
    Conflict {
        conflict_id: Uuid,
        field: String,
        policy: crate::config::ConflictPolicy,
        chosen: Option<String>,
    },
    /// G10: the values of `conflicts` (field -> conflict id) won in the decision's source
    /// system: they are written to its target, which lost.
    ConflictWon { conflicts: BTreeMap<String, Uuid> },
    /// G10: `by` resolved conflict `conflict_id` on `field`: the chosen value is written where
    /// it differs.
    ResolvedByPerson {
        conflict_id: Uuid,
        field: String,
        by: String,
    },
    /// A resolution names a conflict this entity no longer holds open.
    ConflictGone { conflict_id: Uuid },
    /// The source changed `fields`: they are written to the target.
    Changed {
        record_id: String,
        fields: Vec<String>,
    },
    /// The source record has no record in the target: one is created.
    NoRecordInTarget { record_id: String },
    /// G1: a create towards the target is already in flight.
    CreateInFlight { request_id: Uuid },
    /// G8: the target holds `record_id` with equal match keys and no entity pairs it yet.
    EqualMatchKeys {
        record_id: String,
        keys: Vec<String>,
    },
    /// The target requires `fields`, which the source leaves empty: the create waits.
    RequiredEmpty { fields: Vec<String> },
    /// A person asked to retry dead letter `dead_letter_id`: its record is fetched again.
    RetryRefetch {
        dead_letter_id: Uuid,
        record_id: String,
    },
    /// A person asked to retry dead letter `dead_letter_id`: its write is requested again.
    RetryWrite { dead_letter_id: Uuid },
    /// A person asked to retry dead letter `dead_letter_id`, which holds nothing to retry.
    RetryNothing { dead_letter_id: Uuid },
    /// A person asked to retry dead letter `dead_letter_id`, whose write the sync has
    /// done otherwise since: its create's target has a record of the entity, or every value
    /// of its update was replaced.
    RetrySuperseded { dead_letter_id: Uuid },
    /// A decision recorded before bases were kept: its text, as recorded.
    Recorded { reason: String },
}

impl Basis {
    /// The rule's name, as stored (`rule`), for filters and summaries.
    pub fn rule(&self) -> &'static str {
        match self {
            Basis::UnknownSystem { .. } => "unknown_system",
            Basis::GoneUnlinked { .. } => "gone_unlinked",
            Basis::DeletedPropagated { .. } => "deleted_propagated",
            Basis::DeletedKept { .. } => "deleted_kept",
            Basis::DeletedAlone { .. } => "deleted_alone",
            Basis::EchoOfCreate { .. } => "echo_of_create",
            Basis::CreatedBySync { .. } => "created_by_sync",
            Basis::LinkedElsewhere { .. } => "linked_elsewhere",
            Basis::EchoOfWrite { .. } => "echo_of_write",
            Basis::ChangedInTarget { .. } => "changed_in_target",
            Basis::InSync => "in_sync",
            Basis::ConflictKept { .. } => "conflict_kept",
            Basis::Conflict { .. } => "conflict",
            Basis::ConflictWon { .. } => "conflict_won",
            Basis::ResolvedByPerson { .. } => "resolved_by_person",
            Basis::ConflictGone { .. } => "conflict_gone",
            Basis::Changed { .. } => "changed",
            Basis::NoRecordInTarget { .. } => "no_record_in_target",
            Basis::CreateInFlight { .. } => "create_in_flight",
            Basis::EqualMatchKeys { .. } => "equal_match_keys",
            Basis::RequiredEmpty { .. } => "required_empty",
            Basis::RetryRefetch { .. } => "retry_refetch",
            Basis::RetryWrite { .. } => "retry_write",
            Basis::RetryNothing { .. } => "retry_nothing",
            Basis::RetrySuperseded { .. } => "retry_superseded",
            Basis::Recorded { .. } => "recorded",
        }
    }

    /// The reason in words, for a decision about `source`'s change acting on `target`.
    pub fn explain(&self, source: &str, target: &str) -> String {
        match self {
            Basis::UnknownSystem { entity_type } => {
                format!("{source} is not a system of {entity_type}")
            }
            Basis::GoneUnlinked { record_id } => {
                format!("{source} {record_id} is gone and not linked")
            }
            Basis::DeletedPropagated { record_id } => {
                format!("{source} {record_id} was deleted and on_delete = propagate")
            }
            Basis::DeletedKept { record_id, kept } => format!(
                "{source} {record_id} was deleted; {target} {kept} is kept (on_delete = unlink)"
            ),
            Basis::DeletedAlone { record_id } => format!("{source} {record_id} was deleted"),
            Basis::EchoOfCreate { request_id, .. } => {
                format!("echo of the sync's own create request {request_id} in {source}")
            }
            Basis::CreatedBySync {
                record_id,
                request_id,
            } => format!(
                "{source} {record_id} was created by the sync (request {request_id}); its answer already gave its values"
            ),
            Basis::LinkedElsewhere {
                record_id,
                entity_id,
            } => format!("{source} {record_id} is already linked to entity {entity_id}"),
            Basis::EchoOfWrite { fields } => format!(
                "{} equal what the sync wrote to {source} (echo)",
                fields.join(", ")
            ),
            Basis::ChangedInTarget { fields } => format!(
                "{} changed in {target} since the last sync, not in {source}",
                fields.join(", ")
            ),
            Basis::InSync => format!("{target} already holds these values"),
            Basis::ConflictKept { winners } => {
                let kept: Vec<String> = winners
                    .iter()
                    .map(|(field, winner)| format!("{field} ({winner} wins)"))
                    .collect();
                format!("kept {} in {target}", kept.join(", "))
            }
            Basis::Conflict {
                conflict_id,
                field,
                policy,
                chosen,
            } => {
                let both =
                    format!("both {source} and {target} changed {field} since the last sync");
                match chosen {
                    Some(winner) => format!("{both}; {} chose {winner}'s value", policy.as_str()),
                    None => format!(
                        "{both}; held in both until a person resolves conflict {conflict_id} ({})",
                        policy.as_str()
                    ),
                }
            }
            Basis::ConflictWon { conflicts } => {
                let fields: Vec<&str> = conflicts.keys().map(String::as_str).collect();
                format!(
                    "{source}'s {} won the conflict: written to {target}",
                    fields.join(", ")
                )
            }
            Basis::ResolvedByPerson {
                conflict_id,
                field,
                by,
            } => format!("{by} resolved conflict {conflict_id} on {field}"),
            Basis::ConflictGone { conflict_id } => {
                format!("conflict {conflict_id} holds no choice to write")
            }
            Basis::Changed { record_id, fields } => {
                format!("{} changed in {source} {record_id}", fields.join(", "))
            }
            Basis::NoRecordInTarget { record_id } => {
                format!("{source} {record_id} has no record in {target}")
            }
            Basis::CreateInFlight { .. } => format!("a create in {target} is already in flight"),
            Basis::EqualMatchKeys { record_id, keys } => {
                format!("{target} {record_id} has the same {}", keys.join(", "))
            }
            Basis::RequiredEmpty { fields } => {
                format!("{target} requires {}, which is empty", fields.join(", "))
            }
            Basis::RetryRefetch {
                dead_letter_id,
                record_id,
            } => format!(
                "retry of dead letter {dead_letter_id} asked by a person: \
                 {source} {record_id} is fetched again"
            ),
            Basis::RetryWrite { dead_letter_id } => {
                format!("retry of dead letter {dead_letter_id} asked by a person")
            }
            Basis::RetryNothing { dead_letter_id } => {
                format!("dead letter {dead_letter_id} holds no write to retry")
            }
            Basis::RetrySuperseded { dead_letter_id } => format!(
                "retry of dead letter {dead_letter_id} asked by a person: nothing of it is left \
                 to write, the sync wrote {target} otherwise since"
            ),
            Basis::Recorded { reason } => reason.clone(),
        }
    }
}

/// Version 1 of `DecisionMade` and `RedirectedTo` kept only the reason's text: version 2 keeps
/// the basis it is derived from.
pub struct ReasonToBasis(pub &'static str);

impl crate::log::Upcaster for ReasonToBasis {
    fn event_type(&self) -> &str {
        self.0
    }

    fn source_version(&self) -> i32 {
        1
    }

    fn upcast(&self, mut payload: serde_json::Value) -> serde_json::Value {
        if let Some(object) = payload.as_object_mut() {
            let reason = object
                .remove("reason")
                .and_then(|r| r.as_str().map(str::to_string))
                .unwrap_or_default();
            object.insert(
                "basis".into(),
                serde_json::json!({ "rule": "recorded", "reason": reason }),
            );
        }
        payload
    }
}

/// Every upcaster of the catalog, for a store to apply to what it reads.
pub fn upcasters() -> crate::log::Upcasters {
    crate::log::Upcasters::new()
        .with(ReasonToBasis("DecisionMade"))
        .with(super::decision::WithWrite)
        .with(ReasonToBasis("RedirectedTo"))
        .with(super::DeadLetterToTyped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Upcaster;

    #[test]
    fn a_version_1_decision_keeps_its_text_as_a_recorded_basis() {
        let old = serde_json::json!({"kind": "skip", "reason": "crm already holds these values"});
        let new = ReasonToBasis("DecisionMade").upcast(old);
        assert_eq!(new.get("reason"), None);
        let basis: Basis = serde_json::from_value(new["basis"].clone()).unwrap();
        assert_eq!(
            basis,
            Basis::Recorded {
                reason: "crm already holds these values".into()
            }
        );
        assert_eq!(
            basis.explain("erp", "crm"),
            "crm already holds these values"
        );
    }

    #[test]
    fn a_basis_is_stored_with_its_rule_name() {
        let basis = Basis::EchoOfWrite {
            fields: vec!["phone".into()],
        };
        let stored = serde_json::to_value(&basis).unwrap();
        assert_eq!(stored["rule"], basis.rule());
        assert_eq!(
            basis.explain("erp", "crm"),
            "phone equal what the sync wrote to erp (echo)"
        );
    }
}
