//! Bring-up on live systems (issue 16, docs/races.md "bring-up on live systems"): the initial
//! sync files every existing record through the webhook's door, runs once per tenant and entity
//! type, resumes where it stopped, and never duplicates a record while users keep working. The
//! interleavings are forced by pausing the systems' listing requests (no sleeps).

use serde_json::json;
use syncledger_core::events::SyncEvent;
use syncledger_core::initial_sync::{self, InitialSync, Phase};
use syncledger_engine::bringup::Start;
use syncledger_sim::Op;
use tokio_util::sync::CancellationToken;

use crate::both;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, TENANT, World};
use crate::invariants::{problems, writes};

/// `n` records in each system made before syncledger ran: the first `twins` of each share an
/// email (the same person in both); their webhooks went nowhere.
fn existing(w: &World, n: usize, twins: usize) {
    for i in 0..n {
        let email = if i < twins {
            format!("twin{i}@example.com")
        } else {
            format!("crm{i}@example.com")
        };
        w.crm.user_create(
            CONTACTS,
            json!({"full_name": format!("Person {i}"), "email": email, "phone": format!("1{i:03}")}),
        );
        let email = if i < twins {
            format!("twin{i}@example.com")
        } else {
            format!("erp{i}@example.com")
        };
        w.erp.user_create(
            CUSTOMERS,
            json!({"name": format!("Person {i}"), "email_address": email, "phones": [format!("1{i:03}")]}),
        );
    }
    w.crm.drain_webhooks();
    w.erp.drain_webhooks();
}

/// No email is held by two records of one system: nothing was duplicated.
fn assert_no_duplicate(w: &World) {
    for (sim, collection, field) in [
        (&w.crm, CONTACTS, "email"),
        (&w.erp, CUSTOMERS, "email_address"),
    ] {
        let mut emails: Vec<String> = sim
            .records(collection)
            .iter()
            .filter_map(|r| r.body[field].as_str().map(String::from))
            .collect();
        let all = emails.len();
        emails.sort();
        emails.dedup();
        assert_eq!(emails.len(), all, "a record duplicated in {collection}");
    }
}

async fn sync_stream(w: &World) -> Vec<SyncEvent> {
    w.events(initial_sync::stream_id(TENANT, "customer")).await
}

async fn sync_state(w: &World) -> InitialSync {
    w.ledger
        .initial_sync_state(TENANT, "customer")
        .await
        .expect("initial sync state")
}

fn spawn_sync(w: &World) -> tokio::task::JoinHandle<InitialSync> {
    let ledger = w.ledger.clone();
    tokio::spawn(async move {
        ledger
            .initial_sync(TENANT, "customer", Start::Resume, &CancellationToken::new())
            .await
            .expect("initial sync")
    })
}

/// A user's edit of existing record `i` in both systems and a new record in each, webhooks
/// delivered and worked: what people do while the ledger comes up.
async fn users_keep_working(w: &World, round: usize) {
    for i in [round, round + 40, round + 100] {
        let crm = w.crm.records(CONTACTS)[i].id.clone();
        w.crm
            .user_update(CONTACTS, &crm, json!({"phone": format!("9{round}{i}")}));
        let erp = w.erp.records(CUSTOMERS)[i].id.clone();
        w.erp.user_update(
            CUSTOMERS,
            &erp,
            json!({"name": format!("Renamed {round} {i}")}),
        );
    }
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": format!("New {round}"), "email": format!("new-crm{round}@example.com")}),
    );
    w.erp.user_create(
        CUSTOMERS,
        json!({"name": format!("New {round}"), "email_address": format!("new-erp{round}@example.com")}),
    );
    w.deliver(CRM).await;
    w.deliver(ERP).await;
    w.run().await;
}

/// 160 records in each system (40 the same people), pages of 50; the listing is held in the
/// middle of the CRM and again in the middle of the ERP while users edit existing records and
/// create new ones, and the workers work everything due. Every record ends linked once, none is
/// duplicated, the pairs agree, and once quiet the ledger writes nothing more.
async fn bring_up_while_users_work_links_every_record_once(db: Db) {
    let w = World::new(db).await;
    existing(&w, 160, 40);
    w.ledger.begin_initial_syncs().await.expect("begin");
    let mut crm_page_1 = w.crm.pause_next(Op::List);
    let mut crm_page_2 = w.crm.pause_next(Op::List);
    let sync = spawn_sync(&w);
    crm_page_1.applied().await;
    crm_page_1.release();
    crm_page_2.applied().await;
    // CRM page 1 is recorded; nothing of the ERP is known yet.
    users_keep_working(&w, 1).await;
    assert_eq!(
        w.erp.requests(Op::Create),
        0,
        "no create before the erp is listed"
    );
    let mut erp_page_2 = w.erp.pause_next(Op::List);
    crm_page_2.release();
    erp_page_2.applied().await;
    users_keep_working(&w, 2).await;
    erp_page_2.release();
    // A page may race the workers' appends: the sync takes fresh versions and goes on.
    let done = sync.await.expect("sync task");
    assert_eq!(done.phase(), Phase::Completed);
    let run = done.run.expect("a run");
    assert_eq!(run.pages(), 4 + 4, "160 records in pages of 50, per system");
    w.settle().await;

    assert_eq!(problems(&w).await, Vec::<String>::new());
    assert_no_duplicate(&w);
    // 160 existing + 2 new on each side, 40 of them the same people: 284 people, once each.
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (284, 284));
    let before = writes(&w);
    w.settle().await;
    assert_eq!(writes(&w), before, "no further writes once quiet");
}

