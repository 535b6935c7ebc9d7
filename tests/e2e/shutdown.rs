//! SIGTERM (CONTRACT §9): stop taking webhooks, finish or hand back work in flight, exit cleanly.
//!
//! The busy case holds the ledger's POST in the ERP when the signal arrives, so the process has
//! work in flight for certain. Once `/readyz` stops answering ready, a webhook must not be taken.
//! After the POST is released the process must exit 0, and a new process must carry on at once:
//! had the work been abandoned with its lease, the restart would wait out the 30 s lease.

use std::time::Duration;

use syncledger_sim::{Fault, Op};

use crate::harness::{Backend, STEP, World, eventually, reached};

/// How long a clean exit may take once nothing holds it.
const EXIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sigterm_on_an_idle_service_exits_with_status_0() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = world.start().await;
    assert_eq!(service.get("/readyz").await.unwrap().status, 200);
    service.sigterm();
    let status = service
        .exit_within(EXIT)
        .await
        .expect("the service exits within 5 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        service.get("/healthz").await.is_err(),
        "nothing listens after the exit"
    );
}

#[tokio::test]
async fn sigterm_refuses_new_webhooks_finishes_work_in_flight_and_exits_with_status_0() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = world.start().await;
    let mut post = world.erp.pause_next(Op::Create);
    let ada = world
        .crm_user_creates(&service, "Ada Lovelace", "ada@example.com")
        .await;
    let made = reached("the POST for Ada reaches the ERP", post.applied())
        .await
        .expect("the ERP applied Ada's create");

    service.sigterm();
    eventually("the service stops reporting ready", STEP, async || {
        service
            .get("/readyz")
            .await
            .map_or(true, |r| r.status != 200)
    })
    .await;
    world.crm.user_create(
        "contacts",
        serde_json::json!({"full_name": "Bob Kahn", "email": "bob@example.com"}),
    );
    let late = world.crm.pending_webhooks();
    let body = serde_json::to_vec(&late[0]).unwrap();
    match service.post_signed("crm", body).await {
        Ok(reply) => assert_eq!(reply.status, 503, "a webhook after SIGTERM: {reply:?}"),
        // Connection refused (or closed unanswered): not taken either.
        Err(refused) => eprintln!("a webhook after SIGTERM was refused: {refused}"),
    }

    post.release();
    let status = service
        .exit_within(EXIT)
        .await
        .expect("the service exits once the work in flight is done");
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        service.log_text()
    );

    // The refused webhook is delivered again by its sender, to the next process, which takes
    // Ada's entity over at once because the first one finished and handed it back.
    let next = world.start().await;
    world.crm_user_renames(&next, &ada.id, "Ada King").await;
    eventually(
        "Ada's rename reaches the record created before the shutdown",
        STEP,
        async || world.erp_name(&made.id) == "Ada King",
    )
    .await;
    eventually(
        "Bob's webhook, refused during the shutdown, is worked once resent",
        STEP,
        async || world.erp_customers("bob@example.com").len() == 1,
    )
    .await;
    world.settle(&next, STEP).await;
    assert_eq!(
        world.erp.count("customers"),
        2,
        "{:?}",
        world.erp.records("customers")
    );
    assert_eq!(
        world.erp.requests(Op::Create),
        2,
        "Ada's create was not sent again after the restart"
    );
}

/// The initial sync lists the systems on the first start; a system that never answers must not
/// hold the process past SIGTERM for the connector's whole timeout-and-retry budget.
#[tokio::test]
async fn sigterm_while_the_initial_sync_waits_on_a_hanging_system_exits_promptly() {
    let world = World::new(Backend::Sqlite).await;
    for _ in 0..8 {
        world.crm.fail_next(Op::List, Fault::Timeout);
    }
    let mut service = world.launch().await;
    eventually(
        "the initial sync asks the CRM for its contacts",
        STEP,
        async || world.crm.requests(Op::List) >= 1,
    )
    .await;
    service.sigterm();
    let status = service
        .exit_within(EXIT)
        .await
        .expect("the service exits within 5 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}
