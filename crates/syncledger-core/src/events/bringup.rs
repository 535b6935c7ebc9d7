//! The events of bringing a tenant up on systems that already hold records (issue 16).
//!
//! Records that existed before syncledger reach it through the same door as a webhook: each one
//! the initial sync lists is filed as a [`RecordDiscovered`] observation in the stream a webhook
//! for that record would use, and the ordinary workers decide it like an `updated` webhook. The
//! initial sync itself is a stream of its own per tenant and entity type
//! (`initial_sync::stream_id`): [`InitialSyncStarted`], one [`InitialSyncPageRead`] per page
//! (appended in the same transaction as that page's discoveries, with an exact expected version,
//! so a page is recorded once and a restart resumes from the last recorded cursor), then
//! [`InitialSyncCompleted`]. "First start" is the absence of such a stream, never an empty log.
//!
//! While a run has not listed a system yet, a create towards that system could duplicate a
//! record the listing has not reached: such work is held ([`WorkHeld`]) and released
//! ([`WorkReleased`]) once the system is listed.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Fields;

/// A record the initial sync (or `reconcile --repair`) found in a system's listing: the work of
/// an `updated` webhook for it, filed where that webhook would go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordDiscovered {
    pub entity_type: String,
    pub system: String,
    pub collection: String,
    pub record_id: String,
    /// The initial-sync run whose page listed it.
    pub run_id: Uuid,
    /// Canonical fields as listed (a hint, like a webhook: the worker fetches the record). Filed
    /// in `match_index`, so a record listed but not worked yet is found by its match keys (G8).
    pub fields: Fields,
}

/// A run of the initial sync of one tenant and entity type began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialSyncStarted {
    pub entity_type: String,
    pub run_id: Uuid,
    /// The systems it lists, in the order it lists them.
    pub systems: Vec<String>,
    /// `first start`, or who asked for it (`reconcile:<user>`).
    pub by: String,
}

/// One page of one system's listing, recorded with the page's `RecordDiscovered` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialSyncPageRead {
    pub run_id: Uuid,
    pub system: String,
    /// The cursor the page was read with (`None`: the first page).
    pub cursor: Option<String>,
    /// The cursor of the next page (`None`: the system is listed).
    pub next_cursor: Option<String>,
    pub records: u64,
}

/// Every system of the run is listed and every record found is filed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialSyncCompleted {
    pub run_id: Uuid,
    pub records: u64,
    pub pages: u64,
}

/// A work item whose decision would create a record in a system the running initial sync has
/// not listed yet: it waits (its queue row is not due) until [`WorkReleased`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkHeld {
    pub trigger_id: Uuid,
    /// The record the held work is about (for the queue's row).
    pub system: Option<String>,
    pub record_id: Option<String>,
    pub target_system: String,
    /// The initial sync's stream and run waited for.
    pub initial_sync: Uuid,
    pub run_id: Uuid,
}

/// A held work item is due again: the system it waited for is listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkReleased {
    pub trigger_id: Uuid,
    pub system: Option<String>,
    pub record_id: Option<String>,
}
