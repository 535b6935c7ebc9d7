//! Folding a batch of [`RowOp`]s into one effect per key before touching the database.
//!
//! A rebuild or catch-up batch of a thousand events may touch the same few rows a thousand times
//! (a counter per event type, the latest state per entity). Handlers are pure and a batch is
//! applied in one transaction, so only each key's final effect matters: folding the ops in memory
//! turns thousands of statements into a few multi-row ones. The fold must give exactly what
//! applying the ops one by one gives; a property test below holds it to that.

use std::collections::{BTreeMap, HashMap};

use syncledger_core::projection::{Row, RowOp};

/// What a batch does to one key, whatever the row held before it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// The final state does not depend on the old one: this row, or no row.
    Set(Option<Row>),
    /// Depends on whether the row exists: absent, insert `row` with `n = row.n + add`; present,
    /// add `add` to its counter and leave the rest alone.
    Merge { row: Row, add: i64 },
}

/// The folded effects of a batch, by key.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    by_key: HashMap<String, Effect>,
}

impl Effects {
    pub(crate) fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The effects in key order, so writes touch rows in a deterministic order.
    pub(crate) fn into_iter(self) -> impl Iterator<Item = (String, Effect)> {
        let mut effects: Vec<_> = self.by_key.into_iter().collect();
        effects.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        effects.into_iter()
    }

    /// Drops `key`'s effect when it would write `row`, which the database already holds: a
    /// claim's row is written where it is checked (`claim::check`), and writing it again in the
    /// same transaction left a dead tuple and a second index entry per link on PostgreSQL.
    pub(crate) fn skip_written(&mut self, row: &Row) {
        if matches!(self.by_key.get(&row.key), Some(Effect::Set(Some(set))) if set == row) {
            self.by_key.remove(&row.key);
        }
    }

    pub(crate) fn push(&mut self, op: RowOp) {
        // Most ops of a batch hit a key seen before: look up by reference, and copy the key
        // only when it is new.
        let key = match &op {
            RowOp::Put(row) | RowOp::Claim(row) | RowOp::PutIfAbsent(row) | RowOp::Add(row) => {
                &row.key
            }
            RowOp::Delete { key } => key,
        };
        match self.by_key.get_mut(key) {
            Some(slot) => fold_into(slot, op),
            None => {
                let key = key.clone();
                self.by_key.insert(key, first_effect(op));
            }
        }
    }
}

/// The effect of an op on a key the batch has not touched yet.
fn first_effect(op: RowOp) -> Effect {
    match op {
        // A claim is checked where it is appended (`append::check_claims`); folded, it is a put.
        RowOp::Put(row) | RowOp::Claim(row) => Effect::Set(Some(row)),
        RowOp::Delete { .. } => Effect::Set(None),
        RowOp::PutIfAbsent(row) => Effect::Merge { row, add: 0 },
        RowOp::Add(row) => {
            let add = row.n;
            Effect::Merge {
                row: Row { n: 0, ..row },
                add,
            }
        }
    }
}

/// Folds an op into the effect its key already has.
fn fold_into(slot: &mut Effect, op: RowOp) {
    match op {
        RowOp::Put(row) | RowOp::Claim(row) => *slot = Effect::Set(Some(row)),
        RowOp::Delete { .. } => *slot = Effect::Set(None),
        RowOp::PutIfAbsent(row) => {
            // The row exists after a Set(Some) or a Merge, whatever was there before.
            if let Effect::Set(None) = slot {
                *slot = Effect::Set(Some(row));
            }
        }
        RowOp::Add(row) => match slot {
            Effect::Set(None) => *slot = Effect::Set(Some(row)),
            Effect::Set(Some(present)) => present.n = present.n.wrapping_add(row.n),
            Effect::Merge { add, .. } => *add = add.wrapping_add(row.n),
        },
    }
}

