//! The console's second round (issue 31): what a support person and an operator tripped over,
//! each in headless Chromium through the real binary, on both backends.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::console::{ACME, ADMIN, ada, ada_in_a_browser, admin_query, history, label};
use crate::harness::{Backend, STEP, World, eventually, on_both_backends};
use crate::service::Service;
use syncledger_sim::{Fault, Op};

/// Whether `css`'s first element lies (at least partly) inside the viewport.
async fn in_view(browser: &Browser, css: &str) -> bool {
    let script = "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
                  return r.bottom > 0 && r.top < window.innerHeight;";
    browser.js(script, vec![json!(css)]).await == json!(true)
}

/// Item 1: a chain step's link is a route to the event (`#/entity/<id>/event/<n>`): it scrolls to
/// and highlights the event on the same page, and opened fresh (shared) it does the same.
async fn a_chain_step_link_scrolls_to_its_event_and_can_be_shared(backend: Backend) {
    let shots = label(&backend);
    let Some((_world, _service, browser, _, id)) = ada_in_a_browser(backend).await else {
        return;
    };
    browser.open(&format!("#/entity/{id}")).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{id}']"))
        .await;
    browser
        .click("button.value[data-field=name][data-system=erp]")
        .await;
    browser.wait_for("#why-chain a.to-event").await;
    browser
        .js(
            "window.sameDocument = true; window.scrollTo(0, 0); return true;",
            vec![],
        )
        .await;
    let steps = browser.texts("#why-chain a.to-event").await;
    let first = steps
        .first()
        .expect("a step")
        .trim_start_matches('#')
        .to_string();
    browser
        .click("#why-chain li.step:first-child a.to-event")
        .await;
    let wanted = format!("#/entity/{id}/event/{first}");
    browser
        .wait_for(&format!("body[data-event-shown='{first}']"))
        .await;
    let hash = browser.js("return location.hash;", vec![]).await;
    assert_eq!(hash, json!(wanted), "the link is a shareable route");
    let marked = format!("#timeline li.event.highlight#event-{first}");
    browser.wait_for(&marked).await;
    assert_eq!(browser.count("#timeline li.event.highlight").await, 1);
    assert!(in_view(&browser, &marked).await, "scrolled to the event");
    assert!(
        browser.texts("#page-title").await[0].contains("Ada Lovelace"),
        "still the entity page, not Find"
    );
    let same = browser
        .js(
            "return window.sameDocument === true && !!document.querySelector('#why-chain');",
            vec![],
        )
        .await;
    assert_eq!(same, json!(true), "the page was not drawn again");

    // The skip link's `#main` is not a route either.
    browser.open("#main").await;
    assert_eq!(browser.count("#timeline").await, 1, "still the entity page");

    // The link shared: opened in a fresh document, it lands on the event.
    let last = steps.last().unwrap().trim_start_matches('#').to_string();
    browser
        .goto(&format!("/console#/entity/{id}/event/{last}"))
        .await;
    browser.client.refresh().await.expect("reloading");
    let marked = format!("#timeline li.event.highlight#event-{last}");
    browser.wait_for(&marked).await;
    assert!(in_view(&browser, &marked).await, "scrolled to the event");
    browser.screenshot(&format!("event-link-{shots}")).await;
    browser.close().await;
}

/// Item 2: a timeline group names its correlation by its number within the entity and the
/// UUID's random tail, never by the UUID v7's first block (its timestamp, shared by the minute).
async fn timeline_groups_name_their_correlation_by_number_and_random_tail(backend: Backend) {
    let Some((_world, service, browser, _, id)) = ada_in_a_browser(backend).await else {
        return;
    };
    browser.open(&format!("#/entity/{id}")).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{id}']"))
        .await;
    let mut order: Vec<String> = Vec::new();
    for event in history(&service, &id).await {
        let correlation = event["correlationId"].as_str().unwrap_or_default();
        if !correlation.is_empty() && !order.iter().any(|c| c == correlation) {
            order.push(correlation.to_string());
        }
    }
    assert!(order.len() >= 2, "two webhooks: {order:?}");
    let groups = browser
        .attrs("#timeline li.group", "data-correlation")
        .await;
    let metas = browser.texts("#timeline li.group .group-meta").await;
    assert_eq!(groups.len(), metas.len());
    for (correlation, meta) in groups.iter().zip(&metas) {
        let number = order.iter().position(|c| c == correlation).unwrap() + 1;
        let hex = correlation.replace('-', "");
        let tail = &hex[hex.len() - 8..];
        assert!(
            meta.contains(&format!("correlation {number} \u{b7} \u{2026}{tail}")),
            "{meta:?} for {correlation}"
        );
        assert!(
            !meta.contains(&correlation[..8]),
            "the timestamp prefix: {meta:?}"
        );
    }
    browser.close().await;
}

