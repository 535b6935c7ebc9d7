//! G1: a create and a quick update of one CRM record, processed concurrently, give exactly one
//! record in the ERP (the seed's race 1).

use std::time::Duration;

use serde_json::json;
use syncledger_core::events::{DecisionKind, Resolution, SyncEvent, WriteOp};
use syncledger_sim::Op;

use crate::both;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, World, first_stream, only};

async fn a_create_and_its_quick_update_delivered_together_give_one_erp_record(db: Db) {
    let w = World::new(db).await;
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada Lovelase", "email": "ada@example.com"}),
    );
    w.crm
        .user_update(CONTACTS, &c.id, json!({"full_name": "Ada Lovelace"}));
    assert_eq!(w.deliver(CRM).await.len(), 2);

    w.run().await;

    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.erp.requests(Op::Create), 1);
    assert_eq!(
        only(&w.erp, CUSTOMERS, "email_address", "ada@example.com").body["name"],
        "Ada Lovelace"
    );
    let entity = w
        .entity_of(CRM, &c.id)
        .await
        .expect("the contact is mapped");
    // Both webhooks were queued before the fetch: the create's fetch held the update, and its
    // group settled the update's item too (coalescing), so there is one decision.
    assert_eq!(w.decisions(entity).await, [DecisionKind::Create]);
    let covered: Vec<_> = w
        .events(entity)
        .await
        .into_iter()
        .filter_map(|e| match e {
            SyncEvent::InputsGathered(i) => Some(i.covers.len()),
            _ => None,
        })
        .collect();
    assert_eq!(covered, [1]);
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
}

/// The second job starts while the first one's POST is applied in the ERP but has not answered:
/// a second process whose lease on the entity has expired takes the entity over.
async fn an_update_worked_while_the_create_post_is_paused_gives_one_erp_record(db: Db) {
    let w = World::new(db).await;
    let mut paused = w.erp.pause_next(Op::Create);
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada Lovelase", "email": "ada@example.com"}),
    );
    w.deliver(CRM).await;
    let entity = first_stream(CRM, &c.id);
    let first = tokio::spawn({
        let ledger = w.ledger.clone();
        async move { ledger.work_entity(entity).await }
    });
    let created = paused.applied().await.expect("the create was sent");

    w.crm
        .user_update(CONTACTS, &c.id, json!({"full_name": "Ada Lovelace"}));
    w.deliver(CRM).await;
    let second = w.second_process("process-2", Duration::ZERO).await;
    assert!(
        second.work_entity(entity).await.expect("second job"),
        "an expired lease is taken over"
    );

    // The second job found the create's record by its match keys instead of creating again,
    // then patched it with the correction.
    let state = w.state(entity).await;
    assert_eq!(state.links["erp"].record_id, created.id);
    assert!(state.pending_writes.is_empty());
    let resolutions: Vec<Resolution> = w
        .events(entity)
        .await
        .into_iter()
        .filter_map(|e| match e {
            SyncEvent::WriteSucceeded(s) => Some(s.resolution),
            _ => None,
        })
        .collect();
    assert_eq!(
        resolutions,
        [Resolution::LookupByMatchKeys, Resolution::Response]
    );

    paused.release();
    assert!(first.await.expect("first job").expect("first job result"));
    w.settle().await;
    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.erp.requests(Op::Create), 1);
    assert_eq!(
        w.erp
            .record(CUSTOMERS, &created.id)
            .expect("still there")
            .body["name"],
        "Ada Lovelace"
    );
    assert_eq!(w.crm.count(CONTACTS), 1);
    assert_eq!(w.queue_depth().await, 0);
}

/// While the first process holds a live lease, a second process does not touch the entity; once
/// the first finishes, the second's turn finds nothing left to create.
async fn a_second_process_is_kept_out_by_a_live_lease(db: Db) {
    let mut settings = crate::harness::settings("process-1");
    settings.lease_ttl = Duration::from_secs(300);
    let w = World::with(db, syncledger_core::config::OnDelete::Propagate, settings).await;
    let mut paused = w.erp.pause_next(Op::Create);
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada Lovelase", "email": "ada@example.com"}),
    );
    w.deliver(CRM).await;
    let entity = first_stream(CRM, &c.id);
    let first = tokio::spawn({
        let ledger = w.ledger.clone();
        async move { ledger.work_entity(entity).await }
    });
    paused.applied().await.expect("the create was sent");
    w.crm
        .user_update(CONTACTS, &c.id, json!({"full_name": "Ada Lovelace"}));
    w.deliver(CRM).await;

    let second = w
        .second_process("process-2", Duration::from_secs(300))
        .await;
    assert!(
        !second.work_entity(entity).await.expect("second job"),
        "the lease is held"
    );

    paused.release();
    assert!(first.await.expect("first job").expect("first job result"));
    assert!(second.work_entity(entity).await.expect("second job"));
    w.settle().await;
    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.erp.requests(Op::Create), 1);
    assert_eq!(
        only(&w.erp, CUSTOMERS, "email_address", "ada@example.com").body["name"],
        "Ada Lovelace"
    );
}

/// The create is asked for by its decision (`DecisionMade.write`, no `WriteRequested`), and the
/// create's outcome is caused by that decision.
async fn the_create_is_asked_for_by_its_decision_which_causes_its_outcome(db: Db) {
    let w = World::new(db).await;
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada Lovelace", "email": "ada@example.com"}),
    );
    w.deliver(CRM).await;
    w.run().await;
    let entity = w.entity_of(CRM, &c.id).await.expect("mapped");
    let stream = w.store().read_stream(entity, 1, i64::MAX).await.unwrap();
    let decoded: Vec<SyncEvent> = stream
        .iter()
        .map(|e| SyncEvent::from_recorded(e).expect("decodable"))
        .collect();
    assert!(
        !decoded
            .iter()
            .any(|e| matches!(e, SyncEvent::WriteRequested(_))),
        "{decoded:?}"
    );
    let (decision, request) = stream
        .iter()
        .zip(&decoded)
        .find_map(|(recorded, e)| match e {
            SyncEvent::DecisionMade(d) => d.write.as_ref().map(|w| (recorded, w)),
            _ => None,
        })
        .expect("a decision carrying the create");
    assert_eq!(request.op, WriteOp::Create);
    assert_eq!(request.fields["email"], "ada@example.com");
    let (outcome, _) = stream
        .iter()
        .zip(&decoded)
        .find(|(_, e)| {
            matches!(e, SyncEvent::WriteSucceeded(s) if s.request_id == request.request_id)
        })
        .expect("the create's outcome");
    assert_eq!(outcome.meta.causation_id, Some(decision.event_id));
    assert_eq!(w.erp.count(CUSTOMERS), 1);
}

both!(
    the_create_is_asked_for_by_its_decision_which_causes_its_outcome,
    a_create_and_its_quick_update_delivered_together_give_one_erp_record,
    an_update_worked_while_the_create_post_is_paused_gives_one_erp_record,
    a_second_process_is_kept_out_by_a_live_lease,
);
