//! `sync_stats`: per-tenant counters of what the sync observed, decided and wrote.
//!
//! Each counter is one row keyed `{tenant}/{counter}` whose `n` every matching event adds 1 to.
//! Counting through [`RowOp::Add`] keeps the handler pure; the totals are exact because the
//! store moves the checkpoint in the same transaction, and a rebuild counts the log afresh.

use serde::{Deserialize, Serialize};

use super::{decode, doc};
use crate::events::{DecisionKind, SyncEvent};
use crate::log::RecordedEvent;
use crate::projection::{Mode, Projection, Row, RowOp};

pub const NAME: &str = "sync_stats";

pub const OBSERVED: &str = "observed";
/// Records filed by an initial sync (`RecordDiscovered`).
pub const DISCOVERED: &str = "discovered";
pub const WRITE_REQUESTED: &str = "write/requested";
pub const WRITE_SUCCEEDED: &str = "write/succeeded";
pub const WRITE_FAILED: &str = "write/failed";
/// Failed writes that will be tried again.
pub const RETRIES: &str = "retries";
pub const DEAD_LETTERS: &str = "dead_letters";

/// `decision/{kind}`, e.g. `decision/echo_suppressed`.
pub fn decision_counter(kind: DecisionKind) -> String {
    format!("decision/{}", kind.as_str())
}

/// The row key (and sort key) of one tenant's counter.
pub fn counter_key(tenant: &str, counter: &str) -> String {
    format!("{tenant}/{counter}")
}

/// A counter row's doc; the count itself is the row's `n`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub tenant: String,
    pub counter: String,
}

pub struct SyncStats;

impl Projection for SyncStats {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> Mode {
        Mode::CatchUp
    }

    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        let counters: Vec<String> = match decode(event) {
            Some(SyncEvent::ChangeObserved(_)) => vec![OBSERVED.into()],
            Some(SyncEvent::RecordDiscovered(_)) => vec![DISCOVERED.into()],
            Some(SyncEvent::DecisionMade(e)) if e.write.is_some() => {
                vec![decision_counter(e.kind), WRITE_REQUESTED.into()]
            }
            Some(SyncEvent::DecisionMade(e)) => vec![decision_counter(e.kind)],
            Some(SyncEvent::WriteRequested(_)) => vec![WRITE_REQUESTED.into()],
            Some(SyncEvent::WriteSucceeded(_)) => vec![WRITE_SUCCEEDED.into()],
            Some(SyncEvent::WriteFailed(e)) if e.will_retry => {
                vec![WRITE_FAILED.into(), RETRIES.into()]
            }
            Some(SyncEvent::WriteFailed(_)) => vec![WRITE_FAILED.into()],
            Some(SyncEvent::DeadLettered(_)) => vec![DEAD_LETTERS.into()],
            _ => vec![],
        };
        let tenant = &event.meta.tenant;
        counters
            .into_iter()
            .map(|counter| {
                let key = counter_key(tenant, &counter);
                RowOp::Add(Row {
                    key: key.clone(),
                    tenant: tenant.clone(),
                    entity_id: None,
                    sort_key: key,
                    doc: doc(Counter {
                        tenant: tenant.clone(),
                        counter,
                    }),
                    n: 1,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::{DecisionMade, WriteFailed};
    use crate::projections::testkit::recorded;

    fn add(counter: &str) -> RowOp {
        RowOp::Add(Row {
            key: format!("acme/{counter}"),
            tenant: "acme".into(),
            entity_id: None,
            sort_key: format!("acme/{counter}"),
            doc: json!({"tenant": "acme", "counter": counter}),
            n: 1,
        })
    }

    fn failed(will_retry: bool) -> SyncEvent {
        SyncEvent::WriteFailed(WriteFailed {
            request_id: uuid::Uuid::from_u128(1),
            target_system: "erp".into(),
            status: Some(503),
            body: Some(String::new()),
            will_retry,
            attempt: 1,
            retry_at: None,
        })
    }

    #[test]
    fn a_decision_counts_under_its_kind() {
        let decision = SyncEvent::DecisionMade(DecisionMade {
            trigger_id: None,
            kind: DecisionKind::EchoSuppressed,
            source_system: "erp".into(),
            target_system: "crm".into(),
            basis: crate::events::Basis::EchoOfWrite {
                fields: vec!["phone".into()],
            },
            diff: vec![],
            request_id: None,
            write: None,
        });
        assert_eq!(
            SyncStats.apply(&recorded(3, decision)),
            vec![add("decision/echo_suppressed")]
        );
    }

    #[test]
    fn a_failed_write_that_will_retry_also_counts_a_retry() {
        assert_eq!(
            SyncStats.apply(&recorded(4, failed(true))),
            vec![add("write/failed"), add("retries")]
        );
        assert_eq!(
            SyncStats.apply(&recorded(5, failed(false))),
            vec![add("write/failed")]
        );
    }
}
