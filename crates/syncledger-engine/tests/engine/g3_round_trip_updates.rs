//! G3: fields the sync itself wrote are diffed out of the echo, so a stale echo never overwrites
//! a newer value; changes the target made itself (a list whose first element changed) still flow
//! back (the seed's race 3).

use serde_json::json;
use syncledger_core::events::DecisionKind;
use syncledger_sim::{Fault, Op};
use uuid::Uuid;

use crate::harness::{CONTACTS, CRM, CUSTOMERS, ERP, World};

/// A CRM contact and its ERP customer, linked and quiet.
async fn linked_pair(w: &World, phone: &str) -> (String, String, Uuid) {
    let c = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Alan Turing", "email": "alan@example.com", "phone": phone}),
    );
    w.settle().await;
    let entity = w.entity_of(CRM, &c.id).await.expect("mapped");
    let erp_id = w.state(entity).await.links["erp"].record_id.clone();
    (c.id, erp_id, entity)
}

#[tokio::test]
async fn a_late_echo_of_an_older_write_does_not_overwrite_a_newer_value() {
    let w = World::new(crate::harness::Db::sqlite()).await;
    let (contact, customer, _) = linked_pair(&w, "111-111-1111").await;

    w.crm
        .user_update(CONTACTS, &contact, json!({"phone": "123-456-7899"}));
    w.deliver(CRM).await;
    w.run().await;
    let typo_echo = w.erp.drain_webhooks();
    w.crm
        .user_update(CONTACTS, &contact, json!({"phone": "123-456-7890"}));
    w.deliver(CRM).await;
    w.run().await;
    let fix_echo = w.erp.drain_webhooks();
    let crm_writes = w.crm.requests(Op::Update);

    // The echo of the typo arrives last of all.
    w.ingest(ERP, &fix_echo).await;
    w.ingest(ERP, &typo_echo).await;
    w.settle().await;

    assert_eq!(
        w.crm.record(CONTACTS, &contact).expect("contact").body["phone"],
        "123-456-7890"
    );
    assert_eq!(
        w.erp.record(CUSTOMERS, &customer).expect("customer").body["phones"],
        json!(["123-456-7890"])
    );
    assert_eq!(
        w.crm.requests(Op::Update),
        crm_writes,
        "no write went back to the CRM"
    );
}

/// The fix cannot be written to the ERP (refused, dead-lettered), so the ERP still holds the
/// typo when the typo's echo arrives: the typo is a value the sync wrote itself, diffed out.
#[tokio::test]
async fn an_echo_of_an_older_write_does_not_overwrite_a_newer_value_the_target_refused() {
    let w = World::new(crate::harness::Db::sqlite()).await;
    let (contact, customer, entity) = linked_pair(&w, "111-111-1111").await;

    w.crm
        .user_update(CONTACTS, &contact, json!({"phone": "123-456-7899"}));
    w.deliver(CRM).await;
    w.run().await;
    let typo_echo = w.erp.drain_webhooks();
    w.erp.fail_next(
        Op::Update,
        Fault::Status(422, r#"{"error":"phone rejected"}"#.into()),
    );
    w.crm
        .user_update(CONTACTS, &contact, json!({"phone": "123-456-7890"}));
    w.deliver(CRM).await;
    w.run().await;
    assert_eq!(
        w.erp.record(CUSTOMERS, &customer).expect("customer").body["phones"],
        json!(["123-456-7899"])
    );
    let crm_writes = w.crm.requests(Op::Update);

    w.ingest(ERP, &typo_echo).await;
    w.run().await;

    assert_eq!(
        w.decisions(entity).await.last(),
        Some(&DecisionKind::EchoSuppressed)
    );
    assert_eq!(
        w.crm.record(CONTACTS, &contact).expect("contact").body["phone"],
        "123-456-7890"
    );
    assert_eq!(w.crm.requests(Op::Update), crm_writes);
}

/// The article's solution, part 3: the CRM phone is deleted, the ERP drops its first number, its
/// second number becomes the first and syncs back.
#[tokio::test]
async fn a_cleared_crm_phone_promotes_the_second_erp_number_which_flows_back() {
    let w = World::new(crate::harness::Db::sqlite()).await;
    let (contact, customer, _) = linked_pair(&w, "111").await;
    w.erp
        .user_update(CUSTOMERS, &customer, json!({"phones": ["111", "222"]}));
    w.settle().await;
    assert_eq!(
        w.crm.record(CONTACTS, &contact).expect("contact").body["phone"],
        "111",
        "the first number is unchanged"
    );

    w.crm
        .user_update(CONTACTS, &contact, json!({"phone": null}));
    w.deliver(CRM).await;
    w.run().await;
    assert_eq!(
        w.erp.record(CUSTOMERS, &customer).expect("customer").body["phones"],
        json!(["222"])
    );
    w.settle().await;

    assert_eq!(
        w.crm.record(CONTACTS, &contact).expect("contact").body["phone"],
        "222"
    );
    assert_eq!(
        w.erp.record(CUSTOMERS, &customer).expect("customer").body["phones"],
        json!(["222"])
    );
    // A later CRM edit no longer sees an empty phone as a difference.
    w.crm
        .user_update(CONTACTS, &contact, json!({"full_name": "Alan M. Turing"}));
    w.settle().await;
    assert_eq!(
        w.erp.record(CUSTOMERS, &customer).expect("customer").body,
        json!({"id": customer, "name": "Alan M. Turing", "email_address": "alan@example.com", "phones": ["222"]})
    );
}

/// An ERP user puts back a value the sync wrote there earlier (an undo): that is the ERP's own
/// change, not an echo, and the CRM follows it.
#[tokio::test]
async fn an_erp_user_restoring_a_value_the_sync_wrote_earlier_is_synced_back() {
    let w = World::new(crate::harness::Db::sqlite()).await;
    let (contact, customer, _) = linked_pair(&w, "111").await;
    w.crm
        .user_update(CONTACTS, &contact, json!({"phone": "222"}));
    w.settle().await;
    assert_eq!(
        w.erp.record(CUSTOMERS, &customer).expect("customer").body["phones"],
        json!(["222"])
    );

    w.erp
        .user_update(CUSTOMERS, &customer, json!({"phones": ["111"]}));
    w.settle().await;

    assert_eq!(
        w.crm.record(CONTACTS, &contact).expect("contact").body["phone"],
        "111"
    );
}
