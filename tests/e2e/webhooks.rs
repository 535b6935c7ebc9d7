//! CONTRACT §2 against the running binary: every rejection's status, and that a rejected request
//! records nothing while an accepted one (or a whole batch) is recorded once.
//!
//! "Records nothing" is observed from outside three ways: the CRM sees no GET (the ledger fetches
//! the origin record for every observed change it works), the pending queue stays empty, and
//! `syncledger_webhooks_accepted_total` does not move. A redelivery's "no new event" is observed
//! through per-entity log order (G9): a later change of the same record is worked after anything
//! recorded before it, so once it has reached the ERP, a recorded duplicate would have cost the
//! CRM one more GET.

use serde_json::{Value, json};
use syncledger_connector::sign;
use syncledger_sim::{Op, Webhook};

use crate::harness::{
    Backend, CRM_SECRET, ERP_SECRET, STEP, TENANT, World, eventually, on_both_backends,
};
use crate::service::Service;

on_both_backends!(webhook_rejections_record_nothing_and_acceptance_records_once);

async fn webhook_rejections_record_nothing_and_acceptance_records_once(backend: Backend) {
    let world = World::new(backend).await;
    let service = world.start().await;
    let contact = world.crm.user_create(
        "contacts",
        json!({"full_name": "Ada Lovelace", "email": "ada@example.com"}),
    );
    let hook = world.crm.drain_webhooks().remove(0);
    let body = serde_json::to_vec(&hook).unwrap();

    rejections_record_nothing(&world, &service, &hook).await;

    let accepted = service.post_signed("crm", body.clone()).await.unwrap();
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert_eq!(accepted.body["recorded"], 1, "{accepted:?}");
    eventually("the contact reaches the ERP", STEP, async || {
        world.erp_customers("ada@example.com").len() == 1
    })
    .await;

    let again = service.post_signed("crm", body).await.unwrap();
    assert_eq!(
        again.status, 202,
        "the same event_id again is still accepted: {again:?}"
    );
    assert_eq!(
        again.body,
        json!({"recorded": 0, "duplicates": 1}),
        "no new event for a redelivery"
    );

    world
        .crm_user_renames(&service, &contact.id, "Ada King")
        .await;
    let erp_id = world.erp_customers("ada@example.com")[0].id.clone();
    eventually("the rename reaches the ERP", STEP, async || {
        world.erp_name(&erp_id) == "Ada King"
    })
    .await;
    // A record seen for the first time is fetched once (recorded before it is decided, so a
    // twin with equal match keys finds it, and decided on that same fetch: G8,
    // docs/races.md), every later change once.
    assert_eq!(
        crm_gets(&world, &contact.id),
        2,
        "one fetch for the create, one for the rename: the redelivery recorded nothing"
    );
    assert_eq!(
        service
            .metrics()
            .await
            .value("syncledger_webhooks_accepted_total", &[]),
        2.0
    );

    // A batch is recorded whole: both notices, in one 202.
    world.crm.user_create(
        "contacts",
        json!({"full_name": "Alan Turing", "email": "alan@example.com"}),
    );
    world.crm.user_create(
        "contacts",
        json!({"full_name": "Grace Hopper", "email": "grace@example.com"}),
    );
    let batch = world.crm.drain_webhooks();
    assert_eq!(batch.len(), 2);
    let reply = service.deliver("crm", &batch).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(reply.body, json!({"recorded": 2, "duplicates": 0}));
    eventually(
        "both contacts of the batch reach the ERP",
        STEP,
        async || {
            world.erp_customers("alan@example.com").len() == 1
                && world.erp_customers("grace@example.com").len() == 1
        },
    )
    .await;
    assert_eq!(
        service
            .metrics()
            .await
            .value("syncledger_webhooks_accepted_total", &[]),
        4.0
    );

    // CONTRACT §3: secrets never appear in logs, not even around signature failures.
    let log = service.log_text();
    for secret in [
        CRM_SECRET,
        ERP_SECRET,
        "Bearer crm-token",
        "e2e-admin-secret",
        "e2e-acme-read-token",
    ] {
        assert!(
            !log.contains(secret),
            "the service log shows the secret {secret:?}"
        );
    }
}

/// CONTRACT §2 keys redeliveries on `event_id` alone, so a sender that stamps a redelivery with
/// another `occurred_at` must not get a second observed change (and a second sync of it).
#[tokio::test]
async fn a_redelivery_with_another_occurred_at_records_no_new_event() {
    let world = World::new(Backend::Sqlite).await;
    let service = world.start().await;
    world.crm.user_create(
        "contacts",
        json!({"full_name": "Ada Lovelace", "email": "ada@example.com"}),
    );
    let hook = world.crm.drain_webhooks().remove(0);
    let first = service
        .post_signed("crm", serde_json::to_vec(&hook).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (first.status, &first.body),
        (202, &json!({"recorded": 1, "duplicates": 0}))
    );

    let restamped = with(&hook, "occurred_at", json!("2026-01-01T00:00:00Z"));
    let again = service.post_signed("crm", restamped).await.unwrap();
    assert_eq!(
        (again.status, &again.body),
        (202, &json!({"recorded": 0, "duplicates": 1})),
        "the same event_id with another occurred_at is a redelivery"
    );
}

