//! G2: the target's own create webhook, even when it arrives before the ID mapping is saved
//! (even before the POST answers), never creates a duplicate in the origin (the seed's race 2).

use serde_json::json;
use syncledger_connector::Record;
use syncledger_core::events::{DecisionKind, SyncEvent};
use syncledger_engine::EngineError;
use syncledger_sim::{Op, PausedWrite};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::both;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, World, first_stream};

/// A CRM contact whose create the ERP has applied but not yet answered: its job is paused
/// inside the POST.
struct Unanswered {
    contact: Record,
    entity: Uuid,
    job: JoinHandle<Result<bool, EngineError>>,
    paused: PausedWrite,
    created: Record,
}

/// The contact most of these tests create in the CRM.
fn alan() -> serde_json::Value {
    json!({"full_name": "Alan Turing", "email": "alan@example.com"})
}

async fn create_unanswered(w: &World, contact: serde_json::Value) -> Unanswered {
    let mut paused = w.erp.pause_next(Op::Create);
    let contact = w.crm.user_create(CONTACTS, contact);
    w.deliver(CRM).await;
    let entity = first_stream(CRM, &contact.id);
    let job = tokio::spawn({
        let ledger = w.ledger.clone();
        async move { ledger.work_entity(entity).await }
    });
    let created = paused.applied().await.expect("the create was sent");
    Unanswered {
        contact,
        entity,
        job,
        paused,
        created,
    }
}

async fn the_erp_create_webhook_worked_while_the_post_is_paused_creates_nothing_in_the_crm(db: Db) {
    let w = World::new(db).await;
    let Unanswered {
        contact: c,
        entity,
        job,
        paused,
        created,
        ..
    } = create_unanswered(
        &w,
        json!({"full_name": "Alan Turing", "email": "alan@example.com", "phone": "111"}),
    )
    .await;

    // ERP announces its customer before answering the POST: nobody has mapped it yet.
    let echo = w.deliver(ERP).await;
    assert_eq!(echo.len(), 1);
    assert_eq!(w.entity_of(ERP, &created.id).await, None);
    let echo_stream = first_stream(ERP, &created.id);
    w.work(echo_stream).await;

    assert_eq!(
        w.crm.requests(Op::Create),
        0,
        "the echo created nothing in the CRM"
    );
    let echo_state = w.state(echo_stream).await;
    assert_eq!(echo_state.redirected_to, Some(entity));
    assert!(echo_state.open_triggers.is_empty());
    assert_eq!(
        w.state(entity).await.links["erp"].record_id,
        created.id,
        "linked before the POST answered"
    );
    assert_eq!(w.entity_of(ERP, &created.id).await, Some(entity));

    paused.release();
    assert!(job.await.expect("job").expect("job result"));
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(w.crm.requests(Op::Create), 0);
    let links = w.state(entity).await.links;
    assert_eq!(
        (
            links["crm"].record_id.as_str(),
            links["erp"].record_id.as_str()
        ),
        (c.id.as_str(), created.id.as_str())
    );
    // The link is recorded once: the POST's answer found it already there.
    let linked = w
        .events(entity)
        .await
        .into_iter()
        .filter(|e| matches!(e, SyncEvent::RecordLinked(l) if l.system == "erp"))
        .count();
    assert_eq!(linked, 1);
    assert_eq!(w.queue_depth().await, 0);
}

/// The ERP's `created` notice of the record the sync made, delivered after the POST answered,
/// is routed to the entity that asked for it and settled there by the create's answer.
async fn the_erp_create_webhook_delivered_after_the_answer_is_recognised_as_the_echo(db: Db) {
    let w = World::new(db).await;
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Alan Turing", "email": "alan@example.com"}),
    );
    w.deliver(CRM).await;
    w.run().await;
    let entity = w.entity_of(CRM, &c.id).await.expect("mapped");
    let erp_id = w.state(entity).await.links["erp"].record_id.clone();

    let erp_gets = w.erp.requests(Op::Get);
    w.deliver(ERP).await;
    assert_eq!(
        w.ledger.due_entities().await.expect("due"),
        [entity],
        "the echo lands in the mapped entity"
    );
    w.run().await;

    assert_eq!(w.crm.requests(Op::Create), 0);
    assert_eq!(w.crm.requests(Op::Update), 0);
    // The create's answer said what the record holds: its `created` notice is not fetched.
    assert_eq!(
        w.erp.requests(Op::Get),
        erp_gets,
        "the echo was not fetched"
    );
    assert_eq!(
        w.decisions(entity).await.last(),
        Some(&DecisionKind::EchoSuppressed)
    );
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(w.entity_of(ERP, &erp_id).await, Some(entity));
}