/// The page's width beyond the window, in CSS pixels (0 when nothing runs off to the side).
async fn overflow(browser: &Browser) -> i64 {
    let script = "const d = document.documentElement; return d.scrollWidth - d.clientWidth;";
    browser.js(script, vec![]).await.as_i64().unwrap()
}

/// Whether `css`'s first element is displayed and lies inside the window's width.
async fn reachable(browser: &Browser, css: &str) -> bool {
    let script = "const e = document.querySelector(arguments[0]); if (!e) return false; \
                  const r = e.getBoundingClientRect(); \
                  return r.width > 0 && r.left >= 0 && r.right <= document.documentElement.clientWidth;";
    browser.js(script, vec![json!(css)]).await == json!(true)
}

/// Item 9: at 400 px nothing runs off the page (nav and Sign out reachable, tables scroll in
/// their own box); the sign-in page shows no page links; a tenant's entity page shows no stray
/// "null" where the admin's replay card would be.
async fn a_narrow_window_the_sign_in_page_and_a_tenant_page_show_only_what_they_should(
    backend: Backend,
) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let (_, id) = ada(&world, &service).await;
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser
        .client
        .set_window_size(400, 900)
        .await
        .expect("resizing");
    browser.goto("/console").await;
    browser.wait_for("input[name=token]").await;
    let width = browser.js("return window.innerWidth;", vec![]).await;
    assert!(width.as_i64().unwrap() <= 400, "a narrow window: {width}");
    let shown = "return getComputedStyle(document.querySelector(arguments[0])).display !== 'none';";
    for hidden in ["#nav", "#who"] {
        let visible = browser.js(shown, vec![json!(hidden)]).await;
        assert_eq!(visible, json!(false), "{hidden} shows on the sign-in page");
    }
    assert_eq!(overflow(&browser).await, 0, "the sign-in page");

    browser.sign_in(ACME).await;
    for page in ["#/find", &format!("#/entity/{id}"), "#/ops", "#/live"] {
        browser.open(page).await;
        if page.starts_with("#/entity") {
            browser
                .wait_for(&format!("body[data-timeline-complete='{id}']"))
                .await;
        } else if page == "#/ops" {
            browser.wait_for("#system-errors").await;
        } else {
            browser.wait_for("#page-title").await;
        }
        assert_eq!(
            overflow(&browser).await,
            0,
            "{page} is wider than the window"
        );
        for link in [
            "#nav a[data-page=find]",
            "#nav a[data-page=ops]",
            "#nav a[data-page=live]",
            "#sign-out",
        ] {
            assert!(
                reachable(&browser, link).await,
                "{link} is off-screen on {page}"
            );
        }
        let name = page.trim_start_matches("#/").split('/').next().unwrap();
        browser.screenshot(&format!("narrow-{name}-{shots}")).await;
    }

    // A tenant's entity page: the records card, then the timeline, and no "null" between them.
    browser
        .client
        .set_window_size(1440, 1000)
        .await
        .expect("resizing");
    browser.open(&format!("#/entity/{id}")).await;
    browser.wait_for("#records").await;
    let stray = browser
        .js(
            "return [...document.getElementById('main').childNodes] \
               .filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.textContent.trim()).filter(t => t);",
            vec![],
        )
        .await;
    assert_eq!(stray, json!([]), "loose text in the page");
    assert_eq!(browser.count("#replay").await, 0, "no admin control");
    browser.close().await;
}