/// Applies one op to an in-memory table, the way the handlers' contract reads. The reference the
/// fold is checked against, and the model the integration tests compare tables with.
#[doc(hidden)]
pub fn apply_op(table: &mut BTreeMap<String, Row>, op: RowOp) {
    match op {
        RowOp::Put(row) | RowOp::Claim(row) => {
            table.insert(row.key.clone(), row);
        }
        RowOp::PutIfAbsent(row) => {
            table.entry(row.key.clone()).or_insert(row);
        }
        RowOp::Delete { key } => {
            table.remove(&key);
        }
        RowOp::Add(row) => match table.get_mut(&row.key) {
            Some(present) => present.n = present.n.wrapping_add(row.n),
            None => {
                table.insert(row.key.clone(), row);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn row(key: u8, tag: u8, n: i64) -> Row {
        Row {
            key: format!("k{key}"),
            tenant: "t".into(),
            entity_id: None,
            sort_key: format!("s{tag}"),
            doc: json!({ "tag": tag }),
            n,
        }
    }

    fn op() -> impl Strategy<Value = RowOp> {
        (0u8..4, 0u8..4, -3i64..4, 0u8..4).prop_map(|(key, tag, n, kind)| match kind {
            0 => RowOp::Put(row(key, tag, n)),
            1 => RowOp::PutIfAbsent(row(key, tag, n)),
            2 => RowOp::Delete {
                key: format!("k{key}"),
            },
            _ => RowOp::Add(row(key, tag, n)),
        })
    }

    /// Applies a folded effect the way the SQL in `sql/rows.rs` does.
    fn apply_effect(table: &mut BTreeMap<String, Row>, key: String, effect: Effect) {
        match effect {
            Effect::Set(None) => {
                table.remove(&key);
            }
            Effect::Set(Some(row)) => {
                table.insert(key, row);
            }
            Effect::Merge { row, add } => match table.get_mut(&key) {
                Some(present) => present.n = present.n.wrapping_add(add),
                None => {
                    let n = row.n.wrapping_add(add);
                    table.insert(key, Row { n, ..row });
                }
            },
        }
    }

    proptest! {
        #[test]
        fn folding_a_batch_equals_applying_its_ops_one_by_one(
            base in proptest::collection::vec((0u8..4, 0u8..4, -3i64..4), 0..4),
            ops in proptest::collection::vec(op(), 0..24),
        ) {
            let mut start = BTreeMap::new();
            for (key, tag, n) in base {
                let r = row(key, tag, n);
                start.insert(r.key.clone(), r);
            }
            let mut one_by_one = start.clone();
            let mut effects = Effects::default();
            for op in ops {
                apply_op(&mut one_by_one, op.clone());
                effects.push(op);
            }
            let mut folded = start;
            for (key, effect) in effects.into_iter() {
                apply_effect(&mut folded, key, effect);
            }
            prop_assert_eq!(folded, one_by_one);
        }

        /// The append's way with claims: each claim written first, in order (`claim::check`),
        /// then the folded batch without the keys whose last claim's row it would only write
        /// again. The table must end as applying the ops one by one leaves it.
        #[test]
        fn claims_written_first_then_the_rest_equals_applying_ops_one_by_one(
            base in proptest::collection::vec((0u8..4, 0u8..4, -3i64..4), 0..4),
            ops in proptest::collection::vec(
                prop_oneof![op(), (0u8..4, 0u8..4).prop_map(|(k, t)| RowOp::Claim(row(k, t, 1)))],
                0..24,
            ),
        ) {
            let mut start = BTreeMap::new();
            for (key, tag, n) in base {
                let r = row(key, tag, n);
                start.insert(r.key.clone(), r);
            }
            let mut one_by_one = start.clone();
            let mut appended = start;
            let mut effects = Effects::default();
            let mut last_claims = BTreeMap::new();
            for op in ops {
                apply_op(&mut one_by_one, op.clone());
                if let RowOp::Claim(claimed) = &op {
                    appended.insert(claimed.key.clone(), claimed.clone());
                    last_claims.insert(claimed.key.clone(), claimed.clone());
                }
                effects.push(op);
            }
            for claimed in last_claims.values() {
                effects.skip_written(claimed);
            }
            for (key, effect) in effects.into_iter() {
                apply_effect(&mut appended, key, effect);
            }
            prop_assert_eq!(appended, one_by_one);
        }
    }

    #[test]
    fn a_key_whose_batch_ends_in_its_claim_is_not_written_again() {
        let claimed = row(1, 1, 1);
        let mut effects = Effects::default();
        effects.push(RowOp::Claim(claimed.clone()));
        effects.push(RowOp::Put(row(2, 0, 1)));
        effects.skip_written(&claimed);
        let keys: Vec<String> = effects.into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys, vec!["k2".to_string()]);

        // A later put of other content on the claimed key is still written.
        let mut effects = Effects::default();
        effects.push(RowOp::Claim(claimed.clone()));
        effects.push(RowOp::Put(row(1, 3, 1)));
        effects.skip_written(&claimed);
        assert_eq!(effects.into_iter().count(), 1);
    }
}
