//! `/healthz`, `/readyz` and the Prometheus names of CONTRACT §9 that the service exports.
//!
//! Counters appear in a scrape only once they have counted, so the test first makes each of them
//! count: a rejected webhook, a write the ERP refuses for good (dead letter), a write that fails
//! transiently until the connector gives up (an engine retry), and successful writes.
//!
//! Not asserted because the service does not export them yet (see docs/operations.md): events
//! appended, and the sync latency histogram.

use serde_json::json;
use syncledger_sim::{Fault, Op};

use crate::harness::{Backend, STEP, World, eventually};

#[tokio::test]
async fn health_readiness_and_the_operations_metrics_are_served() {
    let world = World::new(Backend::Sqlite).await;
    let service = world.start().await;
    let health = service.get("/healthz").await.unwrap();
    assert_eq!(health.status, 200, "{health:?}");
    let ready = service.get("/readyz").await.unwrap();
    assert_eq!(ready.status, 200, "{ready:?}");

    let unsigned = service
        .post_webhook("acme", "crm", b"{}".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(unsigned.status, 401);

    world.erp.fail_next(
        Op::Create,
        Fault::Status(422, json!({"error": "vat number missing"}).to_string()),
    );
    world
        .crm_user_creates(&service, "Refused Customer", "refused@example.com")
        .await;
    eventually("the refused create is dead-lettered", STEP, async || {
        service
            .metrics()
            .await
            .value("syncledger_dead_letters_total", &[])
            >= 1.0
    })
    .await;

    // A burst of 503s: each is one request (the connector does not retry); the engine records
    // each failure with its retry time and tries again, within `server.max_attempts`.
    for _ in 0..3 {
        world
            .erp
            .fail_next(Op::Create, Fault::Status(503, "busy".into()));
    }
    world
        .crm_user_creates(&service, "Patient Customer", "patient@example.com")
        .await;
    eventually("the create gets through after a retry", STEP, async || {
        world.erp_customers("patient@example.com").len() == 1
    })
    .await;
    world.settle(&service, STEP).await;

    let m = service.metrics().await;
    let text = m.text();
    for name in [
        "syncledger_queue_depth",
        "syncledger_oldest_pending_age_seconds",
        "syncledger_decisions_total",
        "syncledger_writes_total",
        "syncledger_retries_total",
        "syncledger_dead_letters_total",
        "syncledger_webhook_rejects_total",
        "syncledger_projection_lag",
        "syncledger_webhooks_accepted_total",
        "syncledger_events_appended_total",
        "syncledger_sync_latency_seconds",
    ] {
        assert!(m.has(name), "/metrics lacks {name}:\n{text}");
    }
    assert_eq!(m.value("syncledger_queue_depth", &[]), 0.0);
    assert!(
        m.value("syncledger_sync_latency_seconds_count", &[]) >= 1.0,
        "every write that succeeded is timed: {text}"
    );
    assert!(
        m.value("syncledger_events_appended_total", &[]) >= 10.0,
        "{text}"
    );
    assert_eq!(
        m.value("syncledger_oldest_pending_age_seconds", &[]),
        0.0,
        "nothing is pending once settled"
    );
    assert!(m.value("syncledger_retries_total", &[]) >= 1.0, "{text}");
    assert_eq!(m.value("syncledger_dead_letters_total", &[]), 1.0, "{text}");
    assert!(
        m.value("syncledger_writes_total", &[("outcome", "succeeded")]) >= 1.0,
        "{text}"
    );
    assert!(
        m.value("syncledger_writes_total", &[("outcome", "retrying")]) >= 1.0,
        "{text}"
    );
    assert_eq!(
        m.value("syncledger_writes_total", &[("outcome", "failed")]),
        1.0,
        "{text}"
    );
    assert!(
        m.value("syncledger_decisions_total", &[("kind", "create")]) >= 2.0,
        "{text}"
    );
    assert_eq!(
        m.value(
            "syncledger_webhook_rejects_total",
            &[("reason", "signature")]
        ),
        1.0,
        "{text}"
    );
    assert!(
        !m.values("syncledger_projection_lag").is_empty(),
        "one lag gauge per projection:\n{text}"
    );
}
