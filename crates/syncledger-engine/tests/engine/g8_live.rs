//! G8 on live webhooks: a record whose match keys equal an unpaired record the log has seen in
//! the target is linked to it, not duplicated, including when the two records' webhooks are
//! worked at the same moment. The interleavings are forced by holding a job at the engine's gate
//! between recording its record and deciding on it (no sleeps).

use serde_json::json;
use syncledger_core::config::OnDelete;
use syncledger_core::events::{DecisionKind, SyncEvent};
use syncledger_engine::{EngineError, EngineSettings};
use syncledger_sim::Op;
use tokio::task::JoinHandle;

use crate::both;
use crate::gates::{Gates, Held};
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, World, first_stream, only, settings};

const EMAIL: &str = "ada@example.com";

/// Links made by equal match keys, over both streams.
async fn key_links(w: &World, streams: &[uuid::Uuid]) -> usize {
    let mut n = 0;
    for s in streams {
        n += w
            .events(*s)
            .await
            .iter()
            .filter(|e| matches!(e, SyncEvent::RecordLinked(l) if l.reason == "equal match keys"))
            .count();
    }
    n
}

/// Nothing was created in either system, one entity holds both records, linked once by keys,
/// and the quiet state has no problem.
async fn assert_one_pair(w: &World, crm_id: &str, erp_id: &str, streams: &[uuid::Uuid]) {
    assert_eq!(
        (w.crm.requests(Op::Create), w.erp.requests(Op::Create)),
        (0, 0),
        "no twin in either system"
    );
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    let crm_entity = w.entity_of(CRM, crm_id).await.expect("crm mapped");
    let erp_entity = w.entity_of(ERP, erp_id).await.expect("erp mapped");
    assert_eq!(crm_entity, erp_entity, "one entity holds both records");
    assert_eq!(key_links(w, streams).await, 1, "linked once");
    assert_eq!(crate::invariants::problems(w).await, Vec::<String>::new());
}

/// A world whose jobs can be held at the gate.
async fn gated(db: Db) -> (World, Gates) {
    let gates = Gates::default();
    let settings = EngineSettings {
        gate: Some(gates.gate()),
        ..settings("process-1")
    };
    (World::with(db, OnDelete::Propagate, settings).await, gates)
}

/// Starts a job on `entity` and holds it once it has recorded its record (fetched once) and is
/// about to decide on that fetch. Release it to let the job read `match_index`, decide and
/// append.
async fn held_before_deciding(
    w: &World,
    gates: &Gates,
    entity: uuid::Uuid,
) -> (Held, JoinHandle<Result<bool, EngineError>>) {
    let mut held = gates.hold(entity);
    let job = tokio::spawn({
        let ledger = w.ledger.clone();
        async move { ledger.work_entity(entity).await }
    });
    held.reached().await;
    (held, job)
}

/// The ERP customer lost its CRM twin (deleted there, `on_delete = unlink`), so the log knows it
/// as an unpaired ERP record. A CRM user then creates the same person: linked, nothing created.
async fn a_crm_record_with_the_keys_of_an_unpaired_erp_record_is_linked_to_it(db: Db) {
    let w = World::with(db, OnDelete::Unlink, settings("process-1")).await;
    let e = w.erp.user_create(
        CUSTOMERS,
        json!({"name": "Ada", "email_address": EMAIL, "phones": ["111"]}),
    );
    w.settle().await;
    let contact = only(&w.crm, CONTACTS, "email", EMAIL);
    w.crm.user_delete(CONTACTS, &contact.id);
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (0, 1));
    let erp_entity = w
        .entity_of(ERP, &e.id)
        .await
        .expect("the ERP record is mapped");
    assert!(!w.state(erp_entity).await.links.contains_key(CRM));

    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada Lovelace", "email": " ADA@example.com", "phone": "222"}),
    );
    w.settle().await;

    assert_eq!(
        w.erp.requests(Op::Create),
        0,
        "nothing was created in the ERP"
    );
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    let entity = first_stream(CRM, &c.id);
    let links = w.state(entity).await.links;
    assert_eq!(links[ERP].record_id, e.id, "linked to the ERP record");
    assert_eq!(w.entity_of(ERP, &e.id).await, Some(entity));
    assert_eq!(w.state(erp_entity).await.redirected_to, Some(entity));
    assert!(w.decisions(entity).await.contains(&DecisionKind::Link));
    // The pair converged: the ERP's values (fetched once linked) reached the CRM.
    let crm = w.crm.record(CONTACTS, &c.id).expect("contact").body;
    let erp = w.erp.record(CUSTOMERS, &e.id).expect("customer").body;
    assert_eq!(crm["full_name"], erp["name"]);
    assert_eq!(crm["phone"], erp["phones"][0]);
    assert_eq!(crate::invariants::problems(&w).await, Vec::<String>::new());
}

