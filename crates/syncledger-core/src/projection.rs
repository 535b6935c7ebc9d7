//! Projections as pure functions: an event in, row operations out.
//!
//! Every projection owns one table of the same shape (see [`Row`]) and a checkpoint. Its handler
//! looks only at the event it is given and returns [`RowOp`]s; the store applies them in the same
//! transaction that moves the checkpoint. Because handlers never read their own table, rebuilding
//! from position 0 runs exactly the code the incremental path runs, and replay is deterministic.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::log::RecordedEvent;

/// When a projection sees an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Inside the append transaction: a reader sees it as soon as the append commits.
    Inline,
    /// After the fact, following the log from its checkpoint.
    CatchUp,
}

/// One row of a projection table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Unique within the table.
    pub key: String,
    pub tenant: String,
    /// The sync entity the row belongs to, when it belongs to one (indexed).
    pub entity_id: Option<Uuid>,
    /// Indexed, and the order of listings and keyset pagination (with `key` as tie-break).
    pub sort_key: String,
    pub doc: Value,
    /// A counter; [`RowOp::Add`] adds to it.
    pub n: i64,
}

/// What a handler asks the store to do to its table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RowOp {
    /// Insert or replace the whole row.
    Put(Row),
    /// Insert the row unless its key is present (then leave the present row alone).
    PutIfAbsent(Row),
    /// Remove the row with this key, if any.
    Delete { key: String },
    /// Add `n` to the row's counter, creating the row (with this doc) when absent.
    Add(Row),
    /// Put the row, claiming its key for the row's entity: inside an append, a key another
    /// entity holds is taken only by an append that also writes to the holder's stream (a
    /// hand-over whose version that append checked); otherwise the whole append fails with
    /// [`crate::log::Claimed`]. Rebuilds and catch-up apply it as [`RowOp::Put`]: the log
    /// already says who won. A row without an `entity_id` claims nothing (a plain put).
    Claim(Row),
}

/// Which lookups a projection's readers make besides by key, so that the store keeps only the
/// indexes they use: every index is one more B-tree updated for each row written, inside the
/// append for an inline projection. A lookup without its index still answers, by scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookups {
    /// One tenant's rows in `sort_key` order, or a range of them.
    pub tenant_sort_key: bool,
    /// Every tenant's rows in `sort_key` order, or a range of them.
    pub sort_key: bool,
    /// The rows of one entity.
    pub entity: bool,
    /// How many rows each tenant has, read often (a queue's depth): the store keeps the count
    /// beside the table, updated with every write to it, instead of counting rows per read.
    pub counted: bool,
}

impl Lookups {
    /// Every lookup the store offers: the default (counting excepted: it costs every write).
    pub const ALL: Lookups = Lookups {
        tenant_sort_key: true,
        sort_key: true,
        entity: true,
        counted: false,
    };
    /// Rows are only ever read by key.
    pub const KEY_ONLY: Lookups = Lookups {
        tenant_sort_key: false,
        sort_key: false,
        entity: false,
        counted: false,
    };
}

/// A projection: a name (its table is named after it), when it runs, and its pure handler.
pub trait Projection: Send + Sync {
    fn name(&self) -> &'static str;
    fn mode(&self) -> Mode;
    /// The row operations this event implies. Must depend on nothing but the event.
    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp>;
    /// The form of its rows. A build that changes what a projection keeps (fewer rows, other
    /// keys) raises it; a store whose rows were written at another version empties the table
    /// and folds the log again when it opens, so no row of the old form stays behind. 1 until a
    /// projection's first change (a store that recorded none holds version 1).
    fn version(&self) -> u32 {
        1
    }
    /// The lookups its readers make (see [`Lookups`]).
    fn lookups(&self) -> Lookups {
        Lookups::ALL
    }
    /// Whether its rows copy values of an entity, or digests of them (docs/privacy.md): the
    /// store then seals each row's `doc` under the key that sealed the event it came from, and
    /// an erasure deletes the entity's rows.
    fn holds_values(&self) -> bool {
        false
    }
    /// Whether an erasure deletes the entity's rows: every projection that holds values, and one
    /// whose rows only point at an entity's values without holding them (`word_index`: digests
    /// of words filed by record, nothing to seal).
    fn erased_with_entity(&self) -> bool {
        self.holds_values()
    }
    /// Whether the last `/`-separated segment of its sort keys is a digest of values that only
    /// equality lookups read (a match key's hash, a create's fingerprint, a word's digest): the
    /// store, when it seals values, replaces that segment by a keyed digest under the tenant's
    /// key ([`crate::privacy::keyed_sort_key`]) as rows are written, and an exact lookup
    /// (`sort_key_from == sort_key_to`, one tenant) computes the same form, so no plain digest
    /// a dictionary could reverse reaches the table (docs/privacy.md).
    fn keys_sort_keys(&self) -> bool {
        false
    }
}
