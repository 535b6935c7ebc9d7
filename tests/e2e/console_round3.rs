//! The console's second round, items 5 to 7 (issue 31): big entities (newest first, filters, a
//! jump), search by name and whole words (names first, an honest empty answer, a stub's link
//! landing on the real entity), and operations (the queue's history from the ledger, error rates
//! over a window, a confirmed rebuild). Headless Chromium through the real binary, both backends.

use serde_json::{Value, json};
use syncledger_sim::Op;

use crate::browser::Browser;
use crate::console::{ADMIN, ada, admin_query, label};
use crate::harness::{Backend, STEP, World, eventually, on_both_backends, reached};
use crate::service::Service;

on_both_backends!(
    a_big_timeline_reads_newest_first_filters_and_jumps,
    a_customer_is_found_by_name_and_a_stub_link_lands_on_the_real_entity,
    the_queue_chart_shows_a_burst_that_drained_before_the_page_opened,
);

/// Every event of the entity, through the API: (sequence, type, payload).
async fn all_events(service: &Service, id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = admin_query(
            service,
            "query($id: ID!, $after: String) { entity(id: $id) { history(first: 200, after: $after) {
               edges { node { sequence type payload } } pageInfo { hasNextPage endCursor } } } }",
            json!({"id": id, "after": after}),
        )
        .await;
        let page = &data["entity"]["history"];
        all.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return all;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Item 5: an entity of some hundred events drawn newest first (kept for the tab), filtered by
/// type, system and field, and a jump to one event.
async fn a_big_timeline_reads_newest_first_filters_and_jumps(backend: Backend) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let (ada, id) = ada(&world, &service).await;
    for n in 0..16 {
        world
            .crm_user_renames(&service, &ada.id, &format!("Ada {n}"))
            .await;
        world.settle(&service, STEP).await;
    }
    let events = all_events(&service, &id).await;
    let total = events.len();
    assert!(total > 100, "a big entity: {total} events");
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ADMIN).await;
    browser.open(&format!("#/entity/{id}")).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{id}']"))
        .await;
    browser.click("#timeline-order").await;
    let complete = format!("body[data-timeline-complete='{id}'][data-timeline-order=desc]");
    browser.wait_for(&complete).await;
    let newest_first: Vec<String> = (1..=total).rev().map(|n| n.to_string()).collect();
    assert_eq!(
        browser.attrs("#timeline li.event", "data-sequence").await,
        newest_first,
        "every event, newest first"
    );
    let numbers = browser
        .attrs("#timeline li.group", "data-correlation-number")
        .await;
    let numbers: Vec<usize> = numbers.iter().filter_map(|n| n.parse().ok()).collect();
    assert!(
        numbers.first() > numbers.last(),
        "groups newest first: {numbers:?}"
    );

    // The order is kept for the tab: a fresh load draws newest first at once.
    browser.client.refresh().await.expect("reloading");
    browser.wait_for(&complete).await;
    assert_eq!(
        browser.attrs("#timeline li.event", "data-sequence").await[0],
        total.to_string()
    );
    browser
        .screenshot(&format!("timeline-newest-first-{shots}"))
        .await;

    // Filters: by type, by system, by field.
    let shown = "return [...document.querySelectorAll('#timeline li.event')].filter(e => !e.hidden && !e.closest('li.group').hidden).map(e => e.dataset.sequence);";
    let pick = |css: &str, value: &str| {
        format!(
            "const s = document.querySelector('{css}'); s.value = '{value}'; s.dispatchEvent(new Event('change')); return true;"
        )
    };
    browser
        .js(&pick("#timeline-type", "WriteSucceeded"), vec![])
        .await;
    let visible: Vec<String> = serde_json::from_value(browser.js(shown, vec![]).await).unwrap();
    let wanted: Vec<String> = events
        .iter()
        .rev()
        .filter(|e| e["type"] == "WriteSucceeded")
        .map(|e| e["sequence"].to_string())
        .collect();
    assert_eq!(visible, wanted, "only the writes' outcomes");
    browser
        .wait_text(
            "#timeline-filtered",
            &format!("{} of {total}", wanted.len()),
        )
        .await;
    browser.js(&pick("#timeline-type", ""), vec![]).await;
    browser.js(&pick("#timeline-system", "erp"), vec![]).await;
    let visible: Vec<String> = serde_json::from_value(browser.js(shown, vec![]).await).unwrap();
    let lanes = browser
        .attrs("#timeline li.event:not([hidden])", "data-system")
        .await;
    assert!(
        !visible.is_empty() && lanes.iter().all(|l| l == "erp"),
        "{lanes:?}"
    );
    browser.js(&pick("#timeline-system", ""), vec![]).await;
    browser.js(&pick("#timeline-field", "email"), vec![]).await;
    let visible: Vec<String> = serde_json::from_value(browser.js(shown, vec![]).await).unwrap();
    let about_email: Vec<String> = events
        .iter()
        .rev()
        .filter(|e| {
            let p = &e["payload"];
            // A decision carries the write it asks for (`write.fields`).
            (e["type"] == "DecisionMade"
                && (p["diff"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["field"] == "email")
                    || p["write"]["fields"].get("email").is_some()))
                || (e["type"] == "WriteRequested" && p["fields"].get("email").is_some())
        })
        .map(|e| e["sequence"].to_string())
        .collect();
    assert_eq!(
        visible, about_email,
        "the decisions and writes that change email"
    );
    assert!(
        visible.len() < total / 4,
        "the field filter narrows: {visible:?}"
    );

    // A jump to an event clears the filters, scrolls to it and highlights it.
    browser.fill("#timeline-jump", "7").await;
    browser
        .click("#timeline-jump-form button[type=submit]")
        .await;
    browser.wait_for("body[data-event-shown='7']").await;
    browser
        .wait_for("#timeline li.event.highlight#event-7")
        .await;
    let hash = browser.js("return location.hash;", vec![]).await;
    assert_eq!(hash, json!(format!("#/entity/{id}/event/7")));
    assert_eq!(browser.count("#timeline li.event[hidden]").await, 0);

    // And back to oldest first.
    browser.click("#timeline-order").await;
    browser
        .wait_for(&format!(
            "body[data-timeline-complete='{id}'][data-timeline-order=asc]"
        ))
        .await;
    assert_eq!(
        browser.attrs("#timeline li.event", "data-sequence").await[0],
        "1"
    );
    browser.close().await;
}

