//! The audit console (`/console`) in a real browser: headless Chromium through the real binary,
//! on a log the test fills through the simulated systems. Screenshots of each page are written
//! under `target/console-screenshots/` for people to look at.
//!
//! Every check compares what the page shows with what the GraphQL API answers, since the console
//! must be nothing but a view of that API.

use serde_json::{Value, json};
use syncledger_connector::Record;
use syncledger_sim::{Fault, Op};

use crate::browser::Browser;
use crate::harness::{Backend, STEP, World, eventually, on_both_backends};
use crate::service::Service;

pub(crate) const ADMIN: &str = "e2e-admin-secret";
pub(crate) const ACME: &str = "e2e-acme-read-token";

pub(crate) fn label(backend: &Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres { .. } => "postgres",
    }
}

/// The `data` of a query run with the admin token; fails the test on any error.
pub async fn admin_query(service: &Service, query: &str, variables: Value) -> Value {
    let reply = service
        .post_json(
            "/graphql",
            Some(ADMIN),
            &json!({"query": query, "variables": variables}),
        )
        .await;
    assert!(reply.body.get("errors").is_none(), "{:?}", reply.body);
    reply.body["data"].clone()
}

/// Ada created in the CRM, synced to the ERP, then renamed in the CRM and synced again: an
/// entity with two webhooks' worth of events.
pub(crate) async fn ada(world: &World, service: &Service) -> (Record, String) {
    let ada = world
        .crm_user_creates(service, "Ada Lovelase", "ada@example.com")
        .await;
    eventually("Ada reaches the ERP", STEP, async || {
        world.erp_customers("ada@example.com").len() == 1
    })
    .await;
    world.settle(service, STEP).await;
    world
        .crm_user_renames(service, &ada.id, "Ada Lovelace")
        .await;
    let erp_id = world.erp_customers("ada@example.com")[0].id.clone();
    eventually("the rename reaches the ERP", STEP, async || {
        world.erp_name(&erp_id) == json!("Ada Lovelace")
    })
    .await;
    world.settle(service, STEP).await;
    let data = admin_query(
        service,
        r#"query($id: String!) { entityByRecord(tenant: "acme", system: "crm", recordId: $id) { id } }"#,
        json!({"id": ada.id}),
    )
    .await;
    let id = data["entityByRecord"]["id"].as_str().unwrap().to_string();
    (ada, id)
}

pub(crate) async fn history(service: &Service, id: &str) -> Vec<Value> {
    let data = admin_query(
        service,
        "query($id: ID!) { entity(id: $id) { history(first: 200) { edges { node { sequence type explanation correlationId } } } } }",
        json!({"id": id}),
    )
    .await;
    let edges = data["entity"]["history"]["edges"].as_array().unwrap();
    edges.iter().map(|e| e["node"].clone()).collect()
}

/// Ada's world, with a browser signed in as the admin (`None` where Chromium is missing).
pub(crate) async fn ada_in_a_browser(
    backend: Backend,
) -> Option<(World, Service, Browser, Record, String)> {
    let world = World::new(backend).await;
    let service = world.start().await;
    let (ada, id) = ada(&world, &service).await;
    let browser = Browser::start(&service.url("")).await?;
    browser.sign_in(ADMIN).await;
    Some((world, service, browser, ada, id))
}

async fn finding_a_record_opens_its_entity_with_the_timeline_in_order_and_explained(
    backend: Backend,
) {
    let shots = label(&backend);
    let Some((_world, service, browser, ada, id)) = ada_in_a_browser(backend).await else {
        return;
    };

    // By match-key value, spelt as a person might type it.
    browser.fill("#find-value", "  ADA@example.com ").await;
    browser
        .click("form[aria-labelledby=h-by-name-or-email] button[type=submit]")
        .await;
    browser.wait_for("#found-entities a.found-link").await;
    browser.screenshot(&format!("find-{shots}")).await;
    browser.click("#found-entities a.found-link").await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{id}']"))
        .await;

    let expected = history(&service, &id).await;
    let sequences = browser.attrs("#timeline li.event", "data-sequence").await;
    let wanted: Vec<String> = (1..=expected.len()).map(|n| n.to_string()).collect();
    assert_eq!(sequences, wanted, "every event, in sequence order");
    let types = browser.attrs("#timeline li.event", "data-type").await;
    let api_types: Vec<&str> = expected
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, api_types);
    let explanations = browser.texts("#timeline li.event .explanation").await;
    let api_explanations: Vec<&str> = expected
        .iter()
        .map(|e| e["explanation"].as_str().unwrap())
        .collect();
    assert_eq!(explanations, api_explanations, "the API's explanations");
    assert!(explanations.iter().all(|e| !e.trim().is_empty()));
    let groups = browser.texts("#timeline .group-title").await;
    let webhooks = groups
        .iter()
        .filter(|g| g.starts_with("Webhook from crm"))
        .count();
    assert!(
        webhooks >= 2,
        "the create and the rename each head a group: {groups:?}"
    );
    let records = browser.wait_text("#records", "Ada Lovelace").await;
    assert!(records.contains(&ada.id), "{records}");
    browser.click("#timeline li.event details summary").await;
    browser
        .wait_text("#timeline li.event details pre", "\"record_id\"")
        .await;
    browser.screenshot(&format!("entity-{shots}")).await;

    // By system and record id, and by entity id: the same entity.
    browser.open("#/find").await;
    browser
        .wait_for("#find-system")
        .await
        .select_by_value("crm")
        .await
        .unwrap();
    browser.fill("#find-record-id", &ada.id).await;
    browser
        .click("form[aria-labelledby=h-by-record-id] button[type=submit]")
        .await;
    browser
        .wait_for(&format!("body[data-entity-rendered='{id}'] #records"))
        .await;
    browser.open("#/find").await;
    browser.fill("#find-entity-id", &id).await;
    browser
        .click("form[aria-labelledby=h-by-entity-id] button[type=submit]")
        .await;
    browser.wait_text("#page-title", "Ada Lovelace").await;
    browser.close().await;
}

