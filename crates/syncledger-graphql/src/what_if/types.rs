//! A what-if's report as the API shows it (`ReplayReport.whatIf`).

use async_graphql::{ID, Json, SimpleObject};
use serde_json::Value;
use syncledger_core::replay::what_if::{
    AfterDivergence, ConflictFlip, EntityWhatIf, FieldDifference, Summary, WhatIfReport,
};

use crate::types::DecisionSummary;

/// What a proposed configuration would have decided differently.
#[derive(SimpleObject)]
pub struct WhatIfOutput {
    pub summary: WhatIfSummary,
    /// Every entity whose decisions would differ, in order of its first difference.
    pub entities: Vec<WhatIfEntity>,
}

/// Counts over the range. Writes, links and conflicts are counted at each entity's first
/// differing decision only: after it, the systems would have answered differently.
#[derive(SimpleObject)]
pub struct WhatIfSummary {
    /// Entities with events of the tenant in the range.
    pub entities_examined: i32,
    /// Entities with a decision that would differ.
    pub entities_changed: i32,
    /// Entities erased (their decisions cannot be replayed); none can be yet.
    pub entities_erased: i32,
    pub decisions_replayed: i32,
    pub decisions_without_inputs: i32,
    /// Recorded decisions of changed entities after their first difference: not compared.
    pub decisions_after_divergence: i32,
    /// Per target system: the writes the proposal would add or remove.
    pub systems: Vec<WhatIfSystem>,
    /// Links by equal match keys (G8) the proposal would make where none was recorded.
    pub links_formed: i32,
    /// Links by equal match keys that were recorded and the proposal would not make.
    pub links_not_formed: i32,
    /// Conflicts (G10) the proposal would settle the other way.
    pub conflicts_other_way: i32,
}

/// One system's writes, recorded against proposed.
#[derive(SimpleObject)]
pub struct WhatIfSystem {
    pub system: String,
    pub creates_added: i32,
    pub creates_removed: i32,
    pub updates_added: i32,
    pub updates_removed: i32,
    pub deletes_added: i32,
    pub deletes_removed: i32,
    pub requests_recorded: i32,
    pub requests_proposed: i32,
    /// `requestsProposed - requestsRecorded`.
    pub request_difference: i32,
}

/// One entity whose decisions would differ.
#[derive(SimpleObject)]
pub struct WhatIfEntity {
    pub entity_id: ID,
    pub entity_type: String,
    /// Position of the first event of the first differing decision.
    pub position: i64,
    pub trigger_id: ID,
    /// That decision as recorded, each with the rule that fired.
    pub recorded: Vec<DecisionSummary>,
    /// That decision under the proposal.
    pub proposed: Vec<DecisionSummary>,
    /// The values it would write differently.
    pub fields: Vec<WhatIfField>,
    /// Its conflicts whose winner would differ.
    pub conflicts: Vec<WhatIfConflict>,
    /// The entity's later recorded decisions: not compared (after divergence).
    pub after_divergence: Vec<WhatIfLater>,
}

/// A value written to a system, recorded against proposed (null: not written).
#[derive(SimpleObject)]
pub struct WhatIfField {
    pub system: String,
    pub field: String,
    pub recorded: Option<Json<Value>>,
    pub proposed: Option<Json<Value>>,
}

/// A conflict whose winner would differ (null: held for a person).
#[derive(SimpleObject)]
pub struct WhatIfConflict {
    pub conflict_id: ID,
    pub field: String,
    pub recorded: Option<String>,
    pub proposed: Option<String>,
}

/// A recorded decision after the entity's divergence.
#[derive(SimpleObject)]
pub struct WhatIfLater {
    pub position: i64,
    pub recorded: Vec<DecisionSummary>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<WhatIfReport> for WhatIfOutput {
    fn from(report: WhatIfReport) -> Self {
        WhatIfOutput {
            summary: report.summary.into(),
            entities: report.entities.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Summary> for WhatIfSummary {
    fn from(s: Summary) -> Self {
        WhatIfSummary {
            entities_examined: count(s.entities_examined),
            entities_changed: count(s.entities_changed),
            entities_erased: count(s.entities_erased),
            decisions_replayed: count(s.decisions_replayed),
            decisions_without_inputs: count(s.decisions_without_inputs),
            decisions_after_divergence: count(s.decisions_after_divergence),
            systems: s
                .systems
                .into_iter()
                .map(|(system, d)| WhatIfSystem {
                    request_difference: count(d.requests_proposed)
                        .saturating_sub(count(d.requests_recorded)),
                    system,
                    creates_added: count(d.creates.added),
                    creates_removed: count(d.creates.removed),
                    updates_added: count(d.updates.added),
                    updates_removed: count(d.updates.removed),
                    deletes_added: count(d.deletes.added),
                    deletes_removed: count(d.deletes.removed),
                    requests_recorded: count(d.requests_recorded),
                    requests_proposed: count(d.requests_proposed),
                })
                .collect(),
            links_formed: count(s.links_formed),
            links_not_formed: count(s.links_not_formed),
            conflicts_other_way: count(s.conflicts_other_way),
        }
    }
}

impl From<EntityWhatIf> for WhatIfEntity {
    fn from(e: EntityWhatIf) -> Self {
        WhatIfEntity {
            entity_id: ID(e.entity_id.to_string()),
            entity_type: e.entity_type,
            position: e.position.0,
            trigger_id: ID(e.trigger_id.to_string()),
            recorded: e.recorded.into_iter().map(Into::into).collect(),
            proposed: e.proposed.into_iter().map(Into::into).collect(),
            fields: e.fields.into_iter().map(Into::into).collect(),
            conflicts: e.conflicts.into_iter().map(Into::into).collect(),
            after_divergence: e.after_divergence.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<FieldDifference> for WhatIfField {
    fn from(f: FieldDifference) -> Self {
        WhatIfField {
            system: f.system,
            field: f.field,
            recorded: f.recorded.map(Json),
            proposed: f.proposed.map(Json),
        }
    }
}

impl From<ConflictFlip> for WhatIfConflict {
    fn from(c: ConflictFlip) -> Self {
        WhatIfConflict {
            conflict_id: ID(c.conflict_id.to_string()),
            field: c.field,
            recorded: c.recorded,
            proposed: c.proposed,
        }
    }
}

impl From<AfterDivergence> for WhatIfLater {
    fn from(a: AfterDivergence) -> Self {
        WhatIfLater {
            position: a.position.0,
            recorded: a.recorded.into_iter().map(Into::into).collect(),
        }
    }
}

/// A changed entity's first difference, as `replayDecisions` lists differences.
impl From<&EntityWhatIf> for crate::types::ReplayDifference {
    fn from(e: &EntityWhatIf) -> Self {
        crate::types::ReplayDifference {
            entity_id: ID(e.entity_id.to_string()),
            position: e.position.0,
            trigger_id: ID(e.trigger_id.to_string()),
            recorded: e.recorded.iter().cloned().map(Into::into).collect(),
            replayed: e.proposed.iter().cloned().map(Into::into).collect(),
        }
    }
}
