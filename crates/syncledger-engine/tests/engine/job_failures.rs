//! Every failure path ends (docs/operations.md "When a job fails"): a job that panics, a system
//! that answers with another record, a `Retry-After` past the calendar, and a write for a system
//! the configuration no longer has are each retried within the budget and end as dead letters,
//! while every other entity keeps syncing. And a lease is held only while its job runs.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use syncledger_core::config::OnDelete;
use syncledger_core::events::{
    DeadLetterRequest, DeadLettered, SyncEvent, WorkFailed, WriteFailed,
};
use syncledger_engine::EngineSettings;
use syncledger_sim::{Fault, Op};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::both;
use crate::faulty::{Crash, Fetch, until_crash};
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, World, first_stream, settings};

fn work_failures(events: &[SyncEvent]) -> Vec<WorkFailed> {
    events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::WorkFailed(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn write_failures(events: &[SyncEvent]) -> Vec<WriteFailed> {
    events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::WriteFailed(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn letters(events: &[SyncEvent]) -> Vec<DeadLettered> {
    events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::DeadLettered(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

/// Two new CRM contacts, their webhooks recorded: `c-1` (Ada) and `c-2` (Bob).
async fn two_contacts(w: &World) -> (Uuid, Uuid) {
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Bob", "email": "bob@example.com"}),
    );
    w.deliver(CRM).await;
    (first_stream(CRM, "c-1"), first_stream(CRM, "c-2"))
}

/// The attempts recorded and whether each would be retried.
fn attempts(failures: &[WorkFailed]) -> Vec<(u32, bool)> {
    failures.iter().map(|f| (f.attempt, f.will_retry)).collect()
}

const BUDGET: [(u32, bool); 5] = [(1, true), (2, true), (3, true), (4, true), (5, false)];

async fn a_job_that_panics_is_retried_then_dead_lettered_and_the_others_keep_syncing(db: Db) {
    let w = World::new(db).await;
    w.crm_conn.script_fetch("c-1", Fetch::Panic);
    let (ada, bob) = two_contacts(&w).await;
    w.run().await;

    let events = w.events(ada).await;
    let failed = work_failures(&events);
    assert_eq!(attempts(&failed), BUDGET);
    assert!(
        failed[0]
            .reason
            .contains("the job panicked: scripted panic fetching c-1"),
        "{:?}",
        failed[0].reason
    );
    let letter = letters(&events);
    assert_eq!(letter.len(), 1);
    assert!(
        letter[0]
            .reason
            .starts_with("gave up after 5 failed attempts: the job panicked")
    );
    let DeadLetterRequest::Work { record, .. } = &letter[0].request else {
        panic!("a work item's letter: {:?}", letter[0].request);
    };
    assert_eq!(record.as_ref().map(|r| r.record_id.as_str()), Some("c-1"));
    // Bob was synced; Ada's work is closed, so nothing is owed any more.
    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert!(w.state(bob).await.links.contains_key(ERP));
    assert!(w.state(ada).await.open_triggers.is_empty());
    assert_eq!(w.queue_depth().await, 0);
}

async fn an_answer_for_another_record_ends_as_a_dead_letter_within_the_budget(db: Db) {
    let w = World::new(db).await;
    w.crm_conn
        .script_fetch("c-1", Fetch::AnswerWith("..".into()));
    let (ada, bob) = two_contacts(&w).await;
    w.run().await;

    let events = w.events(ada).await;
    assert_eq!(attempts(&work_failures(&events)), BUDGET);
    assert_eq!(letters(&events).len(), 1);
    assert!(w.state(bob).await.links.contains_key(ERP));
    assert_eq!(w.erp.count(CUSTOMERS), 1);
    assert_eq!(w.queue_depth().await, 0);
}

async fn a_retry_after_past_the_calendar_waits_the_configured_maximum(db: Db) {
    let w = World::new(db).await;
    w.erp
        .fail_next(Op::Create, Fault::RetryAfter(99_999_999_999_999));
    let (ada, bob) = two_contacts(&w).await;
    let before = Utc::now();
    w.run().await;
    let after = Utc::now();

    let failed = write_failures(&w.events(ada).await);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].will_retry);
    let max = chrono::Duration::from_std(w.settings.max_retry_after).unwrap();
    let retry_at = failed[0].retry_at.expect("a retry time");
    assert!(
        retry_at >= before + max && retry_at <= after + max,
        "{retry_at} not an hour after the attempt"
    );
    // The other entity synced meanwhile; the first waits for its retry.
    assert!(w.state(bob).await.links.contains_key(ERP));
    assert_eq!(w.erp.count(CUSTOMERS), 1);
}

async fn a_write_for_a_system_no_longer_configured_becomes_a_dead_letter(db: Db) {
    let mut w = World::new(db).await;
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    w.deliver(CRM).await;
    let ada = first_stream(CRM, "c-1");
    // The create towards the ERP is requested, then the process dies before the call.
    w.erp_conn.crash_next_write(Crash::BeforeCall);
    until_crash(&w.erp_conn, w.ledger.work_entity(ada)).await;
    w.restart().await;

    // The operator removes the ERP from the tenant and the entity, and starts again.
    let mut config = (*w.config).clone();
    config.tenants[0].systems.remove(ERP);
    config.entities[0].systems.remove(ERP);
    let ledger = w.process_with_config("process-without-erp", config).await;
    ledger.run_until_idle(1000).await.expect("run until idle");

    let events = w.events(ada).await;
    let letter = letters(&events);
    assert_eq!(letter.len(), 1, "{events:?}");
    assert!(
        letter[0]
            .reason
            .contains("erp is no longer in the configuration"),
        "{:?}",
        letter[0].reason
    );
    assert!(w.state(ada).await.pending_writes.is_empty());
    assert_eq!(w.erp.count(CUSTOMERS), 0);
}

async fn queued_entities_are_not_leased_until_their_job_starts(db: Db) {
    let settings = EngineSettings {
        workers: 2,
        lease_ttl: Duration::from_secs(600),
        ..settings("process-1")
    };
    let w = World::with(db, OnDelete::Propagate, settings).await;
    for i in 0..10 {
        w.crm.user_create(
            CONTACTS,
            json!({"full_name": format!("P{i}"), "email": format!("p{i}@example.com")}),
        );
    }
    w.deliver(CRM).await;
    let entities: Vec<Uuid> = (1..=10)
        .map(|i| first_stream(CRM, &format!("c-{i}")))
        .collect();
    w.crm_conn.hold_fetches();
    let stop = CancellationToken::new();
    let pool = {
        let (ledger, stop) = (w.ledger.clone(), stop.clone());
        tokio::spawn(async move { ledger.run_workers(stop).await })
    };
    while w.crm_conn.fetches_started() < 2 {
        tokio::task::yield_now().await;
    }

    // Another process (the next one after a crash, say) can take every entity but the two
    // whose jobs are running: nothing else is leased.
    let mut refused = BTreeSet::new();
    for id in &entities {
        let other = w
            .store()
            .try_lease(*id, "process-2", Duration::from_secs(1))
            .await
            .unwrap();
        if other {
            w.store().release_lease(*id, "process-2").await.unwrap();
        } else {
            refused.insert(*id);
        }
    }
    assert_eq!(
        refused.len(),
        2,
        "leased beyond the running jobs: {refused:?}"
    );

    w.crm_conn.release_fetches();
    let synced = async {
        while w.erp.count(CUSTOMERS) < 10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), synced)
        .await
        .expect("every queued entity synced once the fetches were let through");
    stop.cancel();
    pool.await.unwrap();
}

both!(
    a_job_that_panics_is_retried_then_dead_lettered_and_the_others_keep_syncing,
    an_answer_for_another_record_ends_as_a_dead_letter_within_the_budget,
    a_retry_after_past_the_calendar_waits_the_configured_maximum,
    a_write_for_a_system_no_longer_configured_becomes_a_dead_letter,
    queued_entities_are_not_leased_until_their_job_starts,
);