/// Every decision of the entity as the API has it: (sequence, basis rule, reason in words).
async fn decisions(service: &Service, id: &str) -> Vec<(u64, String, String)> {
    let data = admin_query(
        service,
        "query($id: ID!) { entity(id: $id) { history(first: 200) { edges { node { sequence type reason payload } } } } }",
        json!({"id": id}),
    )
    .await;
    let edges = data["entity"]["history"]["edges"].as_array().unwrap();
    edges
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["type"] == "DecisionMade")
        .map(|n| {
            let rule = n["payload"]["basis"]["rule"].as_str().unwrap_or_default();
            let reason = n["reason"].as_str().expect("a decision's reason");
            (
                n["sequence"].as_u64().unwrap(),
                rule.to_string(),
                reason.to_string(),
            )
        })
        .collect()
}

/// Item 3: a retried dead letter's decision says it was a person's retry (not "change from" the
/// target), every basis reads in words, and a deleted customer's page says when and why it was
/// deleted under the customer's name, not a bare UUID.
async fn an_entity_page_says_in_words_what_was_decided_and_why_it_was_deleted(backend: Backend) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let (ada, id) = ada(&world, &service).await;
    let refusal = "{\"error\":\"name rejected\"}".to_string();
    world.erp.fail_next(Op::Update, Fault::Status(422, refusal));
    world
        .crm_user_renames(&service, &ada.id, "Augusta Ada King")
        .await;
    world.settle(&service, STEP).await;
    let letters = admin_query(
        &service,
        r#"{ deadLetters(tenant: "acme", first: 5) { edges { node { id } } } }"#,
        json!({}),
    )
    .await;
    let letter = letters["deadLetters"]["edges"][0]["node"]["id"].clone();
    admin_query(
        &service,
        "mutation($id: ID!) { retryDeadLetter(id: $id) { sequence } }",
        json!({"id": letter}),
    )
    .await;
    world.settle(&service, STEP).await;
    let decided = decisions(&service, &id).await;
    assert!(
        decided
            .iter()
            .any(|(_, rule, _)| rule.starts_with("retry_")),
        "a retry's decision: {decided:?}"
    );

    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ADMIN).await;
    browser.open(&format!("#/entity/{id}")).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{id}']"))
        .await;
    let summary = browser.wait_text("#entity-summary", "Linked in").await;
    assert!(
        summary.contains(&format!("crm contact {}", ada.id)),
        "{summary}"
    );
    for (sequence, rule, reason) in &decided {
        let item = format!("#timeline li.event[data-sequence='{sequence}']");
        let label = browser
            .texts(&format!("{item} .decision-label"))
            .await
            .concat();
        let basis = browser.texts(&format!("{item} .basis-text")).await.concat();
        assert_eq!(basis, format!("Basis: {reason}"), "#{sequence}");
        assert!(!basis.contains('{'), "raw JSON: {basis}");
        if rule.starts_with("retry_") {
            assert!(
                label.contains("retry of a dead letter"),
                "#{sequence}: {label}"
            );
            assert!(!label.contains("change from"), "#{sequence}: {label}");
        }
    }

    // The contact is deleted in the CRM; the ERP customer goes too (on_delete = propagate).
    assert!(world.crm.user_delete("contacts", &ada.id));
    let reply = service.deliver("crm", &world.crm.drain_webhooks()).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    world.settle(&service, STEP).await;
    browser.open("#/find").await;
    browser.open(&format!("#/entity/{id}")).await;
    let summary = browser.wait_text("#entity-summary", "Deleted ").await;
    assert!(
        summary.contains(&format!("because crm contact {} was deleted", ada.id)),
        "{summary}"
    );
    let title = browser.wait_text("#page-title", "Augusta Ada King").await;
    assert!(!title.contains(&id), "a bare UUID: {title}");
    browser.screenshot(&format!("deleted-{shots}")).await;
    browser.close().await;
}

/// Item 3: a contact without an email is held back from the ERP (which requires one): the page
/// says so at the top and shows the ERP's column with the reason.
async fn a_record_held_back_shows_its_column_and_the_reason_at_the_top(backend: Backend) {
    let world = World::new(backend).await;
    let service = world.start().await;
    let alan = world
        .crm
        .user_create("contacts", json!({"full_name": "Alan Turing"}));
    let reply = service.deliver("crm", &world.crm.drain_webhooks()).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    world.settle(&service, STEP).await;
    let data = admin_query(
        &service,
        r#"query($id: String!) { entityByRecord(tenant: "acme", system: "crm", recordId: $id) { id } }"#,
        json!({"id": alan.id}),
    )
    .await;
    let id = data["entityByRecord"]["id"].as_str().unwrap().to_string();
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ACME).await;
    browser.open(&format!("#/entity/{id}")).await;
    let summary = browser
        .wait_text(
            "#entity-summary",
            "Not in erp: it requires email (held since ",
        )
        .await;
    assert!(summary.starts_with("Linked in crm"), "{summary}");
    let column = browser
        .wait_text(
            "#records th[data-system=erp]",
            "held back: it requires email",
        )
        .await;
    assert!(column.contains("not linked"), "{column}");
    browser.wait_text("#page-title", "Alan Turing").await;
    browser.close().await;
}