/// The tenant's first webhook is recorded and worked before its initial sync could list
/// anything (the old start-up skipped a tenant whose log was not empty). Its create waits for
/// the listing, and every existing record of both systems is synced.
async fn a_first_webhook_before_the_initial_sync_does_not_skip_it(db: Db) {
    let w = World::new(db).await;
    existing(&w, 40, 5);
    w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Early", "email": "twin0-early@example.com"}),
    );
    w.deliver(CRM).await;
    w.ledger.begin_initial_syncs().await.expect("begin");
    w.run().await;
    assert_eq!(
        w.erp.requests(Op::Create),
        0,
        "held until the erp is listed"
    );
    spawn_sync(&w).await.expect("sync task");
    w.settle().await;
    assert_eq!(problems(&w).await, Vec::<String>::new());
    assert_no_duplicate(&w);
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (76, 76));
    let held = w.events(crate::harness::first_stream(CRM, "c-41")).await;
    assert!(
        held.iter().any(|e| matches!(e, SyncEvent::WorkHeld(_)))
            && held.iter().any(|e| matches!(e, SyncEvent::WorkReleased(_))),
        "the early record's create was held, then released: {held:?}"
    );
}

/// A completed bring-up, then the process stops; users create records in both systems while it
/// is down, their webhooks held back by the systems. After the restart the initial sync does not
/// run again (its stream is unchanged, nothing listed), and the held-back webhooks sync each
/// record once.
async fn a_restart_after_downtime_does_not_run_the_initial_sync_again(db: Db) {
    let mut w = World::new(db).await;
    existing(&w, 30, 10);
    w.ledger.begin_initial_syncs().await.expect("begin");
    spawn_sync(&w).await.expect("sync task");
    w.settle().await;
    let completed = sync_stream(&w).await;
    w.restart().await;
    for i in 0..5 {
        w.crm.user_create(
            CONTACTS,
            json!({"full_name": format!("Down {i}"), "email": format!("down-crm{i}@example.com")}),
        );
        w.erp.user_create(
            CUSTOMERS,
            json!({"name": format!("Down {i}"), "email_address": format!("down-erp{i}@example.com")}),
        );
    }
    let lists = w.crm.requests(Op::List) + w.erp.requests(Op::List);
    w.ledger.begin_initial_syncs().await.expect("begin");
    w.ledger.run_initial_syncs(CancellationToken::new()).await;
    assert_eq!(
        sync_stream(&w).await,
        completed,
        "the initial sync did not run again"
    );
    assert_eq!(w.crm.requests(Op::List) + w.erp.requests(Op::List), lists);
    w.settle().await;
    assert_eq!(problems(&w).await, Vec::<String>::new());
    assert_no_duplicate(&w);
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (60, 60));
}

/// The process stops in the middle of the listing (the second CRM page is in flight); the next
/// process resumes from the recorded cursor: every page is recorded once, no cursor is read
/// twice except the one in flight, and nothing is duplicated.
async fn an_initial_sync_cut_short_resumes_from_its_recorded_page(db: Db) {
    let mut w = World::new(db).await;
    existing(&w, 120, 20);
    w.ledger.begin_initial_syncs().await.expect("begin");
    let mut first = w.crm.pause_next(Op::List);
    let mut second = w.crm.pause_next(Op::List);
    let stop = CancellationToken::new();
    let sync = tokio::spawn({
        let (ledger, stop) = (w.ledger.clone(), stop.clone());
        async move {
            ledger
                .initial_sync(TENANT, "customer", Start::Resume, &stop)
                .await
        }
    });
    first.applied().await;
    first.release();
    second.applied().await;
    stop.cancel();
    let cut = sync.await.expect("task").expect("sync");
    assert_eq!(cut.phase(), Phase::Running);
    assert_eq!(cut.run.as_ref().map(|r| r.pages()), Some(1));
    drop(second);
    w.restart().await;
    assert_eq!(sync_state(&w).await.run.map(|r| r.pages()), Some(1));
    let done = spawn_sync(&w).await.expect("sync task");
    assert_eq!(done.phase(), Phase::Completed);
    let cursors: Vec<(String, Option<String>)> = sync_stream(&w)
        .await
        .into_iter()
        .filter_map(|e| match e {
            SyncEvent::InitialSyncPageRead(p) => Some((p.system, p.cursor)),
            _ => None,
        })
        .collect();
    let mut unique = cursors.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        cursors.len(),
        "a page recorded twice: {cursors:?}"
    );
    assert_eq!(
        cursors.len(),
        3 + 3,
        "120 records in pages of 50, per system"
    );
    // Pages read: 3 + 3 recorded, plus the one in flight when the process stopped.
    assert_eq!(w.crm.requests(Op::List) + w.erp.requests(Op::List), 7);
    w.settle().await;
    assert_eq!(problems(&w).await, Vec::<String>::new());
    assert_no_duplicate(&w);
    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (220, 220));
}

both!(
    bring_up_while_users_work_links_every_record_once,
    a_first_webhook_before_the_initial_sync_does_not_skip_it,
    a_restart_after_downtime_does_not_run_the_initial_sync_again,
    an_initial_sync_cut_short_resumes_from_its_recorded_page,
);
