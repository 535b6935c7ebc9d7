//! Conditional writes in the simulated system (CONTRACT §1): a version per record, sent as its
//! `ETag`, and `412 Precondition Failed` for a `PATCH` or `DELETE` whose `If-Match` names
//! another version.
//!
//! Per system and off by default ([`SimSystem::set_etags`]), so tests cover systems with ETags
//! and systems without. Versions come from one counter per system and change with every save,
//! whoever makes it (the API or a simulated user), so a user's edit between the ledger's fetch
//! and its write is exactly what `If-Match` catches.

use std::collections::HashMap;

use super::SimSystem;
use crate::lock;

/// Every record's version, and whether the system tells them.
#[derive(Debug, Default)]
pub(crate) struct Versions {
    pub enabled: bool,
    next: u64,
    by_record: HashMap<(String, String), u64>,
}

impl Versions {
    /// A save of the record: it gets a new version.
    pub fn bump(&mut self, collection: &str, id: &str) {
        self.next += 1;
        self.by_record
            .insert((collection.to_owned(), id.to_owned()), self.next);
    }

    pub fn forget(&mut self, collection: &str, id: &str) {
        self.by_record
            .remove(&(collection.to_owned(), id.to_owned()));
    }

    /// The record's `ETag`, when the system tells them.
    pub fn etag(&self, collection: &str, id: &str) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let version = self
            .by_record
            .get(&(collection.to_owned(), id.to_owned()))?;
        Some(format!("\"v{version}\""))
    }

    /// Whether a write with `if_match` may proceed: always without ETags or without the
    /// header; otherwise only on the record's current version (`*` matches any).
    pub fn allows(&self, collection: &str, id: &str, if_match: Option<&str>) -> bool {
        match (self.enabled, if_match) {
            (false, _) | (_, None) | (_, Some("*")) => true,
            (true, Some(sent)) => self.etag(collection, id).as_deref() == Some(sent),
        }
    }
}

impl SimSystem {
    /// Sends an `ETag` with every record answer and honours `If-Match` on `PATCH` and `DELETE`
    /// (`412` on a mismatch), or stops doing so.
    pub fn set_etags(&self, enabled: bool) {
        lock(&self.state).versions.enabled = enabled;
    }

    /// The record's current `ETag`, when the system sends them.
    pub fn etag(&self, collection: &str, id: &str) -> Option<String> {
        lock(&self.state).versions.etag(collection, id)
    }
}
