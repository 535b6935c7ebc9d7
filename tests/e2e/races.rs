//! G1 and G2 end to end, through real HTTP on both sides of the binary.
//!
//! The interleavings are forced, not hoped for: G1's two webhooks are in flight at once, and
//! G2's ERP echo is delivered, and decided, while the sync's POST to the ERP is held by the
//! simulated system (applied, its webhook emitted, no answer yet).

use serde_json::json;
use syncledger_sim::Op;

use crate::harness::{Backend, STEP, World, eventually, on_both_backends, reached};

on_both_backends!(
    a_create_and_a_quick_update_in_flight_together_give_one_target_record,
    the_targets_echo_before_the_post_answers_creates_no_duplicate_in_the_origin,
);

async fn a_create_and_a_quick_update_in_flight_together_give_one_target_record(backend: Backend) {
    let world = World::new(backend).await;
    let service = world.start().await;
    let contact = world.crm.user_create(
        "contacts",
        json!({"full_name": "Ada Lovelase", "email": "ada@example.com"}),
    );
    world.crm.user_update(
        "contacts",
        &contact.id,
        json!({"full_name": "Ada Lovelace"}),
    );
    let hooks = world.crm.drain_webhooks();
    assert_eq!(hooks.len(), 2, "a created and an updated webhook");

    let (created, updated) = tokio::join!(
        service.deliver("crm", &hooks[..1]),
        service.deliver("crm", &hooks[1..])
    );
    assert_eq!(
        (created.status, updated.status),
        (202, 202),
        "{created:?} {updated:?}"
    );

    eventually("the corrected name reaches the ERP", STEP, async || {
        world
            .erp_customers("ada@example.com")
            .iter()
            .any(|r| r.body["name"] == "Ada Lovelace")
    })
    .await;
    world.settle(&service, STEP).await;
    assert_eq!(
        world.erp.count("customers"),
        1,
        "exactly one ERP record: {:?}",
        world.erp.records("customers")
    );
    assert_eq!(world.erp.requests(Op::Create), 1, "one POST to the ERP");
    assert_eq!(
        world.crm.count("contacts"),
        1,
        "the ERP's echo made no CRM record"
    );
    let fetches = world
        .crm
        .request_log()
        .into_iter()
        .filter(|r| r.op == Op::Get)
        .collect::<Vec<_>>();
    assert!(
        fetches.iter().all(|r| r.headers.get("authorization").map(String::as_str) == Some("Bearer crm-token")),
        "every outbound request carries the configured headers: {fetches:?}"
    );
}

async fn the_targets_echo_before_the_post_answers_creates_no_duplicate_in_the_origin(
    backend: Backend,
) {
    let world = World::new(backend).await;
    let service = world.start().await;
    let mut post = world.erp.pause_next(Op::Create);
    let contact = world
        .crm_user_creates(&service, "Alan Turing", "alan@example.com")
        .await;
    let made = reached("the sync's POST reaches the ERP", post.applied())
        .await
        .expect("the ERP applied the create");

    // The ERP announces the record it made before it answers the POST.
    let decided = service.metrics().await.sum("syncledger_decisions_total");
    let echo = world.erp.drain_webhooks();
    assert_eq!(
        echo.len(),
        1,
        "the ERP's created webhook is out before its answer"
    );
    let reply = service.deliver("erp", &echo).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    eventually(
        "the ledger decides about the echo while the POST is still unanswered",
        STEP,
        async || service.metrics().await.sum("syncledger_decisions_total") > decided,
    )
    .await;
    post.release();

    world.settle(&service, STEP).await;
    assert_eq!(
        world.crm_contacts("alan@example.com").len(),
        1,
        "no duplicate in the CRM: {:?}",
        world.crm.records("contacts")
    );
    assert_eq!(
        world.crm.requests(Op::Create),
        0,
        "the ledger never POSTed to the CRM"
    );
    assert_eq!(world.erp.count("customers"), 1);

    // The two records are linked: the next CRM change patches the record the POST made.
    world
        .crm_user_renames(&service, &contact.id, "Alan M. Turing")
        .await;
    eventually(
        "the rename reaches the ERP record the POST made",
        STEP,
        async || world.erp_name(&made.id) == "Alan M. Turing",
    )
    .await;
    world.settle(&service, STEP).await;
    assert_eq!(
        (world.crm.count("contacts"), world.erp.count("customers")),
        (1, 1)
    );
}
