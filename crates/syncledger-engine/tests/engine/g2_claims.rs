//! A record is linked to one entity by construction (issue 27's duplicate): the link is a claim
//! checked where it is appended, so two jobs that each read "nobody links this record" cannot
//! both link it, whichever process they run in.
//!
//! The duplicate seen with two processes on one PostgreSQL: the ERP's `created` notice of a
//! record the sync was creating opened a stream of its own (B). B's job read `id_mappings` (no
//! link yet); the create's answer then landed (the record linked to its creator A, the create
//! settled); B's job read `round_trip_context` and found no create in flight, linked the record
//! "first seen in erp" over A's link, and created a twin of A's CRM contact. Forced here with the
//! engine's gate between the two lookups (`GatePoint::OwnerLookup`).

use serde_json::json;
use syncledger_connector::Record;
use syncledger_core::config::OnDelete;
use syncledger_engine::{EngineError, EngineSettings, GatePoint};
use syncledger_sim::{Op, PausedWrite};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::both;
use crate::gates::{Gates, Held};
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, World, config, first_stream, settings};

async fn gated(db: Db, ttl_secs: u64) -> (World, Gates) {
    let gates = Gates::default();
    let settings = EngineSettings {
        gate: Some(gates.gate()),
        workers: 2,
        ..settings("process-1")
    };
    let mut config = config(OnDelete::Propagate);
    config.server.round_trip_ttl_secs = ttl_secs;
    (World::with_config(db, config, settings).await, gates)
}

type Job = JoinHandle<Result<bool, EngineError>>;

/// A CRM contact's create (entity A), applied by the ERP and not yet answered, and the ERP's
/// notice of it (stream B), whose job waits at `point`.
struct Race {
    entity: Uuid,
    job: Job,
    paused: PausedWrite,
    created: Record,
    notice: Uuid,
    held: Held,
    notice_job: Job,
}

async fn race(w: &World, gates: &Gates, point: GatePoint) -> Race {
    let mut paused = w.erp.pause_next(Op::Create);
    let contact = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Alan Turing", "email": "alan@example.com"}),
    );
    w.deliver(CRM).await;
    let entity = first_stream(CRM, &contact.id);
    let job = work(w, entity);
    let created = paused.applied().await.expect("the create was sent");
    w.deliver(ERP).await;
    let notice = first_stream(ERP, &created.id);
    let mut held = gates.hold_at(point, notice);
    let notice_job = work(w, notice);
    held.reached().await;
    Race {
        entity,
        job,
        paused,
        created,
        notice,
        held,
        notice_job,
    }
}

fn work(w: &World, entity: Uuid) -> Job {
    let ledger = w.ledger.clone();
    tokio::spawn(async move { ledger.work_entity(entity).await })
}

async fn a_notice_that_read_no_link_before_the_answer_and_no_create_after_it_makes_no_twin(db: Db) {
    let (w, gates) = gated(db, 600).await;
    // A's create applied and unanswered; B, the ERP's notice of it, has read `id_mappings`
    // (no link yet).
    let Race {
        entity,
        job,
        paused,
        created,
        notice,
        held,
        notice_job,
    } = race(&w, &gates, GatePoint::OwnerLookup).await;

    // The answer lands: the record is linked to A and the create settled.
    paused.release();
    assert!(job.await.expect("job").expect("job result"));
    assert_eq!(w.entity_of(ERP, &created.id).await, Some(entity));

    // B goes on and finds no create in flight.
    held.release();
    notice_job
        .await
        .expect("notice job")
        .expect("notice result");
    w.settle().await;

    assert_eq!(
        (w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)),
        (1, 1),
        "no twin of the contact in the CRM"
    );
    assert_eq!(w.crm.requests(Op::Create), 0);
    assert_eq!(
        w.entity_of(ERP, &created.id).await,
        Some(entity),
        "the record stays linked to the entity that created it"
    );
    assert_eq!(w.state(notice).await.redirected_to, Some(entity));
    assert_eq!(crate::invariants::problems(&w).await, Vec::<String>::new());
}

/// With the round-trip window passed (a create answered after it), the notice's stream links
/// the record first; the create's answer then finds it claimed and takes the stream over in its
/// own append (`round_trip::take_over_first_seen`), so the record ends linked once, to its
/// creator, and nothing is created twice.
async fn a_create_answered_after_its_record_was_linked_first_elsewhere_takes_it_over(db: Db) {
    let (w, gates) = gated(db, 0).await;
    // B records the record first (it sees no live create) and is held before deciding.
    let Race {
        entity,
        job,
        paused,
        created,
        notice,
        held,
        notice_job,
    } = race(&w, &gates, GatePoint::Decide).await;
    assert_eq!(w.entity_of(ERP, &created.id).await, Some(notice));

    // The answer lands and finds the record claimed by B, which knows nothing else.
    paused.release();
    assert!(job.await.expect("job").expect("job result"));
    assert_eq!(w.entity_of(ERP, &created.id).await, Some(entity));
    assert_eq!(w.state(notice).await.redirected_to, Some(entity));

    held.release();
    notice_job
        .await
        .expect("notice job")
        .expect("notice result");
    w.settle().await;
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (1, 1));
    assert_eq!(w.crm.requests(Op::Create), 0);
    assert_eq!(w.entity_of(ERP, &created.id).await, Some(entity));
    assert_eq!(crate::invariants::problems(&w).await, Vec::<String>::new());
}

both!(
    a_notice_that_read_no_link_before_the_answer_and_no_create_after_it_makes_no_twin,
    a_create_answered_after_its_record_was_linked_first_elsewhere_takes_it_over,
);
