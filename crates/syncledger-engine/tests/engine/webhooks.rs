//! Webhook intake is idempotent: the same notice, however often and however batched, and
//! whichever process it reaches, is one observed change in the log.

use std::time::Duration;

use serde_json::json;
use syncledger_core::events::SyncEvent;
use syncledger_core::log::{ExpectedVersion, NewEvent, StreamAppend};
use syncledger_core::projections::webhook_receipts;
use uuid::Uuid;

use crate::both;
use crate::harness::{CONTACTS, CRM, Db, TENANT, World, first_stream, ingest_on};

both!(
    the_same_notice_delivered_twice_records_one_event,
    the_same_notice_twice_in_one_batch_records_one_event,
    a_batch_mixing_a_redelivered_and_a_new_notice_records_only_the_new_one,
    a_notice_delivered_to_two_processes_at_once_records_one_event,
    a_receipt_written_in_the_clear_text_form_still_stops_a_redelivery,
);

async fn observed(w: &World, record: &str) -> usize {
    let events = w.events(first_stream(CRM, record)).await;
    events
        .iter()
        .filter(|e| matches!(e, SyncEvent::ChangeObserved(_)))
        .count()
}

async fn the_same_notice_delivered_twice_records_one_event(db: Db) {
    let w = World::new(db).await;
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

async fn the_same_notice_twice_in_one_batch_records_one_event(db: Db) {
    let w = World::new(db).await;
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

async fn a_batch_mixing_a_redelivered_and_a_new_notice_records_only_the_new_one(db: Db) {
    let w = World::new(db).await;
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

/// Two processes get the same notice at the same moment (a sender retrying on a timeout while
/// the first delivery is still being recorded). Forced: an append held open keeps the write
/// path busy until both intakes have read "no receipt" and wait to append; then exactly one
/// records it, and the other, whose append then fails its stream's expectation, finds the
/// receipt on its next try.
async fn a_notice_delivered_to_two_processes_at_once_records_one_event(db: Db) {
    let w = World::new(db).await;
    let other = w.second_process("process-2", Duration::ZERO).await;
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    let notice = w.crm.drain_webhooks();
    let held = w
        .store()
        .begin_append(vec![StreamAppend {
            stream_id: Uuid::now_v7(),
            expected: ExpectedVersion::NoStream,
            events: vec![NewEvent {
                event_id: Uuid::now_v7(),
                event_type: "held".into(),
                schema_version: 1,
                payload: json!({}),
                meta: syncledger_core::log::EventMeta {
                    tenant: TENANT.into(),
                    correlation_id: None,
                    causation_id: None,
                },
            }],
        }])
        .await
        .unwrap();
    let (first, second) = (w.ledger.clone(), other.clone());
    let (n1, n2) = (notice.clone(), notice.clone());
    let one = tokio::spawn(async move { ingest_on(&first, CRM, &n1).await });
    let two = tokio::spawn(async move { ingest_on(&second, CRM, &n2).await });
    wait_until("both intakes wait to append", || async {
        w.store().appends_waiting() == 1 && other.store().appends_waiting() == 1
    })
    .await;
    held.rollback().await.unwrap();

    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    assert_eq!(one.recorded + two.recorded, 1, "{one:?} {two:?}");
    assert_eq!(one.duplicates + two.duplicates, 1, "{one:?} {two:?}");
    assert_eq!(observed(&w, "c-1").await, 1);
}

/// A database written before receipts were narrowed holds them under `tenant/system/event_id`
/// in clear: a redelivery of such a webhook is still recognised.
async fn a_receipt_written_in_the_clear_text_form_still_stops_a_redelivery(db: Db) {
    let w = World::new(db.clone()).await;
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    let notice = w.crm.drain_webhooks();
    assert_eq!(w.ingest(CRM, &notice).await.recorded, 1);
    // The row as the previous release wrote it.
    let narrow = webhook_receipts::key(TENANT, CRM, &notice[0].event_id);
    let legacy = webhook_receipts::legacy_key(TENANT, CRM, &notice[0].event_id);
    let sql = format!(
        "UPDATE webhook_receipts SET key = '{legacy}', sort_key = '{legacy}' WHERE key = '{narrow}'"
    );
    db.execute(Box::leak(sql.into_boxed_str())).await;
    assert!(
        w.store()
            .rows_by_keys(webhook_receipts::NAME, &[narrow])
            .await
            .unwrap()
            .is_empty()
    );

    let again = w.ingest(CRM, &notice).await;

    assert_eq!((again.recorded, again.duplicates), (0, 1));
    assert_eq!(observed(&w, "c-1").await, 1);
}

/// Polls `condition` until it holds; fails the test after ten seconds. For waiting on a state
/// other tasks must reach, never for hoping an interleaving happened.
async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
