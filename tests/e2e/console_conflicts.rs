//! The console's side of conflicts (issue 28, G10), in headless Chromium through the real binary
//! on both backends: a conflict shows in the timeline and the why panel with both values and
//! the policy's choice in words; the Conflicts page lists an open review with both values and
//! both chains, read-only for a tenant's token; the admin keeps one side's value, or enters one,
//! and sees the review closed and the value written.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::console::{ACME, ADMIN, admin_query, label};
use crate::harness::{Backend, STEP, World, eventually, on_both_backends};
use crate::service::Service;

on_both_backends!(a_review_is_shown_and_resolved_from_the_conflicts_page);

const OPEN: &str = r#"query { conflicts(tenant: "acme", open: true, first: 50) {
    edges { node { id entityId field candidates { system value } } } } }"#;

async fn open_reviews(service: &Service) -> Vec<Value> {
    let data = admin_query(service, OPEN, json!({})).await;
    let edges = data["conflicts"]["edges"].as_array().unwrap().clone();
    edges.into_iter().map(|e| e["node"].clone()).collect()
}

/// A customer created in the CRM and synced; then both users rename it: a held review. Returns
/// (CRM id, ERP id).
async fn contested(world: &World, service: &Service, i: usize) -> (String, String) {
    let email = format!("held{i}@example.com");
    world.crm.user_create(
        "contacts",
        json!({"full_name": format!("Held {i}"), "email": email}),
    );
    world.settle(service, STEP).await;
    let crm = world.crm_contacts(&email).remove(0).id;
    let erp = world.erp_customers(&email).remove(0).id;
    world.crm.user_update(
        "contacts",
        &crm,
        json!({"full_name": format!("Held {i} (CRM)")}),
    );
    world.erp.user_update(
        "customers",
        &erp,
        json!({"name": format!("Held {i} (ERP)")}),
    );
    world.deliver_all(service).await;
    world.settle(service, STEP).await;
    (crm, erp)
}

async fn a_review_is_shown_and_resolved_from_the_conflicts_page(backend: Backend) {
    let shots = label(&backend);
    let world =
        World::with_entity(backend, "on_delete = \"propagate\"\nconflict = \"review\"").await;
    world.crm.set_etags(true);
    world.erp.set_etags(true);
    let service = world.start().await;
    let (crm0, erp0) = contested(&world, &service, 0).await;
    let (crm1, erp1) = contested(&world, &service, 1).await;
    let open = open_reviews(&service).await;
    assert_eq!(open.len(), 2, "{open:#?}");
    let review = open
        .iter()
        .find(|c| c["candidates"].to_string().contains("Held 0"))
        .unwrap()
        .clone();
    let entity = review["entityId"].as_str().unwrap().to_string();
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };

    // A tenant's token sees the reviews, and no way to decide them.
    browser.sign_in(ACME).await;
    browser.open("#/conflicts").await;
    let listed = browser.wait_text("#open-conflicts", "Held 0 (ERP)").await;
    assert!(
        listed.contains("Held 0 (CRM)") && listed.contains("Held 1 (ERP)"),
        "{listed}"
    );
    assert_eq!(browser.count("#open-conflicts button.keep").await, 0);
    assert_eq!(browser.count("#open-conflicts .own-value").await, 0);
    browser.click("#sign-out").await;
    browser.sign_in(ADMIN).await;

    // The timeline shows the conflict with both values and, in words, that nobody chose yet.
    browser.open(&format!("#/entity/{entity}")).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{entity}']"))
        .await;
    let detail = browser
        .wait_text(
            "#timeline li.event[data-type=ConflictDetected] .conflict-detail",
            "Held 0 (ERP)",
        )
        .await;
    assert!(detail.contains("Held 0 (CRM)"), "{detail}");
    assert!(detail.contains("review (a person decides)"), "{detail}");
    assert!(detail.contains("Held in both systems"), "{detail}");
    // The why panel of the ERP's name includes it too.
    browser
        .click("button.value[data-field=name][data-system=erp]")
        .await;
    let why = browser
        .wait_text("#why-chain .conflict-detail", "Held 0 (CRM)")
        .await;
    assert!(why.contains("held"), "{why}");

    // The Conflicts page: both values, both chains, and the admin's three ways to decide.
    browser.open("#/conflicts").await;
    let item = format!(
        "#open-conflicts li.conflict[data-conflict='{}']",
        review["id"].as_str().unwrap()
    );
    browser.wait_text(&item, "Held 0 (ERP)").await;
    browser
        .wait_text(&format!("{item} .letter-who"), "Held 0")
        .await;
    for system in ["crm", "erp"] {
        browser
            .click(&format!(
                "{item} details.conflict-chain[data-system={system}] summary"
            ))
            .await;
        browser
            .wait_for(&format!(
                "{item} details.conflict-chain[data-system={system}] a.to-event"
            ))
            .await;
    }
    let links = browser
        .attrs(&format!("{item} details.conflict-chain a.to-event"), "href")
        .await;
    assert!(
        links
            .iter()
            .all(|l| l.starts_with(&format!("#/entity/{entity}/event/"))),
        "{links:?}"
    );
    browser.screenshot(&format!("conflicts-{shots}")).await;

    // Keep the ERP's value: the review closes and the CRM gets it, once.
    browser
        .click(&format!("{item} button.keep[data-system=erp]"))
        .await;
    browser
        .wait_text(
            &format!("#resolved-{}", review["id"].as_str().unwrap()),
            "Kept erp\u{2019}s value",
        )
        .await;
    world.settle(&service, STEP).await;
    let crm_name = |id: &str| world.crm.record("contacts", id).unwrap().body["full_name"].clone();
    assert_eq!(crm_name(&crm0), json!("Held 0 (ERP)"));
    assert_eq!(world.erp_name(&erp0), json!("Held 0 (ERP)"));

    // The other review: a value of the admin's own, written to both.
    browser.open("#/find").await;
    browser.open("#/conflicts").await;
    browser.wait_text("#decided-list", "decided by admin").await;
    let other = browser
        .attrs("#open-conflicts li.conflict", "data-conflict")
        .await;
    assert_eq!(other.len(), 1, "one review left open: {other:?}");
    let item = format!("#open-conflicts li.conflict[data-conflict='{}']", other[0]);
    browser
        .fill(&format!("{item} input.own-value"), "Held One")
        .await;
    browser.click(&format!("{item} button.enter")).await;
    browser
        .wait_text(
            &format!("#resolved-{}", other[0]),
            "a value a person entered",
        )
        .await;
    world.settle(&service, STEP).await;
    eventually("both systems hold the entered value", STEP, async || {
        crm_name(&crm1) == json!("Held One") && world.erp_name(&erp1) == json!("Held One")
    })
    .await;
    assert_eq!(open_reviews(&service).await, Vec::<Value>::new());
    browser.open("#/find").await;
    browser.open("#/conflicts").await;
    browser
        .wait_text("#open-reviews", "No review is waiting for a person")
        .await;
    browser.close().await;
}
