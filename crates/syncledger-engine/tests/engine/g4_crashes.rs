//! G4: an acknowledged webhook is never lost, and a write whose outcome died with the process is
//! resolved after a restart (looked up by match keys, or retried with its idempotency key) so it
//! never leaves a duplicate.

use serde_json::json;
use syncledger_core::events::{Resolution, SyncEvent};
use syncledger_core::projections::pending_queue;
use syncledger_sim::Op;
use uuid::Uuid;

use crate::both;
use crate::faulty::{Crash, until_crash};
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, World, first_stream};

fn resolutions(events: &[SyncEvent]) -> Vec<Resolution> {
    events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::WriteSucceeded(s) => Some(s.resolution),
            _ => None,
        })
        .collect()
}

/// The CRM contact's first job crashes on its ERP create as `how` says; returns its entity.
async fn crash_on_the_erp_create(w: &World, how: Crash) -> Uuid {
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Grace Hopper", "email": "grace@example.com"}),
    );
    w.deliver(CRM).await;
    let entity = first_stream(CRM, "c-1");
    w.erp_conn.crash_next_write(how);
    until_crash(&w.erp_conn, w.ledger.work_entity(entity)).await;
    let state = w.state(entity).await;
    assert_eq!(
        state.pending_writes.len(),
        1,
        "the create is requested, with no outcome"
    );
    let request = state
        .pending_writes
        .keys()
        .next()
        .expect("one pending write");
    let row = w
        .store()
        .row(pending_queue::NAME, &pending_queue::write_key(*request))
        .await
        .expect("queue row");
    assert!(
        row.is_some(),
        "the write is still owed in the pending queue"
    );
    entity
}

async fn a_create_whose_answer_died_with_the_process_is_linked_after_restart_without_a_duplicate(
    db: Db,
) {
    let mut w = World::new(db).await;
    let entity = crash_on_the_erp_create(&w, Crash::AfterApply).await;
    assert_eq!(w.erp.count(CUSTOMERS), 1, "the ERP applied the create");

    w.restart().await;
    w.run().await;

    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(
        w.erp.requests(Op::Create),
        1,
        "found by its match keys, not sent again"
    );
    let erp_id = w.erp.records(CUSTOMERS)[0].id.clone();
    assert_eq!(w.state(entity).await.links["erp"].record_id, erp_id);
    assert_eq!(
        resolutions(&w.events(entity).await),
        [Resolution::LookupByMatchKeys]
    );
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(w.queue_depth().await, 0);
}

/// An ERP customer without an email is created in the CRM: its match key is empty, so after the
/// crash only the idempotency key can find what the first POST made.
async fn a_create_with_empty_match_keys_is_resolved_by_its_idempotency_key_after_restart(db: Db) {
    let mut w = World::new(db).await;
    let customer = w.erp.user_create(
        CUSTOMERS,
        json!({"name": "Edsger Dijkstra", "phones": ["555"]}),
    );
    w.deliver(ERP).await;
    let entity = first_stream(ERP, &customer.id);
    w.crm_conn.crash_next_write(Crash::AfterApply);
    until_crash(&w.crm_conn, w.ledger.work_entity(entity)).await;
    assert_eq!(w.crm.count(CONTACTS), 1, "the CRM applied the create");

    w.restart().await;
    w.run().await;

    assert_eq!(w.crm.count(CONTACTS), 1);
    let keys: Vec<Option<String>> = w
        .crm
        .request_log()
        .into_iter()
        .filter(|r| r.op == Op::Create)
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2, "the POST was repeated");
    assert!(
        keys[0].is_some() && keys[0] == keys[1],
        "with the same idempotency key: {keys:?}"
    );
    let contact = w.crm.records(CONTACTS)[0].clone();
    assert_eq!(w.state(entity).await.links["crm"].record_id, contact.id);
    assert_eq!(
        resolutions(&w.events(entity).await),
        [Resolution::IdempotentRetry]
    );
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(
        w.crm.records(CONTACTS)[0].body["full_name"],
        "Edsger Dijkstra"
    );
    assert_eq!(w.queue_depth().await, 0);
}

