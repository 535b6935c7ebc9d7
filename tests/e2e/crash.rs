//! G4 across `kill -9`: a 202-acknowledged webhook is never lost, and a create whose answer died
//! with the process is found, not made twice.
//!
//! One process is killed while holding two kinds of work, each pinned in place by the simulated
//! systems: Ada's create has been applied by the ERP but not answered (the POST is held), and
//! Bob's webhook is acknowledged but not decided (the ledger's GET of the contact is held). The
//! held requests are released only after the process is gone, so the ERP's answer is lost.
//!
//! A second process on the same database must finish both. It can only start once the dead
//! process's entity leases expire (30 s, `EngineSettings::lease_ttl`), hence the longer bound.

use serde_json::json;
use syncledger_sim::Op;

use crate::harness::{AFTER_CRASH, Backend, World, eventually, on_both_backends, reached};

on_both_backends!(acknowledged_work_survives_kill_9_without_duplicates);

async fn acknowledged_work_survives_kill_9_without_duplicates(backend: Backend) {
    let world = World::new(backend).await;
    let mut first = world.start().await;

    let mut post = world.erp.pause_next(Op::Create);
    let ada = world
        .crm_user_creates(&first, "Ada Lovelace", "ada@example.com")
        .await;
    let made = reached("the POST for Ada reaches the ERP", post.applied())
        .await
        .expect("the ERP applied Ada's create");

    let mut fetch = world.crm.pause_next(Op::Get);
    world
        .crm_user_creates(&first, "Bob Kahn", "bob@example.com")
        .await;
    reached("the ledger fetches Bob from the CRM", fetch.applied()).await;

    first.kill9();
    post.release();
    fetch.release();
    assert_eq!(
        world.erp.count("customers"),
        1,
        "only Ada's create had reached the ERP"
    );

    let second = world.start().await;
    eventually(
        "Bob's acknowledged webhook is worked after the restart",
        AFTER_CRASH,
        async || world.erp_customers("bob@example.com").len() == 1,
    )
    .await;

    // Ada's create is settled by finding the record the lost POST made: the next CRM change
    // patches that record instead of creating another.
    world.crm_user_renames(&second, &ada.id, "Ada King").await;
    eventually(
        "Ada's rename reaches the ERP record the lost POST made",
        AFTER_CRASH,
        async || world.erp_name(&made.id) == "Ada King",
    )
    .await;
    world.settle(&second, AFTER_CRASH).await;

    let ada_in_erp = world.erp_customers("ada@example.com");
    assert_eq!(
        ada_in_erp.len(),
        1,
        "exactly one ERP record for Ada: {:?}",
        world.erp.records("customers")
    );
    assert_eq!(ada_in_erp[0].id, made.id);
    assert_eq!(
        world.erp.count("customers"),
        2,
        "{:?}",
        world.erp.records("customers")
    );
    assert_eq!(
        world.crm.count("contacts"),
        2,
        "the ERP's echoes made no CRM record: {:?}",
        world.crm.records("contacts")
    );
    assert_eq!(world.crm.requests(Op::Create), 0);
    assert_eq!(world.erp_name(&made.id), json!("Ada King"));
}
