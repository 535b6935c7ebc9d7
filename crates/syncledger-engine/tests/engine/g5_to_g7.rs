//! G5 convergence (no ping-pong), G6 requirements, G7 deletes.

use serde_json::json;
use syncledger_core::config::OnDelete;
use syncledger_core::events::DecisionKind;
use syncledger_sim::Op;

use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, ERP, World, only, settings};
use crate::invariants;

#[tokio::test]
async fn after_changes_on_both_sides_stop_the_pairs_are_equal_and_the_ledger_writes_nothing_more() {
    let w = World::new(Db::sqlite()).await;
    let ada = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com", "phone": "1"}),
    );
    let bob = w.erp.user_create(
        CUSTOMERS,
        json!({"name": "Bob", "email_address": "bob@example.com", "phones": ["2", "3"]}),
    );
    w.settle().await;
    let ada_erp = only(&w.erp, CUSTOMERS, "email_address", "ada@example.com").id;
    let bob_crm = only(&w.crm, CONTACTS, "email", "bob@example.com").id;
    // Both sides edit both records, in every order of delivery.
    w.crm
        .user_update(CONTACTS, &ada.id, json!({"full_name": "Ada L."}));
    w.erp
        .user_update(CUSTOMERS, &ada_erp, json!({"phones": ["9", "1"]}));
    w.erp
        .user_update(CUSTOMERS, &bob.id, json!({"name": "Robert"}));
    w.crm
        .user_update(CONTACTS, &bob_crm, json!({"phone": null}));
    w.deliver(ERP).await;
    w.deliver(CRM).await;
    w.run().await;
    w.settle().await;

    assert_eq!(invariants::problems(&w).await, Vec::<String>::new());
    let quiet = invariants::writes(&w);
    w.settle().await;
    assert_eq!(invariants::writes(&w), quiet, "another round wrote");
    assert_eq!(
        invariants::resync_writes_nothing(&w).await,
        Vec::<String>::new()
    );
    assert_eq!(
        w.crm.record(CONTACTS, &ada.id).expect("ada").body["full_name"],
        "Ada L."
    );
    assert_eq!(
        w.crm.record(CONTACTS, &ada.id).expect("ada").body["phone"],
        "9"
    );
    // Bob's CRM phone was cleared: the ERP dropped its first number and its second came back.
    assert_eq!(
        w.erp.record(CUSTOMERS, &bob.id).expect("bob").body["phones"],
        json!(["3"])
    );
    assert_eq!(
        w.crm.record(CONTACTS, &bob_crm).expect("bob").body["phone"],
        "3"
    );
}

#[tokio::test]
async fn a_contact_without_email_waits_and_its_update_adding_one_creates_it_in_the_erp() {
    let w = World::new(Db::sqlite()).await;
    let c = w
        .crm
        .user_create(CONTACTS, json!({"full_name": "Barbara Liskov"}));
    w.settle().await;
    let entity = w
        .entity_of(CRM, &c.id)
        .await
        .expect("the contact is linked");
    assert_eq!(w.decisions(entity).await, [DecisionKind::Deferred]);
    assert_eq!(w.erp.requests(Op::Create), 0);

    w.crm
        .user_update(CONTACTS, &c.id, json!({"email": "barbara@example.com"}));
    w.settle().await;

    let created = only(&w.erp, CUSTOMERS, "email_address", "barbara@example.com");
    assert_eq!(created.body["name"], "Barbara Liskov");
    assert_eq!(w.state(entity).await.links["erp"].record_id, created.id);
    assert_eq!(
        w.decisions(entity).await[..2],
        [DecisionKind::Deferred, DecisionKind::Create]
    );
    assert_eq!(invariants::problems(&w).await, Vec::<String>::new());
}

#[tokio::test]
async fn with_propagate_a_delete_on_either_side_deletes_the_other() {
    let w = World::new(Db::sqlite()).await;
    let a = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "A", "email": "a@example.com"}),
    );
    let b = w.erp.user_create(
        CUSTOMERS,
        json!({"name": "B", "email_address": "b@example.com"}),
    );
    w.settle().await;
    let (a_entity, b_entity) = (
        w.entity_of(CRM, &a.id).await.expect("a"),
        w.entity_of(ERP, &b.id).await.expect("b"),
    );

    w.crm.user_delete(CONTACTS, &a.id);
    w.erp.user_delete(CUSTOMERS, &b.id);
    w.settle().await;

    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (0, 0));
    assert!(w.state(a_entity).await.links.is_empty());
    assert!(w.state(b_entity).await.links.is_empty());
    assert_eq!(w.queue_depth().await, 0);
    assert_eq!(invariants::problems(&w).await, Vec::<String>::new());
}

#[tokio::test]
async fn with_unlink_a_crm_delete_keeps_the_erp_record() {
    let w = World::with(Db::sqlite(), OnDelete::Unlink, settings("process-1")).await;
    let a = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "A", "email": "a@example.com"}),
    );
    w.settle().await;
    let entity = w.entity_of(CRM, &a.id).await.expect("a");
    let erp_id = w.state(entity).await.links["erp"].record_id.clone();

    w.crm.user_delete(CONTACTS, &a.id);
    w.settle().await;

    assert_eq!((w.crm.count(CONTACTS), w.erp.count(CUSTOMERS)), (0, 1));
    assert_eq!(w.erp.requests(Op::Delete), 0);
    assert_eq!(
        w.entity_of(CRM, &a.id).await,
        None,
        "the deleted contact is unlinked"
    );
    assert!(!w.state(entity).await.links.contains_key("crm"));
    assert!(w.decisions(entity).await.contains(&DecisionKind::Unlink));
    assert!(w.erp.record(CUSTOMERS, &erp_id).is_some());
    assert_eq!(w.queue_depth().await, 0);
}
