//! What writing appends gave, before their transaction ends (both backends' dialects answer
//! with it; `sql/append.rs` and `sql/group.rs` turn it into each caller's answer).

use syncledger_core::log::{Appended, Conflict};

pub(crate) enum Written {
    /// Per append, in joining order: where its events landed, or the conflict that kept it
    /// out (a rejected single append may have bumped versions: its transaction rolls back).
    Landed(Vec<Result<Vec<Appended>, Conflict>>),
    /// A race the statement does not answer itself (a stream another transaction created
    /// meanwhile): it rolled back; try again, or commit a group's appends one by one.
    Retry,
}
