//! G9: per entity, work runs one item at a time in log order; different entities independently.

use std::time::Duration;

use serde_json::json;
use syncledger_core::events::{DecisionKind, SyncEvent};
use syncledger_sim::Op;
use uuid::Uuid;

use crate::both;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, World, first_stream, only};

#[tokio::test]
async fn one_entity_stuck_in_a_write_does_not_hold_up_another() {
    let w = World::new(Db::sqlite()).await;
    let mut paused = w.erp.pause_next(Op::Create);
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "A", "email": "a@example.com"}),
    );
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "B", "email": "b@example.com"}),
    );
    w.deliver(CRM).await;
    let (a, b) = (first_stream(CRM, "c-1"), first_stream(CRM, "c-2"));
    let stuck = tokio::spawn({
        let ledger = w.ledger.clone();
        async move { ledger.work_entity(a).await }
    });
    paused.applied().await.expect("a's create was sent");

    w.work(b).await;

    assert_eq!(
        only(&w.erp, CUSTOMERS, "email_address", "b@example.com").body["name"],
        "B"
    );
    assert!(w.state(b).await.links.contains_key("erp"));
    assert!(
        w.state(a).await.pending_writes.len() == 1,
        "a's write is still in flight"
    );
    paused.release();
    stuck.await.expect("job").expect("job result");
    w.settle().await;
    assert_eq!(w.erp.count(CUSTOMERS), 2);
}

#[tokio::test]
async fn an_entitys_work_items_are_settled_in_log_order() {
    let w = World::new(Db::sqlite()).await;
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "N0", "email": "n@example.com"}),
    );
    for name in ["N1", "N2", "N3"] {
        w.crm
            .user_update(CONTACTS, &c.id, json!({"full_name": name}));
    }
    w.deliver(CRM).await;
    let entity = first_stream(CRM, &c.id);
    w.run().await;

    let stream = w
        .store()
        .read_stream(entity, 1, i64::MAX)
        .await
        .expect("stream");
    let observed: Vec<Uuid> = stream
        .iter()
        .filter(|e| e.event_type == "ChangeObserved")
        .map(|e| e.event_id)
        .collect();
    // Each group settles its item, then the later ones of the same record its fetch covers.
    let settled: Vec<Uuid> = stream
        .iter()
        .filter_map(|e| match SyncEvent::from_recorded(e) {
            Ok(SyncEvent::InputsGathered(i)) => Some(std::iter::once(i.trigger_id).chain(i.covers)),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(observed.len(), 4);
    assert_eq!(
        settled, observed,
        "each trigger settled once, in the order it was logged"
    );
    assert_eq!(w.erp.count(CUSTOMERS), 1);
}

/// Two processes hold one entity (the first one's lease expired while its GET was slow): the
/// one that decided on stale state loses the append, re-reads, and does not write again.
async fn a_worker_that_decided_on_stale_state_loses_the_append_and_writes_nothing(db: Db) {
    let w = World::new(db).await;
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "A", "email": "a@example.com"}),
    );
    w.deliver(CRM).await;
    let entity = first_stream(CRM, "c-1");
    let mut slow_fetch = w.crm.pause_next(Op::Get);
    let first = tokio::spawn({
        let ledger = w.ledger.clone();
        async move { ledger.work_entity(entity).await }
    });
    slow_fetch
        .applied()
        .await
        .expect("the first worker fetched");

    let second = w.second_process("process-2", Duration::ZERO).await;
    assert!(second.work_entity(entity).await.expect("second job"));
    assert_eq!(w.erp.requests(Op::Create), 1);

    slow_fetch.release();
    assert!(first.await.expect("first job").expect("first job result"));
    assert_eq!(w.erp.requests(Op::Create), 1, "the loser did not write");
    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(
        w.decisions(entity).await,
        [DecisionKind::Create],
        "one decision for the one trigger"
    );
}

both!(a_worker_that_decided_on_stale_state_loses_the_append_and_writes_nothing);