async fn search(browser: &Browser, text: &str) -> String {
    browser.fill("#find-value", text).await;
    browser
        .click("form[aria-labelledby=h-by-name-or-email] button[type=submit]")
        .await;
    let result = "form[aria-labelledby=h-by-name-or-email] .result";
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let now = browser.texts(result).await.concat();
        if !now.is_empty() && !now.contains("Searching") {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer for {text:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Item 6: by name and by whole words, names first, an empty answer that says what was
/// searched, and a link to a stub (a stream whose record belongs to another entity) landing on
/// the real entity.
async fn a_customer_is_found_by_name_and_a_stub_link_lands_on_the_real_entity(backend: Backend) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let (_, ada_id) = ada(&world, &service).await;

    // Alan's create in the ERP is held after it is applied: its webhook reaches the ledger
    // before the POST answers, and opens a stream that is handed over to Alan's entity (G2).
    let mut post = world.erp.pause_next(Op::Create);
    let alan = world
        .crm_user_creates(&service, "Alan Turing", "alan@example.com")
        .await;
    let alan_erp = reached("the ERP applies Alan's create", post.applied())
        .await
        .expect("the ERP applied Alan's create")
        .id;
    world.deliver_all(&service).await;
    // Alan's stub, by his ERP record: Ada's create may have left a stub of its own (its webhook
    // can come before its link too), so the first hand-over of the log is not necessarily his.
    let stubs = || async {
        let data = admin_query(
            &service,
            r#"query { events(tenant: "acme", types: ["RedirectedTo"], first: 10) { edges { node { entityId payload } } } }"#,
            json!({}),
        )
        .await;
        let edges = data["events"]["edges"].as_array().unwrap().clone();
        edges
            .into_iter()
            .map(|e| e["node"].clone())
            .find(|n| n["payload"]["record_id"] == json!(alan_erp))
    };
    eventually("the ERP's early webhook is handed over", STEP, async || {
        stubs().await.is_some()
    })
    .await;
    post.release();
    world.settle(&service, STEP).await;
    let stub = stubs().await.expect("Alan's stub");
    let alan_id = admin_query(
        &service,
        r#"query($id: String!) { entityByRecord(tenant: "acme", system: "crm", recordId: $id) { id } }"#,
        json!({"id": alan.id}),
    )
    .await["entityByRecord"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(stub["payload"]["entity_id"], json!(alan_id), "{stub}");

    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ADMIN).await;
    for text in ["Alan Turing", "turing", "  TURING alan ", "alan.turing"] {
        let found = search(&browser, text).await;
        assert!(found.contains("1 entity found"), "{text:?}: {found}");
        let names = browser.texts("#found-entities a.found-link").await;
        assert_eq!(
            names,
            ["customer: Alan Turing"],
            "{text:?}: the name first, not a UUID"
        );
        let targets = browser
            .attrs("#found-entities a.found-link", "data-entity")
            .await;
        assert_eq!(targets, std::slice::from_ref(&alan_id));
    }
    browser.screenshot(&format!("find-by-name-{shots}")).await;
    let ada_found = search(&browser, "lovelace").await;
    assert!(ada_found.contains("customer: Ada Lovelace"), "{ada_found}");
    assert!(
        !ada_found.contains(&ada_id[..8]) || ada_found.find("Ada") < ada_found.find(&ada_id[..8])
    );
    for nothing in ["Turing Lovelace", "tur"] {
        let answer = search(&browser, nothing).await;
        assert!(
            answer.contains("Nothing the ledger has seen matches"),
            "{answer}"
        );
        assert!(!answer.contains("No record holding"), "{answer}");
    }
    let answer = search(&browser, "Turing Lovelace").await;
    assert!(
        answer.contains("all of the words turing, lovelace"),
        "{answer}"
    );

    // The index is a projection like the others: rebuilt from the log, it answers the same.
    admin_query(
        &service,
        r#"mutation { rebuildProjection(name: "word_index") { name } }"#,
        json!({}),
    )
    .await;
    world.settle(&service, STEP).await;
    assert!(search(&browser, "turing").await.contains("1 entity found"));

    // The stub's link lands on the real entity, saying so.
    let stub_id = stub["entityId"].as_str().unwrap().to_string();
    browser.open(&format!("#/entity/{stub_id}")).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{alan_id}']"))
        .await;
    let hash = browser.js("return location.hash;", vec![]).await;
    assert_eq!(hash, json!(format!("#/entity/{alan_id}")));
    browser.wait_text("#arrived-from", &stub_id).await;
    assert!(browser.texts("#page-title").await[0].contains("Alan Turing"));
    browser.click("#arrived-from a").await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{stub_id}']"))
        .await;
    browser.wait_text("#entity-summary", "Redirected").await;
    browser.close().await;
}

/// Item 7: sixty creates while one of them is held in the ERP keep the queue above 0; once it
/// drained, a page opened afterwards still shows the burst, from the ledger's own samples. The
/// error rates name their window; a rebuild waits for a confirmation.
async fn the_queue_chart_shows_a_burst_that_drained_before_the_page_opened(backend: Backend) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let mut post = world.erp.pause_next(Op::Create);
    for i in 0..60 {
        world.crm.user_create(
            "contacts",
            json!({"full_name": format!("Burst {i}"), "email": format!("burst{i}@example.com")}),
        );
    }
    world.deliver_all(&service).await;
    reached("one create is held in the ERP", post.applied()).await;
    const HISTORY: &str = r#"query { opsHistory(tenant: "acme", minutes: 60) {
        minute queueDepthMax queueDepthLast intake writesSucceeded writesFailed } }"#;
    eventually("the ledger samples a queue above 0", STEP, async || {
        let data = admin_query(&service, HISTORY, json!({})).await;
        data["opsHistory"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["queueDepthMax"].as_i64() > Some(0))
    })
    .await;
    post.release();
    world.settle(&service, STEP).await;
    assert_eq!(world.erp.count("customers"), 60);
    // The minutes count the burst's writes, the first minute kept included (from its own first
    // sample, never the whole history's totals).
    eventually("the samples count the 60 writes", STEP, async || {
        let data = admin_query(&service, HISTORY, json!({})).await;
        let writes: i64 = data["opsHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["writesSucceeded"].as_i64().unwrap_or_default())
            .sum();
        writes >= 60
    })
    .await;

    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ADMIN).await;
    browser.open("#/ops").await;
    let chart = browser.wait_for("#chart-acme").await;
    let peak: i64 = chart
        .attr("data-peak")
        .await
        .unwrap()
        .unwrap_or_default()
        .parse()
        .unwrap();
    assert!(
        peak > 0,
        "the burst shows in a page opened after it: peak {peak}"
    );
    browser
        .wait_text(
            "#chart-acme .chart-words",
            &format!("Peak queue depth {peak}"),
        )
        .await;
    assert_eq!(browser.count("#chart-acme polyline.series-depth").await, 1);
    let texts = browser.texts(".figures dt").await.concat();
    assert!(texts.contains("Write errors, last 5 min"), "{texts}");
    assert!(texts.contains("Write errors, last hour"), "{texts}");
    let five = browser.texts("#error-rate-5m").await.concat();
    let of: i64 = five
        .strip_prefix("0.0 % of ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no failed write of the burst's: {five:?}"));
    assert!(of >= 60, "{five}");
    browser
        .screenshot(&format!("operations-history-{shots}"))
        .await;

    // A rebuild asks first; Cancel sends nothing, Yes sends it once.
    browser
        .js(
            "window.rebuilds = 0; const f = window.fetch; window.fetch = (u, o) => { if (o && String(o.body).includes('rebuildProjection')) window.rebuilds += 1; return f(u, o); }; return true;",
            vec![],
        )
        .await;
    let rebuilds = async || browser.js("return window.rebuilds;", vec![]).await;
    browser
        .click("#projection-table button.rebuild[data-name=sync_stats]")
        .await;
    browser
        .wait_text(
            "#projection-table .confirm-rebuild-box",
            "Rebuild sync_stats?",
        )
        .await;
    assert_eq!(
        rebuilds().await,
        json!(0),
        "nothing before the confirmation"
    );
    browser
        .click("#projection-table button.cancel-rebuild[data-name=sync_stats]")
        .await;
    browser
        .wait_for("#projection-table button.rebuild[data-name=sync_stats]")
        .await;
    assert_eq!(rebuilds().await, json!(0), "nothing after Cancel");
    browser
        .click("#projection-table button.rebuild[data-name=sync_stats]")
        .await;
    browser
        .click("#projection-table button.confirm-rebuild[data-name=sync_stats]")
        .await;
    eventually("the rebuild is asked for once", STEP, async || {
        rebuilds().await == json!(1)
    })
    .await;
    browser.close().await;
}