/// CRM and ERP users create the same person at about the same time; both webhooks are in the
/// log before either is worked. `first` is worked until it has recorded its record and is about
/// to decide (held there), then `second` is worked to the end, then `first` resumes.
async fn interleaved(db: Db, first: &str, second: &str) {
    let (w, gates) = gated(db).await;
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": EMAIL, "phone": "111"}),
    );
    let e = w.erp.user_create(
        CUSTOMERS,
        json!({"name": "Ada", "email_address": EMAIL, "phones": ["111"]}),
    );
    w.deliver(CRM).await;
    w.deliver(ERP).await;
    let (first_id, second_id) = if first == CRM {
        (c.id.clone(), e.id.clone())
    } else {
        (e.id.clone(), c.id.clone())
    };
    let (first_entity, second_entity) = (
        first_stream(first, &first_id),
        first_stream(second, &second_id),
    );

    let (decide, job) = held_before_deciding(&w, &gates, first_entity).await;
    assert!(
        w.state(first_entity).await.links.contains_key(first),
        "recorded before deciding"
    );

    w.work(second_entity).await;
    decide.release();
    assert!(job.await.expect("job").expect("job result"));
    w.settle().await;

    assert_one_pair(&w, &c.id, &e.id, &[first_entity, second_entity]).await;
}

async fn the_erp_record_decided_while_the_crm_decision_waits_is_linked_once(db: Db) {
    interleaved(db, CRM, ERP).await
}

async fn the_crm_record_decided_while_the_erp_decision_waits_is_linked_once(db: Db) {
    interleaved(db, ERP, CRM).await
}

/// Both records are recorded first, then decided one after the other (`first`'s decision first).
async fn both_recorded_then_decided_in_turn(db: Db, first: &str, second: &str) {
    let (w, gates) = gated(db).await;
    let c = w
        .crm
        .user_create(CONTACTS, json!({"full_name": "Ada", "email": EMAIL}));
    let e = w
        .erp
        .user_create(CUSTOMERS, json!({"name": "Ada", "email_address": EMAIL}));
    w.deliver(CRM).await;
    w.deliver(ERP).await;
    let id = |s: &str| if s == CRM { c.id.clone() } else { e.id.clone() };
    let (a, b) = (
        first_stream(first, &id(first)),
        first_stream(second, &id(second)),
    );
    // Each job is held before deciding: both have recorded their record.
    let mut held = Vec::new();
    for entity in [a, b] {
        held.push(held_before_deciding(&w, &gates, entity).await);
    }
    for (decide, job) in held {
        decide.release();
        assert!(job.await.expect("job").expect("job result"));
    }
    w.settle().await;
    assert_one_pair(&w, &c.id, &e.id, &[a, b]).await;
}

async fn both_recorded_the_crm_decision_first_links_once(db: Db) {
    both_recorded_then_decided_in_turn(db, CRM, ERP).await
}

async fn both_recorded_the_erp_decision_first_links_once(db: Db) {
    both_recorded_then_decided_in_turn(db, ERP, CRM).await
}

async fn records_with_different_keys_are_created_as_before(db: Db) {
    let w = World::new(db).await;
    w.erp.user_create(
        CUSTOMERS,
        json!({"name": "Ada", "email_address": "ada@erp.example"}),
    );
    w.settle().await;
    w.crm
        .user_create(CONTACTS, json!({"full_name": "Ada", "email": EMAIL}));
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (2, 2));
    assert_eq!(
        (w.crm.requests(Op::Create), w.erp.requests(Op::Create)),
        (1, 1)
    );
    only(&w.erp, CUSTOMERS, "email_address", EMAIL);
    assert_eq!(crate::invariants::problems(&w).await, Vec::<String>::new());
}

