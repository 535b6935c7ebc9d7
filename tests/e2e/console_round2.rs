//! The console's second round (issue 31): what a support person and an operator tripped over,
//! each in headless Chromium through the real binary, on both backends.

use serde_json::json;

use crate::browser::Browser;
use crate::console::{ACME, ada, ada_in_a_browser, history, label};
use crate::harness::{Backend, World, on_both_backends};

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

on_both_backends!(
    a_chain_step_link_scrolls_to_its_event_and_can_be_shared,
    timeline_groups_name_their_correlation_by_number_and_random_tail,
    a_narrow_window_the_sign_in_page_and_a_tenant_page_show_only_what_they_should,
);
