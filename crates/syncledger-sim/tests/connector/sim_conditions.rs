//! The simulated system's standing conditions: a whole-system outage that ends, a latency on
//! every call, and a request log that can be switched off for long runs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use syncledger_connector::Connector;
use syncledger_sim::{Op, SimSystem};

use crate::support::{config, connector, serve};

#[tokio::test]
async fn a_system_that_is_down_refuses_every_request_until_it_comes_back() {
    let sim = Arc::new(SimSystem::new("E"));
    let http = connector(config(&serve(&sim).await));
    let existing = sim.user_create("customers", json!({"email": "a@x"}));
    sim.drain_webhooks();

    sim.set_down(Some(503));
    let refused = sim.get("customers", &existing.id).await.unwrap_err();
    assert_eq!(refused.status(), Some(503));
    assert!(refused.is_transient());
    let over_http = http.get("customers", &existing.id).await.unwrap_err();
    assert_eq!(over_http.status(), Some(503));
    let create = sim
        .create("customers", &json!({"email": "b@x"}), "k-1")
        .await;
    assert!(create.is_err(), "a create while down is refused");
    assert_eq!(sim.count("customers"), 1, "nothing was applied");
    assert!(sim.drain_webhooks().is_empty(), "and nothing announced");
    // A user of the system still works meanwhile; the webhook goes to the outbox.
    sim.user_update("customers", &existing.id, json!({"name": "Ada"}));
    assert_eq!(sim.drain_webhooks().len(), 1);

    sim.set_down(None);
    let back = sim.get("customers", &existing.id).await.unwrap().unwrap();
    assert_eq!(back.body["name"], "Ada");
    assert!(
        sim.requests(Op::Get) >= 3,
        "refused requests are counted too"
    );
}

#[tokio::test(start_paused = true)]
async fn every_call_waits_the_latency_before_it_is_handled() {
    let sim = SimSystem::new("c");
    let record = sim.user_create("contacts", json!({"email": "a@x"}));
    sim.set_latency(Duration::from_millis(50));
    let before = tokio::time::Instant::now();
    sim.get("contacts", &record.id).await.unwrap();
    assert_eq!(before.elapsed(), Duration::from_millis(50));
    sim.set_latency(Duration::ZERO);
    let again = tokio::time::Instant::now();
    sim.get("contacts", &record.id).await.unwrap();
    assert_eq!(again.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn an_unlogged_system_counts_requests_without_keeping_them() {
    let sim = SimSystem::new("c");
    let record = sim.user_create("contacts", json!({"email": "a@x"}));
    sim.keep_request_log(false);
    for _ in 0..3 {
        sim.get("contacts", &record.id).await.unwrap();
    }
    assert!(sim.request_log().is_empty());
    assert_eq!(sim.requests(Op::Get), 3);
    sim.keep_request_log(true);
    sim.get("contacts", &record.id).await.unwrap();
    assert_eq!(sim.request_log().len(), 1);
}
