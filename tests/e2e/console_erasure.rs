//! The console's erasure (issue 29), in headless Chromium through the real binary on both
//! backends: a tenant's token is offered no erasure; the admin must give a reason, is asked to
//! confirm with the person's linked records named, can cancel (nothing erased), and on
//! confirming gets the verified receipt; the page then shows the history's values as erased.

use serde_json::json;

use crate::browser::Browser;
use crate::console::{ACME, ADMIN, ada, admin_query, history, label};
use crate::harness::{Backend, World, on_both_backends};

on_both_backends!(the_admin_erases_a_person_after_a_confirmation_naming_their_records);

async fn the_admin_erases_a_person_after_a_confirmation_naming_their_records(backend: Backend) {
    let shots = label(&backend);
    let world = World::new(backend).await;
    let service = world.start().await;
    let (contact, entity) = ada(&world, &service).await;
    let erp_id = world.erp_customers("ada@example.com")[0].id.clone();
    let length = history(&service, &entity).await.len();
    let Some(browser) = Browser::start(&service.url("")).await else {
        return;
    };
    let page = format!("#/entity/{entity}");

    // A tenant's token reads the entity, and is offered no erasure.
    browser.sign_in(ACME).await;
    browser.open(&page).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{entity}']"))
        .await;
    assert_eq!(browser.count("#erase").await, 0);
    assert_eq!(browser.count("#erase-reason").await, 0);
    browser.click("#sign-out").await;

    // The admin: no reason, no erasure.
    browser.sign_in(ADMIN).await;
    browser.open(&page).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{entity}']"))
        .await;
    browser.click("#erase").await;
    browser.wait_text("#erase-result", "needs a reason").await;
    assert_eq!(browser.count("#erase-confirm").await, 0);

    // With a reason, a confirmation that names both linked records; cancelled, nothing happens.
    browser
        .fill("#erase-reason", "GDPR Art. 17 request #88")
        .await;
    browser.click("#erase").await;
    let question = browser
        .wait_text("#erase-result [role=alertdialog]", &contact.id)
        .await;
    assert!(
        question.contains(&format!("crm contacts {}", contact.id))
            && question.contains(&format!("erp customers {erp_id}"))
            && question.contains("cannot be undone"),
        "{question}"
    );
    browser.screenshot(&format!("erase-confirm-{shots}")).await;
    browser.click("#erase-cancel").await;
    assert_eq!(browser.count("#erase-confirm").await, 0);
    assert_eq!(
        history(&service, &entity).await.len(),
        length,
        "nothing erased"
    );

    // Confirmed: the receipt, verified.
    browser.click("#erase").await;
    browser.wait_for("#erase-confirm").await;
    browser.click("#erase-confirm").await;
    let receipt = browser.wait_text("#erase-result", "Erased at").await;
    assert!(
        receipt.contains("no value of this customer was found anywhere in the database"),
        "{receipt}"
    );
    browser.screenshot(&format!("erase-receipt-{shots}")).await;
    let after = history(&service, &entity).await;
    assert_eq!(after.len(), length + 1);
    assert_eq!(after[length]["type"], "EntityErased");
    let why = admin_query(
        &service,
        r#"query($id: ID!) { entity(id: $id) { whyField(field: "name", system: "erp") { value } } }"#,
        json!({"id": entity}),
    )
    .await;
    assert_eq!(why["entity"]["whyField"]["value"], json!({"$erased": true}));

    // Reloaded, the page shows no value of hers: the timeline reads erased.
    browser.open("#/").await;
    browser.open(&page).await;
    browser
        .wait_for(&format!("body[data-timeline-complete='{entity}']"))
        .await;
    let shown = browser.texts("#timeline").await.join("\n");
    assert!(!shown.contains("Ada Lovelace"), "{shown}");
    assert!(!shown.contains("ada@example.com"), "{shown}");
    browser.close().await;
}
