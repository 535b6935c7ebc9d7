//! `Entity.summary`: the entity in one line, from `syncledger_core::explain::summary`.

use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};
use syncledger_core::explain::summary::{Held, Standing, Summary};

/// Where an entity stands, in one line a person reads first.
#[derive(SimpleObject)]
pub struct EntitySummary {
    /// `linked`, `deleted`, `unlinked` or `redirected`.
    pub standing: String,
    /// The line itself, e.g. `Deleted 2026-11-21 05:41 UTC because erp customer E-1 was
    /// deleted.` or `Linked in crm contact c-1. Not in erp: it requires email (held since ...).`
    pub text: String,
    /// The last name a system was seen holding (a title when the records are gone).
    pub name: Option<String>,
    /// Systems the sync would have a record in but has not, and why.
    pub held: Vec<HeldRecord>,
    /// The entity this stream's records belong to, when it was redirected.
    pub redirected_to: Option<ID>,
}

/// A system an entity's record is held back from.
#[derive(SimpleObject)]
pub struct HeldRecord {
    pub system: String,
    /// E.g. `it requires email`.
    pub reason: String,
    pub since: DateTime<Utc>,
}

impl From<Summary> for EntitySummary {
    fn from(s: Summary) -> Self {
        let standing = match s.standing {
            Standing::Linked => "linked",
            Standing::Deleted => "deleted",
            Standing::Unlinked => "unlinked",
            Standing::Redirected => "redirected",
        };
        EntitySummary {
            standing: standing.to_string(),
            text: s.text,
            name: s.name,
            held: s.held.into_iter().map(HeldRecord::from).collect(),
            redirected_to: s.redirected_to.map(|id| ID(id.to_string())),
        }
    }
}

impl From<Held> for HeldRecord {
    fn from(h: Held) -> Self {
        HeldRecord {
            system: h.system,
            reason: h.reason,
            since: h.since,
        }
    }
}