/// The echo is delivered while the POST is paused and once more after it answered (the sender
/// retried), and the ERP also announces an update made before the mapping existed.
async fn an_echo_delivered_twice_still_creates_nothing_in_the_crm(db: Db) {
    let w = World::new(db).await;
    let Unanswered {
        contact: c,
        job,
        paused,
        created,
        ..
    } = create_unanswered(&w, alan()).await;
    let echo = w.deliver(ERP).await;
    w.erp
        .user_update(CUSTOMERS, &created.id, json!({"phones": ["222"]}));
    let update = w.deliver(ERP).await;
    w.work(first_stream(ERP, &created.id)).await;
    paused.release();
    job.await.expect("job").expect("job result");

    let again = w.ingest(ERP, &echo).await;
    assert_eq!((again.recorded, again.duplicates), (0, 1));
    w.ingest(ERP, &update).await;
    w.settle().await;

    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(w.crm.requests(Op::Create), 0);
    // The ERP user's own change was not swallowed with the echo: it reached the CRM.
    assert_eq!(
        w.crm.record(CONTACTS, &c.id).expect("contact").body["phone"],
        "222"
    );
    assert_eq!(w.queue_depth().await, 0);
}

/// An ERP user deletes the customer the sync is creating before the POST answers: the created
/// and deleted webhooks are worked while nobody knows the record yet. Once the answer links it,
/// the deletion still reaches the entity and is propagated (no link to a record that is gone).
async fn a_created_record_deleted_before_the_post_answered_is_handled_as_deleted(db: Db) {
    let w = World::new(db).await;
    let Unanswered {
        entity,
        job,
        paused,
        created,
        ..
    } = create_unanswered(&w, alan()).await;
    w.erp.user_delete(CUSTOMERS, &created.id);
    assert_eq!(w.deliver(ERP).await.len(), 2);
    w.work(first_stream(ERP, &created.id)).await;

    paused.release();
    job.await.expect("job").expect("job result");
    w.settle().await;

    assert_eq!(
        (w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)),
        (0, 0),
        "on_delete = propagate"
    );
    assert!(w.state(entity).await.links.is_empty());
    assert_eq!(crate::invariants::problems(&w).await, Vec::<String>::new());
}

/// The ERP's create webhook is recorded while the POST is unanswered (so on a stream of its own),
/// but worked only after the answer linked the record: it is handed to the entity that holds the
/// record, without linking it a second time, and the reason says why.
async fn an_echo_recorded_before_the_link_and_worked_after_it_is_handed_over_without_a_second_link(
    db: Db,
) {
    let w = World::new(db).await;
    let Unanswered {
        entity,
        job,
        paused,
        created,
        ..
    } = create_unanswered(&w, alan()).await;
    assert_eq!(w.deliver(ERP).await.len(), 1);
    let echo_stream = first_stream(ERP, &created.id);
    paused.release();
    assert!(job.await.expect("job").expect("job result"));
    assert_eq!(
        w.entity_of(ERP, &created.id).await,
        Some(entity),
        "the answer linked it"
    );

    w.work(echo_stream).await;
    assert_eq!(w.state(echo_stream).await.redirected_to, Some(entity));
    let events = w.events(entity).await;
    let erp_links = events
        .iter()
        .filter(|e| matches!(e, SyncEvent::RecordLinked(l) if l.system == "erp"))
        .count();
    assert_eq!(erp_links, 1, "linked once, by the POST's answer");
    let suppressed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::DecisionMade(d) if d.kind == DecisionKind::EchoSuppressed => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(
        suppressed[0].reason(),
        format!("erp {} is already linked to entity {entity}", created.id)
    );
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(w.crm.requests(Op::Create), 0);
    assert_eq!(crate::invariants::problems(&w).await, Vec::<String>::new());
}

both!(
    a_created_record_deleted_before_the_post_answered_is_handled_as_deleted,
    the_erp_create_webhook_worked_while_the_post_is_paused_creates_nothing_in_the_crm,
    the_erp_create_webhook_delivered_after_the_answer_is_recognised_as_the_echo,
    an_echo_delivered_twice_still_creates_nothing_in_the_crm,
    an_echo_recorded_before_the_link_and_worked_after_it_is_handed_over_without_a_second_link,
);
