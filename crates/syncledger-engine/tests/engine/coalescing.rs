//! Coalescing (issue 18, `decide::coalesce`): webhooks for one record that are all queued cost
//! one fetch and at most one write per target, and each covered observation stays in the log,
//! named by the group that settled it. A new record synced across, echo included, costs one
//! fetch in all.

use serde_json::json;
use syncledger_core::events::{DecisionKind, SyncEvent};
use syncledger_sim::Op;

use crate::both;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, Db, World, first_stream};

/// The decision on a record seen for the first time reuses the fetch that recorded it (G8), and
/// the ERP's `created` notice of the sync's own create is settled by the create's answer
/// (`decide::created_echo`): one CRM fetch, no ERP fetch.
async fn a_new_record_synced_across_costs_one_fetch_in_all(db: Db) {
    let w = World::new(db).await;
    let ada = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    w.settle().await;
    assert_eq!(w.erp.count(CUSTOMERS), 1, "created in the ERP");
    assert_eq!(w.erp.requests(Op::Create), 1);
    assert_eq!(
        w.decisions(first_stream(CRM, &ada.id)).await,
        [DecisionKind::Create, DecisionKind::EchoSuppressed],
        "the create, and its echo settled"
    );
    assert_eq!(
        (w.crm.requests(Op::Get), w.erp.requests(Op::Get)),
        (1, 0),
        "one fetch of the CRM record; the ERP's echo of the create not fetched"
    );
    assert_eq!(w.queue_depth().await, 0, "nothing is owed any more");
}

async fn five_queued_webhooks_for_one_record_cost_one_fetch_and_one_write(db: Db) {
    let w = World::new(db).await;
    let ada = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    w.settle().await;
    assert_eq!(w.erp.requests(Op::Create), 1);

    // Five edits in the CRM while nothing is worked: five webhooks queue up for one record.
    for name in ["Ada L", "Ada Lo", "Ada Lov", "Ada Love", "Ada Lovelace"] {
        w.crm
            .user_update(CONTACTS, &ada.id, json!({"full_name": name}));
    }
    let delivered = w.deliver(CRM).await;
    assert_eq!(delivered.len(), 5);
    let (gets, updates) = (w.crm.requests(Op::Get), w.erp.requests(Op::Update));

    w.run().await;

    assert_eq!(w.crm.requests(Op::Get) - gets, 1, "one fetch of the record");
    assert_eq!(
        w.erp.requests(Op::Update) - updates,
        1,
        "one write to the ERP"
    );
    assert_eq!(w.erp.records("customers")[0].body["name"], "Ada Lovelace");
    assert_eq!(w.queue_depth().await, 0, "nothing is owed any more");

    // The four later observations are in the log, each named by the group that settled them.
    let stream = first_stream(CRM, &ada.id);
    let recorded = w.store().read_stream(stream, 1, i64::MAX).await.unwrap();
    let observed: Vec<_> = recorded
        .iter()
        .filter(|e| {
            matches!(SyncEvent::from_recorded(e), Ok(SyncEvent::ChangeObserved(o)) if o.system == CRM)
        })
        .map(|e| e.event_id)
        .collect();
    assert_eq!(
        observed.len(),
        6,
        "the create's webhook and the five edits'"
    );
    let covers: Vec<_> = recorded
        .iter()
        .filter_map(|e| match SyncEvent::from_recorded(e) {
            Ok(SyncEvent::InputsGathered(inputs)) if !inputs.covers.is_empty() => {
                Some((inputs.trigger_id, inputs.covers))
            }
            _ => None,
        })
        .collect();
    assert_eq!(covers, vec![(observed[1], observed[2..].to_vec())]);
}

async fn an_observation_recorded_after_the_fetch_gets_its_own_fetch(db: Db) {
    let w = World::new(db).await;
    let ada = w.crm.user_create(
        CONTACTS,
        json!({"full_name": "Ada", "email": "ada@example.com"}),
    );
    w.settle().await;
    w.crm
        .user_update(CONTACTS, &ada.id, json!({"full_name": "Ada L"}));
    w.deliver(CRM).await;
    let gets = w.crm.requests(Op::Get);
    w.run().await;
    // Changed again after that fetch: its own webhook, its own fetch and write.
    w.crm
        .user_update(CONTACTS, &ada.id, json!({"full_name": "Ada Lovelace"}));
    w.deliver(CRM).await;
    w.run().await;
    assert_eq!(w.crm.requests(Op::Get) - gets, 2);
    assert_eq!(w.erp.records("customers")[0].body["name"], "Ada Lovelace");
}

both!(
    a_new_record_synced_across_costs_one_fetch_in_all,
    five_queued_webhooks_for_one_record_cost_one_fetch_and_one_write,
    an_observation_recorded_after_the_fetch_gets_its_own_fetch,
);
