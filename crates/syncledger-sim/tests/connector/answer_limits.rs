//! What a connected system may make the connector hold or wait: an answer's size
//! (`server.max_response_bytes`) and a `429`'s `Retry-After` (`server.max_retry_after_secs`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use syncledger_connector::{Connector, ConnectorError};
use syncledger_sim::{Fault, Op, SimSystem};

use crate::support::{config, connector, crm, serve};

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn a_300_mb_answer_is_refused_as_invalid_once_past_4_mib_and_read_no_further() {
    let (sim, http) = crm().await;
    let contact = sim.user_create("contacts", json!({"email": "a@example.com"}));
    sim.fail_next(Op::Get, Fault::HugeBody(300 * MIB));

    let error = http.get("contacts", &contact.id).await.unwrap_err();

    assert_eq!(
        error,
        ConnectorError::Invalid("answer over 4 MiB".into()),
        "a permanent, typed refusal"
    );
    assert!(!error.is_transient());
    let sent = sim.huge_bytes_sent();
    assert!(
        sent < 64 * MIB,
        "the connector kept reading: {sent} bytes of the 300 MB answer were sent"
    );
    // The connection was dropped, not the connector: the next answer reads as usual.
    let again = http.get("contacts", &contact.id).await.unwrap();
    assert_eq!(again.map(|r| r.id), Some(contact.id));
}

#[tokio::test]
async fn the_answer_limit_is_configurable_and_an_ordinary_answer_under_it_reads_whole() {
    let sim = Arc::new(SimSystem::new("c"));
    let base = serve(&sim).await;
    let http = connector(syncledger_connector::HttpConnectorConfig {
        max_response_bytes: 1024,
        ..config(&base)
    });
    let small = sim.user_create("contacts", json!({"note": "x".repeat(900)}));
    let large = sim.user_create("contacts", json!({"note": "x".repeat(1100)}));

    assert!(http.get("contacts", &small.id).await.unwrap().is_some());
    let error = http.get("contacts", &large.id).await.unwrap_err();
    assert_eq!(error, ConnectorError::Invalid("answer over 1 KiB".into()));
}

/// A connector whose longest `Retry-After` is one second.
async fn capped_at_one_second() -> (Arc<SimSystem>, syncledger_connector::HttpConnector) {
    let sim = Arc::new(SimSystem::new("c"));
    let base = serve(&sim).await;
    let http = connector(syncledger_connector::HttpConnectorConfig {
        max_retry_after: Duration::from_secs(1),
        ..config(&base)
    });
    (sim, http)
}

#[tokio::test]
async fn a_retry_after_of_u64_max_seconds_is_capped_and_panics_nothing() {
    let (sim, http) = capped_at_one_second().await;
    let contact = sim.user_create("contacts", json!({"email": "a@example.com"}));
    sim.fail_next(Op::Get, Fault::RetryAfter(u64::MAX));

    let error = http.get("contacts", &contact.id).await.unwrap_err();

    assert!(error.is_transient(), "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn a_429s_system_wide_pause_is_capped_by_max_retry_after() {
    let (sim, http) = capped_at_one_second().await;
    let contact = sim.user_create("contacts", json!({"email": "a@example.com"}));
    sim.fail_next(Op::Get, Fault::RetryAfter(1_000_000_000_000));
    assert!(
        http.get("contacts", &contact.id)
            .await
            .unwrap_err()
            .is_transient()
    );

    // Uncapped, the pause would outlast any wait (the call would fail at once, and so would
    // every call to the system for 31,000 years); capped, the next call waits it out (one
    // second, within the request's five) and is answered.
    let again = http.get("contacts", &contact.id).await.unwrap();
    assert_eq!(again.map(|r| r.id), Some(contact.id));
    assert_eq!(sim.requests(Op::Get), 2);
}
