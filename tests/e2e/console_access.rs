//! Who sees what in the console, and that it needs nothing but the binary: a tenant's token shows
//! that tenant only and no admin control; every file the console and GraphiQL load comes from the
//! service itself, with every other host unresolvable in the browser.

use std::sync::Arc;

use serde_json::json;
use syncledger_connector::sign;
use syncledger_sim::SimSystem;

use crate::browser::Browser;
use crate::harness::{Backend, STEP, World, eventually, on_both_backends, start_sim};

const ADMIN: &str = "e2e-admin-secret";
const ACME: &str = "e2e-acme-read-token";
const GLOBEX_CRM_SECRET: &str = "e2e-globex-crm-webhook-secret-01";

/// A second tenant, `globex`, with systems of its own, added to the world's configuration.
async fn add_globex(world: &World) -> Arc<SimSystem> {
    let (crm, crm_url) = start_sim("g").await;
    let (_erp, erp_url) = start_sim("G").await;
    let config = world.dir.path().join("syncledger.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(&format!(
        r#"
[[tenants]]
id = "globex"
api_token = "e2e-globex-read-token"
[tenants.systems.crm]
base_url = "{crm_url}"
webhook_secret = "{GLOBEX_CRM_SECRET}"
[tenants.systems.erp]
base_url = "{erp_url}"
webhook_secret = "e2e-globex-erp-webhook-secret-01"
"#
    ));
    std::fs::write(&config, toml).unwrap();
    crm
}

async fn a_tenant_token_sees_neither_another_tenants_entity_nor_any_admin_control(
    backend: Backend,
) {
    let world = World::new(backend).await;
    let globex = add_globex(&world).await;
    let service = world.start().await;
    world
        .crm_user_creates(&service, "Ada Lovelace", "ada@example.com")
        .await;
    let wile = globex.user_create(
        "contacts",
        json!({"full_name": "Wile E. Coyote", "email": "wile@example.com"}),
    );
    let body = serde_json::to_vec(&globex.drain_webhooks()).unwrap();
    let signature = sign(GLOBEX_CRM_SECRET.as_bytes(), &body);
    let reply = service
        .post_webhook("globex", "crm", body, Some(signature))
        .await
        .unwrap();
    assert_eq!(reply.status, 202, "{reply:?}");
    world.settle(&service, STEP).await;
    let query = r#"query($id: String!) { entityByRecord(tenant: "globex", system: "crm", recordId: $id) { id } }"#;
    let mut globex_entity = String::new();
    eventually("globex's entity exists", STEP, async || {
        let body = json!({"query": query, "variables": {"id": wile.id}});
        let answer = service.post_json("/graphql", Some(ADMIN), &body).await.body;
        globex_entity = answer["data"]["entityByRecord"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        !globex_entity.is_empty()
    })
    .await;

    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ACME).await;
    browser
        .wait_text("#signed-in-as", "Signed in as tenant acme")
        .await;
    assert_eq!(browser.count("#tenant-picker").await, 0, "one tenant only");

    browser.open(&format!("#/entity/{globex_entity}")).await;
    browser.wait_text("main .notice-error", "No entity").await;
    assert!(!browser.texts("main").await.concat().contains("Wile"));

    browser.open("#/find").await;
    browser.fill("#find-value", "wile@example.com").await;
    browser
        .click("form[aria-labelledby=h-by-name-or-email] button[type=submit]")
        .await;
    browser
        .wait_text(
            "form[aria-labelledby=h-by-name-or-email] .result",
            "Nothing the ledger has seen matches",
        )
        .await;
    browser.fill("#find-value", "ada@example.com").await;
    browser
        .click("form[aria-labelledby=h-by-name-or-email] button[type=submit]")
        .await;
    browser.click("#found-entities a.found-link").await;
    browser.wait_for("#records button.value").await;
    assert_eq!(browser.count("#replay").await, 0, "replay is the admin's");

    browser.open("#/ops").await;
    browser.wait_for("#queue-depth").await;
    browser.wait_text("#projections", "admin token only").await;
    browser
        .wait_text("#dead-letters", "needs the admin token")
        .await;
    let page = browser.texts("main").await.concat();
    assert!(
        !page.contains("globex"),
        "another tenant's name on the page"
    );
    for control in ["button.rebuild", "button.retry", "#replay"] {
        assert_eq!(
            browser.count(control).await,
            0,
            "{control} shown to a tenant"
        );
    }
    browser.screenshot("tenant-operations").await;

    browser.click("#sign-out").await;
    browser.wait_for("input[name=token]").await;
    let kept = browser
        .js(
            "return sessionStorage.length + localStorage.length;",
            vec![],
        )
        .await;
    assert_eq!(kept, json!(0), "signing out forgets the token");
    browser.close().await;
}

async fn the_console_and_graphiql_load_with_no_request_leaving_localhost(backend: Backend) {
    let world = World::new(backend).await;
    let service = world.start().await;
    world
        .crm_user_creates(&service, "Ada Lovelace", "ada@example.com")
        .await;
    world.settle(&service, STEP).await;
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    let origin = service.url("/");
    // Every request went to the service, and `wanted` was among them.
    let local = |urls: Vec<String>, wanted: &str| {
        assert!(
            urls.iter().any(|u| u.ends_with(wanted)),
            "{wanted}: {urls:?}"
        );
        let away: Vec<&String> = urls.iter().filter(|u| !u.starts_with(&origin)).collect();
        assert!(away.is_empty(), "requests that left the service: {away:?}");
    };
    browser.sign_in(ADMIN).await;
    browser.fill("#find-value", "ada@example.com").await;
    browser
        .click("form[aria-labelledby=h-by-name-or-email] button[type=submit]")
        .await;
    browser.click("#found-entities a.found-link").await;
    browser
        .wait_for("body[data-timeline-complete] #timeline li.event")
        .await;
    browser.open("#/ops").await;
    browser.wait_for("#queue-depth").await;
    browser.open("#/live").await;
    browser.wait_for("#live-state[data-state=live]").await;
    local(browser.fetched().await, "/console/assets/app.js");

    browser.goto("/graphql").await;
    browser.wait_for(".graphiql-container .CodeMirror").await;
    local(browser.fetched().await, "/graphiql/assets/graphiql.min.js");
    browser.screenshot("graphiql").await;
    browser.close().await;

    let page = reqwest::get(service.url("/console")).await.unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
}

on_both_backends!(
    a_tenant_token_sees_neither_another_tenants_entity_nor_any_admin_control,
    the_console_and_graphiql_load_with_no_request_leaving_localhost,
);
