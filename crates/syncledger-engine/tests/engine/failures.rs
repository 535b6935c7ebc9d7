//! Writes that fail: transient failures are retried, permanent ones and exhausted budgets go to
//! dead letters with the system's answer, and a person's retry of a dead letter writes again.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use syncledger_core::events::{
    DeadLetterRequest, DeadLetterRetried, DeadLettered, SyncEvent, WriteFailed, WriteOp,
};
use syncledger_core::projections::dead_letters::{self, DeadLetter};
use syncledger_sim::{Fault, Op};
use uuid::Uuid;

use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, World, first_stream, settings};

fn failures(events: &[SyncEvent]) -> Vec<WriteFailed> {
    events
        .iter()
        .filter_map(|e| {
            if let SyncEvent::WriteFailed(f) = e {
                Some(f.clone())
            } else {
                None
            }
        })
        .collect()
}

fn letters(events: &[SyncEvent]) -> Vec<DeadLettered> {
    events
        .iter()
        .filter_map(|e| {
            if let SyncEvent::DeadLettered(d) = e {
                Some(d.clone())
            } else {
                None
            }
        })
        .collect()
}

async fn new_contact(w: &World) -> Uuid {
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    w.deliver(CRM).await;
    first_stream(CRM, "c-1")
}

#[tokio::test]
async fn a_500_is_retried_and_the_retry_creates_one_record() {
    let w = World::new(Db::sqlite()).await;
    w.erp
        .fail_next(Op::Create, Fault::Status(500, "try later".into()));
    let entity = new_contact(&w).await;
    w.run().await;

    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.erp.requests(Op::Create), 2);
    let events = w.events(entity).await;
    let failed = failures(&events);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].status, failed[0].will_retry, failed[0].attempt),
        (Some(500), true, 1)
    );
    assert!(letters(&events).is_empty());
    assert!(w.state(entity).await.links.contains_key("erp"));
    assert_eq!(w.queue_depth().await, 0);
}

#[tokio::test]
async fn a_400_goes_to_dead_letters_with_the_systems_answer() {
    let w = World::new(Db::sqlite()).await;
    let body = r#"{"error":"email_address is not accepted"}"#;
    w.erp.fail_next(Op::Create, Fault::Status(400, body.into()));
    let entity = new_contact(&w).await;
    w.run().await;

    assert_eq!(w.erp.count(CUSTOMERS), 0);
    assert_eq!(
        w.erp.requests(Op::Create),
        1,
        "a permanent failure is not retried"
    );
    let events = w.events(entity).await;
    let dead = letters(&events);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].status, dead[0].body.as_deref()),
        (Some(400), Some(body))
    );
    assert!(
        matches!(&dead[0].request, DeadLetterRequest::Write(w) if w.op == WriteOp::Create),
        "{:?}",
        dead[0].request
    );
    w.store().catch_up_once().await.expect("catch up");
    let rows = w
        .store()
        .all_rows(dead_letters::NAME)
        .await
        .expect("dead letters");
    assert_eq!(rows.len(), 1);
    let letter: DeadLetter = serde_json::from_value(rows[0].doc.clone()).expect("a letter");
    assert_eq!(
        (letter.entity_id, letter.letter.body.as_deref()),
        (entity, Some(body))
    );
    assert_eq!(
        w.queue_depth().await,
        0,
        "the entity is not blocked by its dead letter"
    );
}

#[tokio::test]
async fn a_write_that_keeps_failing_goes_to_dead_letters_after_its_retry_budget() {
    let mut settings = settings("process-1");
    settings.max_attempts = 3;
    let w = World::with(
        Db::sqlite(),
        syncledger_core::config::OnDelete::Propagate,
        settings,
    )
    .await;
    for _ in 0..3 {
        w.erp
            .fail_next(Op::Create, Fault::Status(503, "down".into()));
    }
    let entity = new_contact(&w).await;
    w.run().await;

    assert_eq!(w.erp.requests(Op::Create), 3);
    assert_eq!(w.erp.count(CUSTOMERS), 0);
    let events = w.events(entity).await;
    let tries: Vec<(u32, bool)> = failures(&events)
        .iter()
        .map(|f| (f.attempt, f.will_retry))
        .collect();
    assert_eq!(tries, [(1, true), (2, true), (3, false)]);
    let dead = letters(&events);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].status, dead[0].reason.as_str()),
        (Some(503), "gave up after 3 attempts")
    );
    assert_eq!(w.queue_depth().await, 0);
}

#[tokio::test]
async fn a_person_retrying_a_dead_letter_writes_again() {
    let w = World::new(Db::sqlite()).await;
    w.erp
        .fail_next(Op::Create, Fault::Status(422, "rejected".into()));
    let entity = new_contact(&w).await;
    w.run().await;
    let stream = w
        .store()
        .read_stream(entity, 1, i64::MAX)
        .await
        .expect("stream");
    let letter_id = stream
        .iter()
        .find(|e| e.event_type == "DeadLettered")
        .expect("a dead letter")
        .event_id;

    w.ask(
        entity,
        SyncEvent::DeadLetterRetried(DeadLetterRetried {
            by: "ops@acme".into(),
            dead_letter_id: letter_id,
            request: None,
        }),
    )
    .await;
    w.run().await;

    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.erp.requests(Op::Create), 2);
    let customer = w.erp.records(CUSTOMERS)[0].clone();
    assert_eq!(customer.body["email_address"], "ada@example.com");
    assert_eq!(w.state(entity).await.links["erp"].record_id, customer.id);
    w.store().catch_up_once().await.expect("catch up");
    assert!(
        w.store()
            .all_rows(dead_letters::NAME)
            .await
            .expect("dead letters")
            .is_empty()
    );
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
}

/// CONTRACT §1: a 429's `Retry-After` is honoured; the retry is not due before it.
#[tokio::test]
async fn a_429_is_not_retried_before_its_retry_after() {
    let w = World::new(Db::sqlite()).await;
    w.erp.fail_next(Op::Create, Fault::RetryAfter(30));
    let entity = new_contact(&w).await;
    let asked = Utc::now();
    w.run().await;

    let failed = failures(&w.events(entity).await);
    assert_eq!((failed.len(), failed[0].status), (1, Some(429)));
    let retry_at = failed[0].retry_at.expect("a retry time");
    assert!(
        retry_at >= asked + Duration::from_secs(30),
        "retry at {retry_at}, asked at {asked}"
    );
    assert!(
        w.ledger.due_entities().await.expect("due").is_empty(),
        "nothing is due before the retry"
    );
    assert_eq!(w.erp.requests(Op::Create), 1);
    assert_eq!(w.queue_depth().await, 1, "the write is still owed");
}