async fn rejections_record_nothing(world: &World, service: &Service, hook: &Webhook) {
    let body = serde_json::to_vec(hook).unwrap();
    let crm_signed = Some(sign(CRM_SECRET.as_bytes(), &body));

    let wrong_key = service
        .post_webhook(
            TENANT,
            "crm",
            body.clone(),
            Some(sign(ERP_SECRET.as_bytes(), &body)),
        )
        .await
        .unwrap();
    assert_eq!(wrong_key.status, 401, "bad signature: {wrong_key:?}");
    let unsigned = service
        .post_webhook(TENANT, "crm", body.clone(), None)
        .await
        .unwrap();
    assert_eq!(unsigned.status, 401, "missing signature: {unsigned:?}");
    let tampered = service
        .post_webhook(TENANT, "crm", body.clone(), Some("sha256=00".into()))
        .await
        .unwrap();
    assert_eq!(tampered.status, 401, "malformed signature: {tampered:?}");

    let tenant = service
        .post_webhook("globex", "crm", body.clone(), crm_signed.clone())
        .await
        .unwrap();
    assert_eq!(tenant.status, 404, "unknown tenant: {tenant:?}");
    let system = service
        .post_webhook(TENANT, "billing", body.clone(), crm_signed)
        .await
        .unwrap();
    assert_eq!(system.status, 404, "unknown system: {system:?}");
    let collection = service
        .post_signed("crm", with(hook, "collection", json!("invoices")))
        .await
        .unwrap();
    assert_eq!(collection.status, 404, "unknown collection: {collection:?}");

    let not_json = service
        .post_signed("crm", br#"{"event_id": "c-ev-1", "#.to_vec())
        .await
        .unwrap();
    assert_eq!(not_json.status, 400, "malformed JSON: {not_json:?}");
    assert!(
        not_json.message().contains("JSON"),
        "the body says what is wrong: {not_json:?}"
    );
    let missing = service
        .post_signed("crm", with(hook, "record_id", Value::Null))
        .await
        .unwrap();
    assert_eq!(missing.status, 400, "missing field: {missing:?}");
    assert!(
        missing.message().contains("record_id"),
        "the body names the missing field: {missing:?}"
    );
    let action = service
        .post_signed("crm", with(hook, "action", json!("merged")))
        .await
        .unwrap();
    assert_eq!(action.status, 400, "unknown action: {action:?}");

    // Ids are data, never path (docs/connector.md): an id that could steer a request to another
    // URL, or one over `server.max_record_id_bytes`, is refused with a reason.
    let long = "x".repeat(1025);
    for (id, why) in [
        ("..", "dot segment"),
        (".", "dot segment"),
        ("c-1\t", "control character"),
        ("..\t", "control character"),
        (long.as_str(), "over the limit of 1024"),
    ] {
        let hostile = service
            .post_signed("crm", with(hook, "record_id", json!(id)))
            .await
            .unwrap();
        assert_eq!(hostile.status, 400, "record id {id:?}: {hostile:?}");
        assert!(
            hostile.message().contains("record_id") && hostile.message().contains(why),
            "the body says what is wrong with the id: {hostile:?}"
        );
    }

    let mut huge = serde_json::to_vec(&json!({"padding": "x".repeat(1024 * 1024)})).unwrap();
    huge.truncate(1024 * 1024 + 1);
    let too_large = service.post_signed("crm", huge).await.unwrap();
    assert_eq!(too_large.status, 413, "over 1 MiB: {too_large:?}");

    // One bad notice rejects its whole batch: the good one beside it is not recorded either.
    let bad_one =
        serde_json::from_slice::<Value>(&with(hook, "collection", json!("invoices"))).unwrap();
    let batch = serde_json::to_vec(&json!([hook, bad_one])).unwrap();
    let mixed = service.post_signed("crm", batch).await.unwrap();
    assert_eq!(
        mixed.status, 404,
        "a batch with an unknown collection: {mixed:?}"
    );

    let m = service.metrics().await;
    assert_eq!(
        m.value("syncledger_webhooks_accepted_total", &[]),
        0.0,
        "a rejection was recorded:\n{}",
        m.text()
    );
    assert_eq!(
        m.value("syncledger_queue_depth", &[]),
        0.0,
        "a rejection queued work:\n{}",
        m.text()
    );
    assert_eq!(
        m.value(
            "syncledger_webhook_rejects_total",
            &[("reason", "signature")]
        ),
        3.0,
        "{}",
        m.text()
    );
    assert_eq!(
        m.value("syncledger_webhook_rejects_total", &[("reason", "unknown")]),
        4.0,
        "{}",
        m.text()
    );
    assert_eq!(
        m.value(
            "syncledger_webhook_rejects_total",
            &[("reason", "malformed")]
        ),
        8.0,
        "{}",
        m.text()
    );
    assert_eq!(
        crm_gets(world, &hook.record_id),
        0,
        "a rejected webhook made the ledger fetch the record"
    );
}

/// `hook` as JSON with `field` set to `value`, or removed when `value` is null.
fn with(hook: &Webhook, field: &str, value: Value) -> Vec<u8> {
    let mut json = serde_json::to_value(hook).unwrap();
    let object = json.as_object_mut().unwrap();
    match value {
        Value::Null => object.remove(field),
        value => object.insert(field.to_string(), value),
    };
    serde_json::to_vec(&json).unwrap()
}

fn crm_gets(world: &World, record_id: &str) -> usize {
    world
        .crm
        .request_log()
        .iter()
        .filter(|r| r.op == Op::Get && r.record_id.as_deref() == Some(record_id))
        .count()
}