/// Item 4: the entity page counts the events the ledger appends after it was drawn ("N new
/// events", from the Live page's subscription) and shows them on request, without a reload.
async fn an_entity_page_counts_new_events_live_and_shows_them_on_request(backend: Backend) {
    let Some((world, service, browser, ada, id)) = ada_in_a_browser(backend).await else {
        return;
    };
    browser.open(&format!("#/entity/{id}")).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{id}']"))
        .await;
    browser.wait_for("#entity-live[data-state=live]").await;
    let before = history(&service, &id).await.len();
    assert_eq!(browser.count("#timeline li.event").await, before);
    assert_eq!(browser.count("#new-events:not([hidden])").await, 0);
    browser
        .js("window.sameDocument = true; return true;", vec![])
        .await;

    world.crm_user_renames(&service, &ada.id, "Ada King").await;
    world.settle(&service, STEP).await;
    let after = history(&service, &id).await.len();
    assert!(after > before, "the rename added events");
    let new = (after - before).to_string();
    let shown = browser
        .wait_text("#new-events", &format!("{new} new events"))
        .await;
    assert!(shown.contains("show them"), "{shown}");
    assert_eq!(browser.attrs("#new-events", "data-count").await, vec![new]);
    browser.click("#new-events").await;
    eventually("the new events are drawn", STEP, async || {
        browser.count("#timeline li.event").await == after
    })
    .await;
    let sequences = browser.attrs("#timeline li.event", "data-sequence").await;
    let wanted: Vec<String> = (1..=after).map(|n| n.to_string()).collect();
    assert_eq!(sequences, wanted, "every event once, in order");
    browser.wait_for("#new-events[hidden]").await;
    let same = browser
        .js("return window.sameDocument === true;", vec![])
        .await;
    assert_eq!(same, json!(true), "the page was not reloaded");
    browser.close().await;
}

