//! Webhook intake is idempotent: the same notice, however often and however batched, is one
//! observed change in the log.

use serde_json::json;
use syncledger_core::events::SyncEvent;

use crate::harness::{CONTACTS, CRM, Db, World, first_stream};

async fn observed(w: &World, record: &str) -> usize {
    let events = w.events(first_stream(CRM, record)).await;
    events
        .iter()
        .filter(|e| matches!(e, SyncEvent::ChangeObserved(_)))
        .count()
}

#[tokio::test]
async fn the_same_notice_delivered_twice_records_one_event() {
    let w = World::new(Db::sqlite()).await;
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    let notice = w.crm.drain_webhooks();

    let first = w.ingest(CRM, &notice).await;
    let second = w.ingest(CRM, &notice).await;

    assert_eq!((first.recorded, first.duplicates), (1, 0));
    assert_eq!((second.recorded, second.duplicates), (0, 1));
    assert_eq!(observed(&w, "c-1").await, 1);
    assert_eq!(w.queue_depth().await, 1);
}

#[tokio::test]
async fn the_same_notice_twice_in_one_batch_records_one_event() {
    let w = World::new(Db::sqlite()).await;
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    let notice = w.crm.drain_webhooks();
    let batch = [notice[0].clone(), notice[0].clone()];

    let accepted = w.ingest(CRM, &batch).await;

    assert_eq!(accepted.recorded, 1);
    assert_eq!(observed(&w, "c-1").await, 1);
}

#[tokio::test]
async fn a_batch_mixing_a_redelivered_and_a_new_notice_records_only_the_new_one() {
    let w = World::new(Db::sqlite()).await;
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    let created = w.crm.drain_webhooks();
    w.ingest(CRM, &created).await;
    w.crm
        .user_update(CONTACTS, &c.id, json!({"full_name": "Ada L."}));
    let updated = w.crm.drain_webhooks();

    let accepted = w
        .ingest(CRM, &[created[0].clone(), updated[0].clone()])
        .await;

    assert_eq!((accepted.recorded, accepted.duplicates), (1, 1));
    assert_eq!(observed(&w, "c-1").await, 2);
    w.settle().await;
    assert_eq!(w.erp.records("customers")[0].body["name"], "Ada L.");
}