/// A fetch that fails transiently stops the job with a transient error, records nothing, and
/// the work is done once the system answers again.
async fn a_transient_fetch_failure_is_reported_as_transient_and_retried(db: Db) {
    let w = World::new(db).await;
    let c = w
        .crm
        .user_create(CONTACTS, json!({"full_name": "Ada", "email": EMAIL}));
    w.deliver(CRM).await;
    let entity = first_stream(CRM, &c.id);
    w.crm
        .fail_next(Op::Get, syncledger_sim::Fault::Status(503, "down".into()));
    let err = w
        .ledger
        .work_entity(entity)
        .await
        .expect_err("the fetch failed");
    assert!(
        matches!(&err, EngineError::SystemUnavailable { system, .. } if system == CRM),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(w.state(entity).await.open_triggers.len(), 1, "still owed");
    w.settle().await;
    assert_eq!(w.erp.count(CUSTOMERS), 1);
}

/// `run_until_idle` leaves an entity whose fetch failed transiently for later, works the
/// others, and still reports the failure once nothing else is due.
async fn run_until_idle_works_the_others_while_a_system_is_down(db: Db) {
    let w = World::new(db).await;
    for (name, email) in [("Ada", EMAIL), ("Bob", "bob@example.com")] {
        w.crm
            .user_create(CONTACTS, json!({"full_name": name, "email": email}));
    }
    w.deliver(CRM).await;
    w.crm
        .fail_next(Op::Get, syncledger_sim::Fault::Status(503, "down".into()));
    let err = w
        .ledger
        .run_until_idle(100)
        .await
        .expect_err("one fetch failed");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(
        w.erp.count(CUSTOMERS),
        1,
        "the other record was synced meanwhile"
    );
    w.settle().await;
    assert_eq!(w.erp.count(CUSTOMERS), 2);
}

/// G8's first step records a new record's fetch on its own; the decision on it refers to that
/// fetch (`InputsGathered.fetched_first`) instead of recording it again, and the same build
/// replays the decision from it without a difference.
async fn a_new_records_fetch_is_recorded_once_and_its_decision_refers_to_it(db: Db) {
    let w = World::new(db).await;
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada Lovelace", "email": EMAIL}),
    );
    w.deliver(CRM).await;
    w.run().await;
    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.crm.requests(Op::Get), 1, "one GET");

    let stream = w
        .store()
        .read_stream(first_stream(CRM, &c.id), 1, i64::MAX)
        .await
        .unwrap();
    let fetches: Vec<_> = stream
        .iter()
        .filter(|e| e.event_type == "RecordFetched")
        .collect();
    assert_eq!(fetches.len(), 1, "recorded once: {stream:#?}");
    assert_eq!(fetches[0].meta.causation_id, None, "by the first step");
    let inputs = stream
        .iter()
        .find_map(|e| match SyncEvent::from_recorded(e).unwrap() {
            SyncEvent::InputsGathered(i) => Some(i),
            _ => None,
        })
        .expect("the decision's inputs");
    assert_eq!(inputs.fetched_first, Some(fetches[0].event_id));
    assert_eq!(
        crate::invariants::replay_is_silent(&w).await,
        Vec::<String>::new()
    );
}

both!(
    a_new_records_fetch_is_recorded_once_and_its_decision_refers_to_it,
    a_crm_record_with_the_keys_of_an_unpaired_erp_record_is_linked_to_it,
    the_erp_record_decided_while_the_crm_decision_waits_is_linked_once,
    the_crm_record_decided_while_the_erp_decision_waits_is_linked_once,
    both_recorded_the_crm_decision_first_links_once,
    both_recorded_the_erp_decision_first_links_once,
    records_with_different_keys_are_created_as_before,
    a_transient_fetch_failure_is_reported_as_transient_and_retried,
    run_until_idle_works_the_others_while_a_system_is_down,
);