/// The dead letters the API lists: (id, entity id).
async fn letters(service: &Service) -> Vec<(String, String)> {
    let data = admin_query(
        service,
        r#"{ deadLetters(tenant: "acme", first: 50) { edges { node { id entityId } } } }"#,
        json!({}),
    )
    .await;
    let edges = data["deadLetters"]["edges"].as_array().unwrap();
    edges
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["id"].as_str().unwrap().to_string(),
                n["entityId"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Item 8: each dead letter names its customer and record; the admin discards one with a
/// reason (recorded in the entity's stream with who did it; a blank reason is refused and
/// changes nothing) and retries the other two at once; the list refreshes after each.
async fn dead_letters_name_their_record_and_are_discarded_with_a_reason_or_retried_together(
    backend: Backend,
) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let people = [
        ("Ada Lovelace", "ada@example.com"),
        ("Grace Hopper", "grace@example.com"),
        ("Alan Turing", "alan@example.com"),
    ];
    let mut contacts = Vec::new();
    for (name, email) in people {
        contacts.push(world.crm_user_creates(&service, name, email).await);
    }
    world.settle(&service, STEP).await;
    for _ in 0..3 {
        let refusal = "{\"error\":\"name rejected\"}".to_string();
        world.erp.fail_next(Op::Update, Fault::Status(422, refusal));
    }
    for (contact, (name, _)) in contacts.iter().zip(people) {
        world
            .crm_user_renames(&service, &contact.id, &format!("{name} Jr"))
            .await;
    }
    world.settle(&service, STEP).await;
    let listed = letters(&service).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let grace_entity = admin_query(
        &service,
        r#"query($id: String!) { entityByRecord(tenant: "acme", system: "crm", recordId: $id) { id } }"#,
        json!({"id": contacts[1].id}),
    )
    .await["entityByRecord"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let grace_letter = listed
        .iter()
        .find(|(_, e)| *e == grace_entity)
        .unwrap()
        .0
        .clone();

    // A blank reason is refused by the API and changes nothing.
    let reply = service
        .post_json(
            "/graphql",
            Some(ADMIN),
            &json!({"query": "mutation($id: ID!) { discardDeadLetter(id: $id, reason: \"  \") { sequence } }", "variables": {"id": grace_letter}}),
        )
        .await;
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        json!("BAD_USER_INPUT"),
        "{:?}",
        reply.body
    );
    assert_eq!(letters(&service).await.len(), 3);

    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    browser.sign_in(ADMIN).await;
    browser.open("#/ops").await;
    for (name, email) in people {
        let erp_id = world.erp_customers(email)[0].id.clone();
        let whose = browser
            .wait_text("#dead-letters", &format!("erp customers {erp_id}"))
            .await;
        assert!(whose.contains(name), "{name} named: {whose}");
    }
    let who = browser
        .wait_text(
            &format!("#dead-letters li.letter[data-id='{grace_letter}'] .letter-who"),
            "customer Grace Hopper",
        )
        .await;
    assert!(who.contains("erp customers"), "{who}");
    browser.screenshot(&format!("dead-letters-{shots}")).await;

    // Discard without a reason: refused in the page, nothing changes.
    browser
        .click(&format!(
            "button.discard[data-dead-letter='{grace_letter}']"
        ))
        .await;
    browser
        .wait_text("#dl-status", "a reason is required")
        .await;
    assert_eq!(browser.count("#dead-letters li.letter").await, 3);

    // With a reason: gone from the list, recorded with who and why.
    browser
        .fill(
            &format!("#reason-{grace_letter}"),
            "fixed by hand in the erp",
        )
        .await;
    browser
        .click(&format!(
            "button.discard[data-dead-letter='{grace_letter}']"
        ))
        .await;
    browser.wait_for("#discard-outcome").await;
    eventually("the list drops the discarded letter", STEP, async || {
        browser.count("#dead-letters li.letter").await == 2
    })
    .await;
    assert!(
        !letters(&service)
            .await
            .iter()
            .any(|(id, _)| *id == grace_letter)
    );
    let data = admin_query(
        &service,
        "query($id: ID!) { entity(id: $id) { history(first: 200) { edges { node { type payload explanation } } } } }",
        json!({"id": grace_entity}),
    )
    .await;
    let discarded: Vec<&Value> = data["entity"]["history"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["type"] == "DeadLetterDiscarded")
        .collect();
    assert_eq!(discarded.len(), 1, "{discarded:?}");
    assert_eq!(
        discarded[0]["payload"]["reason"],
        json!("fixed by hand in the erp")
    );
    assert_eq!(
        discarded[0]["payload"]["dead_letter_id"],
        json!(grace_letter)
    );
    assert!(!discarded[0]["payload"]["by"].as_str().unwrap().is_empty());

    // The other two, retried together: both succeed and the list empties.
    for pick in browser.attrs("#dead-letters input.pick", "id").await {
        browser.click(&format!("#{pick}")).await;
    }
    browser.click("#retry-selected").await;
    browser
        .wait_text("#retry-outcome", "2 retried: 2 succeeded")
        .await;
    browser.wait_text("#dead-letters", "No dead letters.").await;
    for (email, name) in [
        ("ada@example.com", "Ada Lovelace Jr"),
        ("alan@example.com", "Alan Turing Jr"),
    ] {
        let erp_id = world.erp_customers(email)[0].id.clone();
        assert_eq!(world.erp_name(&erp_id), json!(name));
    }
    assert_eq!(
        world.erp_name(&world.erp_customers("grace@example.com")[0].id),
        json!("Grace Hopper"),
        "discarded: not written"
    );
    browser.close().await;
}

on_both_backends!(
    a_chain_step_link_scrolls_to_its_event_and_can_be_shared,
    timeline_groups_name_their_correlation_by_number_and_random_tail,
    a_narrow_window_the_sign_in_page_and_a_tenant_page_show_only_what_they_should,
    an_entity_page_says_in_words_what_was_decided_and_why_it_was_deleted,
    a_record_held_back_shows_its_column_and_the_reason_at_the_top,
    an_entity_page_counts_new_events_live_and_shows_them_on_request,
    dead_letters_name_their_record_and_are_discarded_with_a_reason_or_retried_together,
);
