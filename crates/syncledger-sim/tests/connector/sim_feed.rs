//! The simulated system's change feed, pauses and in-process face.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use syncledger_connector::Connector;
use syncledger_sim::{Fault, Op, SimSystem, WebhookAction};

use crate::support::{config, connector, serve};

#[tokio::test]
async fn the_webhook_of_an_api_write_is_out_before_the_answer() {
    let sim = Arc::new(SimSystem::new("E"));
    let http = connector(config(&serve(&sim).await));
    let mut paused = sim.pause_next(Op::Create);

    let write = tokio::spawn(async move {
        http.create("customers", &json!({"email": "a@x"}), "k-1")
            .await
    });
    let applied = paused.applied().await.expect("the create was applied");

    let outbox = sim.pending_webhooks();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].action, WebhookAction::Created);
    assert_eq!(outbox[0].record_id, applied.id);
    assert!(!write.is_finished(), "the write answered while paused");
    paused.release();
    let answered = write.await.unwrap().unwrap();
    assert_eq!(answered, applied);
}

#[tokio::test]
async fn every_change_is_announced_in_order_whoever_made_it() {
    let start: DateTime<Utc> = "2026-11-21T10:00:00Z".parse().unwrap();
    let sim = SimSystem::with_logical_clock("c", start, Duration::from_millis(5));

    let ada = sim.user_create("contacts", json!({"full_name": "Ada"}));
    sim.update("contacts", &ada.id, &json!({"full_name": "Ada L."}))
        .await
        .unwrap();
    let bob = sim
        .create("contacts", &json!({"full_name": "Bob"}), "k")
        .await
        .unwrap();
    sim.user_update("contacts", &bob.id, json!({"phone": "1"}))
        .unwrap();
    sim.delete("contacts", &ada.id).await.unwrap();
    assert!(!sim.user_delete("contacts", &ada.id));
    assert!(
        sim.user_update("contacts", &ada.id, json!({"a": 1}))
            .is_none()
    );

    let feed: Vec<_> = sim
        .drain_webhooks()
        .into_iter()
        .map(|w| (w.event_id, w.action, w.record_id, w.occurred_at))
        .collect();
    let at = |ms| start + chrono::TimeDelta::milliseconds(ms);
    assert_eq!(
        feed,
        [
            ("c-ev-1".into(), WebhookAction::Created, "c-1".into(), at(0)),
            ("c-ev-2".into(), WebhookAction::Updated, "c-1".into(), at(5)),
            (
                "c-ev-3".into(),
                WebhookAction::Created,
                "c-2".into(),
                at(10)
            ),
            (
                "c-ev-4".into(),
                WebhookAction::Updated,
                "c-2".into(),
                at(15)
            ),
            (
                "c-ev-5".into(),
                WebhookAction::Deleted,
                "c-1".into(),
                at(20)
            ),
        ]
    );
    assert!(sim.drain_webhooks().is_empty());
    // User changes are not API requests.
    assert_eq!(sim.requests(Op::Create), 1);
}

#[tokio::test]
async fn webhooks_serialise_as_the_contract_shows() {
    let start: DateTime<Utc> = "2026-11-21T10:00:00.123Z".parse().unwrap();
    let sim = SimSystem::with_logical_clock("c", start, Duration::from_millis(1));
    sim.user_create("contacts", json!({}));

    let body = serde_json::to_value(&sim.drain_webhooks()[0]).unwrap();

    assert_eq!(
        body,
        json!({"event_id": "c-ev-1", "collection": "contacts", "action": "created",
               "record_id": "c-1", "occurred_at": "2026-11-21T10:00:00.123Z"})
    );
}

#[tokio::test]
async fn a_lost_response_applies_the_write_but_the_caller_sees_a_timeout() {
    let sim = SimSystem::new("E");
    sim.fail_next(Op::Create, Fault::LostResponse);

    let error = sim
        .create("customers", &json!({"n": 1}), "k-1")
        .await
        .unwrap_err();

    assert!(error.is_transient());
    assert_eq!(sim.count("customers"), 1);
    assert_eq!(sim.pending_webhooks().len(), 1);
    let resolved = sim
        .create("customers", &json!({"n": 1}), "k-1")
        .await
        .unwrap();
    assert_eq!(resolved.id, "E-1");
    assert_eq!(sim.count("customers"), 1);
}

#[tokio::test]
async fn a_dropped_caller_leaves_the_paused_write_applied() {
    let sim = Arc::new(SimSystem::new("E"));
    let mut paused = sim.pause_next(Op::Update);
    let id = sim.user_create("customers", json!({"name": "A"})).id;

    let caller = {
        let (sim, id) = (sim.clone(), id.clone());
        tokio::spawn(async move { sim.update("customers", &id, &json!({"name": "B"})).await })
    };
    paused.applied().await.unwrap();
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());

    assert_eq!(sim.record("customers", &id).unwrap().body["name"], "B");
    assert_eq!(sim.drain_webhooks().len(), 2);
}

#[tokio::test]
async fn the_in_process_face_answers_each_transient_fault_in_one_call() {
    let sim = SimSystem::new("c");
    sim.fail_next(Op::Get, Fault::Status(503, "busy".into()));
    sim.fail_next(Op::Get, Fault::Timeout);
    let id = sim.user_create("contacts", json!({"email": "a@x"})).id;

    let busy = sim.get("contacts", &id).await.unwrap_err();
    let timed_out = sim.get("contacts", &id).await.unwrap_err();
    let found = sim.get("contacts", &id).await.unwrap().unwrap();

    assert!(
        busy.is_transient() && busy.status() == Some(503),
        "{busy:?}"
    );
    assert!(
        timed_out.is_transient() && timed_out.status().is_none(),
        "{timed_out:?}"
    );
    assert_eq!(found.body["email"], "a@x");
    assert_eq!(sim.requests(Op::Get), 3);
    assert_eq!(
        sim.find_by_field("contacts", "email", &json!("a@x")),
        [found]
    );
}

#[tokio::test]
async fn queued_faults_are_met_in_order_by_their_operation_only() {
    let sim = SimSystem::new("c");
    sim.fail_next(Op::Delete, Fault::Status(500, "first".into()));
    sim.fail_next(Op::Delete, Fault::Status(409, "second".into()));
    let id = sim.user_create("contacts", json!({})).id;

    assert!(sim.get("contacts", &id).await.unwrap().is_some());
    assert_eq!(
        sim.delete("contacts", &id).await.unwrap_err().status(),
        Some(500)
    );
    assert_eq!(
        sim.delete("contacts", &id).await.unwrap_err().status(),
        Some(409)
    );
    sim.delete("contacts", &id).await.unwrap();
    assert_eq!(sim.count("contacts"), 0);
}