async fn a_crash_between_recording_the_decision_and_the_call_sends_the_create_once_after_restart(
    db: Db,
) {
    let mut w = World::new(db).await;
    let entity = crash_on_the_erp_create(&w, Crash::BeforeCall).await;
    assert_eq!(w.erp.requests(Op::Create), 0, "the POST was never sent");

    w.restart().await;
    w.run().await;

    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.erp.requests(Op::Create), 1);
    assert_eq!(w.erp.requests(Op::List), 1, "looked for it before sending");
    assert_eq!(
        w.state(entity).await.links["erp"].record_id,
        w.erp.records(CUSTOMERS)[0].id
    );
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
}

/// The webhook was acknowledged and the process died before any work: the work is still owed.
async fn an_acknowledged_webhook_survives_a_crash_before_any_work(db: Db) {
    let mut w = World::new(db).await;
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Grace Hopper", "email": "grace@example.com"}),
    );
    w.deliver(CRM).await;

    w.restart().await;
    assert_eq!(
        w.ledger.due_entities().await.expect("due"),
        [first_stream(CRM, "c-1")]
    );
    w.settle().await;

    assert_eq!(w.erp.count(CUSTOMERS), 1);
}

/// The ERP's echo of the lost create is delivered before the restarted process resolves it: the
/// echo links the record, and the resolution finds the link.
async fn an_echo_delivered_after_the_crash_resolves_the_lost_create(db: Db) {
    let mut w = World::new(db).await;
    let entity = crash_on_the_erp_create(&w, Crash::AfterApply).await;
    w.restart().await;
    let erp_id = w.erp.records(CUSTOMERS)[0].id.clone();
    w.deliver(ERP).await;
    w.work(first_stream(ERP, &erp_id)).await;
    w.settle().await;

    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(w.erp.requests(Op::Create), 1);
    assert_eq!(w.crm.requests(Op::Create), 0);
    assert_eq!(w.state(entity).await.links["erp"].record_id, erp_id);
    assert_eq!(w.queue_depth().await, 0);
}

/// The created ERP customer's email (its match key) is changed by a user while its create's
/// answer is lost, so its echo no longer matches the create's fingerprint. A restarted process
/// settles unanswered writes first: the record is linked before its echo stream is decided.
async fn after_a_restart_a_lost_create_is_settled_before_its_echo_even_with_a_changed_match_key(
    db: Db,
) {
    let mut w = World::new(db).await;
    let entity = crash_on_the_erp_create(&w, Crash::AfterApply).await;
    let erp_id = w.erp.records(CUSTOMERS)[0].id.clone();
    w.erp.user_update(
        CUSTOMERS,
        &erp_id,
        json!({"email_address": "grace.hopper@example.com"}),
    );
    assert_eq!(w.deliver(ERP).await.len(), 2);

    w.restart().await;
    assert_eq!(
        w.ledger
            .entities_with_unanswered_writes()
            .await
            .expect("unanswered"),
        [entity]
    );
    assert_eq!(
        w.ledger.resume_unanswered_writes().await.expect("resume"),
        1
    );
    assert_eq!(w.state(entity).await.links["erp"].record_id, erp_id);
    w.work(first_stream(ERP, &erp_id)).await;
    w.settle().await;

    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(
        w.crm.requests(Op::Create),
        0,
        "the echo was not taken for a new customer"
    );
    assert_eq!(
        w.crm.records(CONTACTS)[0].body["email"],
        "grace.hopper@example.com"
    );
    assert_eq!(crate::invariants::problems(&w).await, Vec::<String>::new());
}

both!(
    after_a_restart_a_lost_create_is_settled_before_its_echo_even_with_a_changed_match_key,
    a_create_whose_answer_died_with_the_process_is_linked_after_restart_without_a_duplicate,
    a_create_with_empty_match_keys_is_resolved_by_its_idempotency_key_after_restart,
    a_crash_between_recording_the_decision_and_the_call_sends_the_create_once_after_restart,
    an_acknowledged_webhook_survives_a_crash_before_any_work,
    an_echo_delivered_after_the_crash_resolves_the_lost_create,
);
