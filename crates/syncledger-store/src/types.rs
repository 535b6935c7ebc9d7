//! The plain data the store's API takes and returns, and the registry of projections.
//!
//! A projection's name becomes a table name, so it is checked once, at connect time, against a
//! strict pattern; after that the SQL that interpolates it is safe by construction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use syncledger_core::log::{Position, Upcasters};
use syncledger_core::projection::{Mode, Projection};

use crate::StoreError;

/// How a [`crate::Store`] is set up.
pub struct StoreOptions {
    /// Every projection this process maintains. All processes sharing a database must register
    /// the same set, or an inline projection misses the appends of a process that lacks it.
    pub projections: Vec<Arc<dyn Projection>>,
    /// Applied to every event a read returns (and to what projections see).
    pub upcasters: Upcasters,
    /// PostgreSQL pool size, or the number of SQLite read connections (SQLite writes go through
    /// one dedicated connection).
    pub max_connections: u32,
    /// How often a subscription or the projection runner looks at the log when nothing woke it.
    pub poll_interval: Duration,
    /// Events per catch-up or rebuild transaction.
    pub batch_size: usize,
    /// The key that wraps every data key: with one, values are sealed (docs/privacy.md);
    /// without, they are written in clear and nothing can be erased.
    pub master_key: Option<crate::seal::MasterKey>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            projections: Vec::new(),
            upcasters: Upcasters::new(),
            max_connections: 8,
            poll_interval: Duration::from_secs(1),
            batch_size: 1000,
            master_key: None,
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.projections.iter().map(|p| p.name()).collect();
        f.debug_struct("StoreOptions")
            .field("projections", &names)
            .field("upcasters", &self.upcasters)
            .field("max_connections", &self.max_connections)
            .field("poll_interval", &self.poll_interval)
            .field("batch_size", &self.batch_size)
            .field("sealed", &self.master_key.is_some())
            .finish()
    }
}

/// One tenant's minute on the operations page (`ops_samples`): the pending queue's deepest and
/// last sampled depth, and the log's running totals at the minute's last and first samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsSample {
    pub tenant: String,
    /// Minutes since the Unix epoch (UTC).
    pub minute: i64,
    pub depth_max: i64,
    pub depth_last: i64,
    /// Observed changes (webhooks and resyncs) since the log began.
    pub intake_total: i64,
    pub writes_ok_total: i64,
    pub writes_failed_total: i64,
    /// The same totals at the minute's first sample.
    pub intake_first: i64,
    pub writes_ok_first: i64,
    pub writes_failed_first: i64,
}

/// A page of a projection's rows, ordered by `(sort_key, key)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowQuery {
    pub tenant: Option<String>,
    /// Inclusive lower bound on `sort_key`.
    pub sort_key_from: Option<String>,
    /// Inclusive upper bound on `sort_key`.
    pub sort_key_to: Option<String>,
    /// Keyset cursor: only rows strictly after this `(sort_key, key)`.
    pub after: Option<(String, String)>,
    pub limit: i64,
}

/// Where a projection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    pub name: String,
    pub mode: Mode,
    /// The last position the live table reflects.
    pub checkpoint: Position,
    pub head: Position,
    /// Events after the checkpoint.
    pub lag: u64,
    pub status: ProjectionState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectionState {
    Live,
    /// A rebuild into a shadow table is running; the live table keeps serving meanwhile.
    Rebuilding {
        done: u64,
        total: u64,
    },
}

/// How far a rebuild is: events applied to the shadow table, of the events in the log when it
/// started (the total grows by the tail appended meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RebuildProgress {
    pub done: u64,
    pub total: u64,
}

/// How far `Store::seal_old_values` (`syncledger migrate --seal`) is: events read of those in
/// the log when it started, events rewritten, and values sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SealProgress {
    pub scanned: u64,
    pub total: u64,
    pub events_sealed: u64,
    pub values_sealed: u64,
}

/// The registered projections, by name, with names known to be safe table names.
#[derive(Clone, Default)]
pub(crate) struct Registry {
    by_name: BTreeMap<&'static str, Arc<dyn Projection>>,
}

/// Tables the store owns itself; a projection may not take their names.
const RESERVED: &[&str] = &[
    "events",
    "streams",
    "projection_checkpoints",
    "entity_leases",
];
/// Leaves room for the `_g<generation>_<suffix>` index names within PostgreSQL's 63 bytes.
const MAX_NAME: usize = 32;

impl Registry {
    pub(crate) fn new(projections: &[Arc<dyn Projection>]) -> Result<Self, StoreError> {
        let mut by_name = BTreeMap::new();
        for p in projections {
            let name = p.name();
            validate_name(name)?;
            if by_name.insert(name, p.clone()).is_some() {
                return Err(StoreError::InvalidInput(format!(
                    "projection {name} registered twice"
                )));
            }
        }
        Ok(Registry { by_name })
    }

    pub(crate) fn get(&self, name: &str) -> Result<&Arc<dyn Projection>, StoreError> {
        self.by_name.get(name).ok_or(StoreError::NotFound)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<dyn Projection>> {
        self.by_name.values()
    }

    pub(crate) fn with_mode(&self, mode: Mode) -> impl Iterator<Item = &Arc<dyn Projection>> {
        self.by_name.values().filter(move |p| p.mode() == mode)
    }
}

fn validate_name(name: &str) -> Result<(), StoreError> {
    let well_formed = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && !name.starts_with('_')
        && !name.contains("__");
    if !well_formed || RESERVED.contains(&name) {
        return Err(StoreError::InvalidInput(format!(
            "projection name {name:?} must match [a-z][a-z_]* (no '__', at most {MAX_NAME} bytes) \
             and not be one of {RESERVED:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_name;

    #[test]
    fn projection_names_that_could_break_sql_are_rejected() {
        for bad in [
            "",
            "Upper",
            "a-b",
            "a;drop",
            "_lead",
            "x__rebuild",
            "events",
            "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["id_mappings", "pending_queue", "x"] {
            assert!(validate_name(good).is_ok(), "{good:?} rejected");
        }
        assert!(validate_name(&"a".repeat(33)).is_err());
    }
}

/// How group commit has gone so far in this process (see [`crate::Store::group_commit_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Appends waiting for the committer right now.
    pub queued: usize,
    /// Transactions that committed more than one append.
    pub groups: u64,
    /// Appends those transactions held.
    pub appends: u64,
    /// Time the committer spent committing (groups and single appends), for benchmarks.
    pub busy: std::time::Duration,
}

/// What an erasure did and found (CONTRACT §7 `eraseEntity`, docs/privacy.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureReceipt {
    pub entity_id: uuid::Uuid,
    /// When the keys were destroyed (the `EntityErased` event's recorded time).
    pub erased_at: chrono::DateTime<chrono::Utc>,
    pub reason: String,
    /// True only when a check of every table (and, on SQLite, of the database file) found none
    /// of the entity's values.
    pub verified: bool,
    /// Where a value was found: table names, `database file` or `database WAL` (SQLite).
    pub residue: Vec<String>,
}
