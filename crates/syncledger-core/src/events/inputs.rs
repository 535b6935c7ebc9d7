//! What the engine looked up before a decision, recorded with it so a replay decides from the
//! same inputs.
//!
//! A decision depends on the entity's stream (folded into state), on the records fetched (each
//! recorded as `RecordFetched` in the decision's group) and on a few lookups outside the stream:
//! the clock reading that bounds the round-trip window (G3), another entity the fetched record
//! belongs to (G2) and records of other systems with equal match keys (G8). [`InputsGathered`]
//! opens every decision group and holds those lookups, so today's code can be handed exactly
//! what the recorded decision saw. Versions of other streams are not inputs (they only guard the
//! append) and are not recorded.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Another entity the fetched record belongs to (G2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "found", rename_all = "snake_case")]
pub enum RoundTrip {
    /// `id_mappings` maps the record to that entity already.
    LinkedTo { entity_id: Uuid },
    /// Its fingerprint equals that entity's create `request_id`, still in flight.
    EchoOf { entity_id: Uuid, request_id: Uuid },
}

impl RoundTrip {
    pub fn entity_id(&self) -> Uuid {
        match self {
            RoundTrip::LinkedTo { entity_id } | RoundTrip::EchoOf { entity_id, .. } => *entity_id,
        }
    }
}

/// A record of a target system with the fetched record's match keys that no entity pairs with
/// a record of the source yet (G8), and the entity whose stream holds it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCandidate {
    pub record_id: String,
    pub entity_id: Uuid,
}

/// The first event of a decision's group: the work item decided and what was looked up for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputsGathered {
    pub trigger_id: Uuid,
    /// The clock reading the decision used (the end of the round-trip window's look-back).
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trip: Option<RoundTrip>,
    /// Per target system.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub link_candidates: BTreeMap<String, LinkCandidate>,
    /// Later queued work items about the same record that this group's fetch and decision
    /// settle too (`decide::coalesce`): their changes are in the fetch. Folding this event
    /// closes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<Uuid>,
    /// The source's fetch this group decides on, when G8's first step recorded it on its own
    /// just before (`decide::first_seen`, step 2: the event id of that `RecordFetched`, which
    /// has no causation): the group then holds no fetch of the source, and a replay takes that
    /// one. Absent: the group's first `RecordFetched` is the source's (every group recorded
    /// before 2026-12-06 repeated the first step's fetch there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_first: Option<Uuid>,
}