async fn clicking_a_field_value_shows_the_chain_across_both_systems(backend: Backend) {
    let shots = label(&backend);
    let Some((_world, service, browser, _, id)) = ada_in_a_browser(backend).await else {
        return;
    };
    browser.open(&format!("#/entity/{id}")).await;
    browser
        .click("button.value[data-field=name][data-system=erp]")
        .await;
    browser
        .wait_text("#why-title", "Why name is Ada Lovelace in erp")
        .await;

    let data = admin_query(
        &service,
        r#"query($id: ID!) { entity(id: $id) { whyField(field: "name", system: "erp") { chain { type } } } }"#,
        json!({"id": id}),
    )
    .await;
    let chain: Vec<String> = data["entity"]["whyField"]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        browser.attrs("#why-chain li.step", "data-type").await,
        chain
    );
    assert_eq!(chain.first().map(String::as_str), Some("ChangeObserved"));
    assert_eq!(chain.last().map(String::as_str), Some("WriteSucceeded"));
    let places = browser.texts("#why-chain li.step .where").await;
    assert_eq!(
        places.first().map(String::as_str),
        Some("in crm"),
        "{places:?}"
    );
    assert_eq!(
        places.last().map(String::as_str),
        Some("in erp"),
        "{places:?}"
    );
    assert!(
        places.contains(&"in ledger".to_string()),
        "the decision: {places:?}"
    );
    let steps = browser.texts("#why-chain li.step .explanation").await;
    assert!(steps.iter().all(|s| !s.is_empty()), "{steps:?}");
    browser.screenshot(&format!("why-{shots}")).await;

    browser.click("#replay").await;
    browser.wait_text("#replay-result", "No differences").await;
    browser.close().await;
}

async fn an_admin_retries_a_dead_letter_and_sees_it_succeed(backend: Backend) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let (ada, _) = ada(&world, &service).await;
    let erp_id = world.erp_customers("ada@example.com")[0].id.clone();
    let refusal = "{\"error\":\"name rejected\"}".to_string();
    world.erp.fail_next(Op::Update, Fault::Status(422, refusal));
    world
        .crm_user_renames(&service, &ada.id, "Augusta Ada King")
        .await;
    world.settle(&service, STEP).await;
    assert_eq!(world.erp_name(&erp_id), json!("Ada Lovelace"), "refused");

    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ADMIN).await;
    browser.open("#/ops").await;
    browser.wait_for("#dead-letters button.retry").await;
    browser.wait_for("#projection-table button.rebuild").await;
    browser.wait_for("#system-errors").await;
    let letter = browser
        .wait_text("#dead-letters .letter", "erp answered 422")
        .await;
    assert!(letter.contains("Retry"), "{letter}");
    browser.screenshot(&format!("operations-{shots}")).await;
    browser.click("#dead-letters .letter details summary").await;
    browser
        .wait_text("#dead-letters .letter details", "name rejected")
        .await;

    browser.click("#dead-letters button.retry").await;
    browser.wait_text("#retry-outcome", "Retry succeeded").await;
    assert_eq!(world.erp_name(&erp_id), json!("Augusta Ada King"));
    browser.screenshot(&format!("retried-{shots}")).await;

    // A rebuild, once confirmed, shows its progress and comes back live.
    browser
        .click("#projection-table button.rebuild[data-name=sync_stats]")
        .await;
    browser
        .click("#projection-table button.confirm-rebuild[data-name=sync_stats]")
        .await;
    eventually("sync_stats is live again", STEP, async || {
        let rows = browser.texts("#projection-table tbody tr").await;
        rows.iter()
            .any(|r| r.starts_with("sync_stats") && r.contains("live"))
    })
    .await;
    browser.close().await;
}

async fn a_new_event_appears_on_the_live_page_without_a_reload(backend: Backend) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ACME).await;
    browser.open("#/live").await;
    browser.wait_for("#live-state[data-state=live]").await;
    browser
        .js("window.sameDocument = true; return true;", vec![])
        .await;
    let grace = world
        .crm_user_creates(&service, "Grace Hopper", "grace@example.com")
        .await;
    let row = browser
        .wait_text("#live-events li[data-type=ChangeObserved]", &grace.id)
        .await;
    assert!(row.contains("acme"), "{row}");
    let same = browser
        .js("return window.sameDocument === true;", vec![])
        .await;
    assert_eq!(same, json!(true), "the page was not reloaded");
    eventually("the sync's own events follow", STEP, async || {
        browser
            .count("#live-events li[data-type=WriteSucceeded]")
            .await
            >= 1
    })
    .await;
    browser.screenshot(&format!("live-{shots}")).await;
    browser.close().await;
}

on_both_backends!(
    finding_a_record_opens_its_entity_with_the_timeline_in_order_and_explained,
    clicking_a_field_value_shows_the_chain_across_both_systems,
    an_admin_retries_a_dead_letter_and_sees_it_succeed,
    a_new_event_appears_on_the_live_page_without_a_reload,
);
