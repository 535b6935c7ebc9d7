//! Bring-up of the real binary on systems that already hold records (issue 16): an initial
//! sync killed with `kill -9` in the middle of its pages resumes from its recorded page after
//! the restart, and `syncStatus` and `/metrics` show it running, then completed.
//!
//! The interleaving is pinned by the simulated CRM: its second listing page is held until the
//! process is dead, so the first page is recorded and the second is in flight.

use serde_json::{Value, json};
use syncledger_sim::Op;

use crate::harness::{AFTER_CRASH, Backend, World, on_both_backends, reached};
use crate::service::Service;

on_both_backends!(an_initial_sync_killed_mid_page_resumes_from_its_recorded_page);

/// 450 CRM contacts (pages of 200: three pages) and 30 ERP customers, 20 of them the same
/// people as CRM contacts.
fn existing(world: &World) {
    for i in 0..450 {
        world.crm.user_create(
            "contacts",
            json!({"full_name": format!("Person {i}"), "email": format!("p{i}@example.com")}),
        );
    }
    for i in 0..30 {
        let email = if i < 20 {
            format!("p{i}@example.com")
        } else {
            format!("erp{i}@example.com")
        };
        world.erp.user_create(
            "customers",
            json!({"name": format!("Person {i}"), "email_address": email}),
        );
    }
    world.crm.drain_webhooks();
    world.erp.drain_webhooks();
}

/// A short lease, so the restarted process takes the dead one's initial sync over quickly.
fn short_leases(world: &World) {
    let path = world.dir.path().join("syncledger.toml");
    let text = std::fs::read_to_string(&path).expect("the config");
    let text = text.replacen("[server]\n", "[server]\nlease_ttl_secs = 3\n", 1);
    std::fs::write(&path, text).expect("rewriting the config");
}

async fn initial_sync(service: &Service) -> Value {
    let query = r#"{ syncStatus(tenant: "acme") { initialSyncs {
        entityType state recordsSeen pages startedAt finishedAt startedBy } } }"#;
    let reply = service
        .post_json(
            "/graphql",
            Some("e2e-admin-secret"),
            &json!({ "query": query }),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body["data"]["syncStatus"]["initialSyncs"][0].clone()
}

/// Every email once in each system: nothing duplicated.
fn assert_each_email_once(world: &World) {
    for (sim, collection, field) in [
        (&world.crm, "contacts", "email"),
        (&world.erp, "customers", "email_address"),
    ] {
        let mut emails: Vec<String> = sim
            .records(collection)
            .iter()
            .filter_map(|r| r.body[field].as_str().map(String::from))
            .collect();
        let all = emails.len();
        emails.sort();
        emails.dedup();
        assert_eq!(emails.len(), all, "a duplicate in {collection}");
    }
}

async fn an_initial_sync_killed_mid_page_resumes_from_its_recorded_page(backend: Backend) {
    let world = World::new(backend).await;
    short_leases(&world);
    existing(&world);
    let mut page_1 = world.crm.pause_next(Op::List);
    let mut page_2 = world.crm.pause_next(Op::List);
    let mut first = world.launch().await;
    reached("the first CRM page is asked for", page_1.applied()).await;
    page_1.release();
    reached("the second CRM page is asked for", page_2.applied()).await;
    let running = initial_sync(&first).await;
    assert_eq!(running["state"], "running", "{running}");
    assert_eq!(running["pages"], 1, "{running}");
    assert_eq!(running["recordsSeen"], 200, "{running}");
    assert_eq!(running["startedBy"], "first start", "{running}");
    let metrics = first.metrics().await;
    assert_eq!(
        metrics.value(
            "syncledger_initial_sync_state",
            &[
                ("tenant", "acme"),
                ("entity", "customer"),
                ("state", "running")
            ]
        ),
        1.0
    );
    first.kill9();
    page_2.release();
    assert_eq!(
        world.erp.requests(Op::Create),
        0,
        "nothing was created in the ERP before it was listed"
    );

    let second = world.start().await;
    world.settle(&second, AFTER_CRASH).await;
    let done = initial_sync(&second).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["recordsSeen"], 480, "{done}");
    // 3 CRM pages and 1 ERP page recorded; the one in flight at the kill is the only page read
    // twice.
    assert_eq!(done["pages"], 4, "{done}");
    assert_eq!(world.crm.requests(Op::List), 4);
    assert_eq!(world.erp.requests(Op::List), 1);
    assert!(done["finishedAt"].is_string(), "{done}");
    // 450 + 30 records, 20 of them the same people: 460 people, once in each system.
    assert_eq!(world.crm.count("contacts"), 460);
    assert_eq!(world.erp.count("customers"), 460);
    assert_each_email_once(&world);
    let metrics = second.metrics().await;
    let labels = [("tenant", "acme"), ("entity", "customer")];
    assert_eq!(
        metrics.value("syncledger_initial_sync_records", &labels),
        480.0
    );
    assert_eq!(
        metrics.value(
            "syncledger_initial_sync_state",
            &[
                ("tenant", "acme"),
                ("entity", "customer"),
                ("state", "completed")
            ]
        ),
        1.0
    );
}
