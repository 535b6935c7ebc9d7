//! Transient and permanent failures, retries, timeouts and contract violations over HTTP.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use syncledger_connector::{Connector, ConnectorError, HttpConnector, RetryPolicy};
use syncledger_sim::{Fault, Op, SimSystem};

use crate::support::{POLICY, config, connector, crm, serve};

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let (sim, http, sleeper) = crm().await;
    sim.fail_next(Op::Create, Fault::RetryAfter(2));

    let created = http
        .create("contacts", &json!({"n": 1}), "k-1")
        .await
        .unwrap();

    assert_eq!(created.id, "c-1");
    assert_eq!(sim.requests(Op::Create), 2);
    assert_eq!(sleeper.waits(), [Duration::from_secs(2)]);
    assert_eq!(sim.count("contacts"), 1);
}

#[tokio::test]
async fn a_retry_after_beyond_max_delay_is_handed_back_without_waiting() {
    let (sim, http, sleeper) = crm().await;
    sim.fail_next(Op::Get, Fault::RetryAfter(60));

    let error = http.get("contacts", "c-1").await.unwrap_err();

    assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(error.status(), Some(429));
    assert_eq!(sim.requests(Op::Get), 1);
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn a_500_is_retried_with_jittered_backoff_then_given_up_as_transient() {
    let (sim, http, sleeper) = crm().await;
    for n in 0..5 {
        sim.fail_next(Op::Update, Fault::Status(500, format!("boom {n}")));
    }

    let error = http
        .update("contacts", "c-1", &json!({"a": 1}))
        .await
        .unwrap_err();

    // The last attempt's answer is the one handed back.
    assert_eq!(
        error,
        ConnectorError::Transient {
            status: Some(500),
            body: "boom 2".into(),
            retry_after: None
        }
    );
    assert_eq!(sim.requests(Op::Update), POLICY.max_attempts as usize);
    let waits = sleeper.waits();
    assert_eq!(waits.len(), POLICY.max_attempts as usize - 1);
    for (n, wait) in waits.iter().enumerate() {
        assert!(
            *wait <= POLICY.ceiling(n as u32 + 1),
            "wait {n} was {wait:?}"
        );
    }
}

#[tokio::test]
async fn a_400_is_permanent_with_the_body_and_not_retried() {
    let (sim, http, sleeper) = crm().await;
    sim.fail_next(Op::Create, Fault::Status(400, "email is invalid".into()));

    let error = http
        .create("contacts", &json!({}), "k-1")
        .await
        .unwrap_err();

    assert_eq!(
        error,
        ConnectorError::Permanent {
            status: 400,
            body: "email is invalid".into()
        }
    );
    assert_eq!(sim.requests(Op::Create), 1);
    assert!(sleeper.waits().is_empty());
    assert_eq!(sim.count("contacts"), 0);
}

/// A connector that gives up after `timeout_ms`, with no retry, and one with the usual timeout
/// for the follow-up calls (so they never depend on how busy the machine is).
fn impatient_and_patient(base: &str, timeout_ms: u64) -> (HttpConnector, HttpConnector) {
    let mut impatient = config(base);
    impatient.timeout = Duration::from_millis(timeout_ms);
    impatient.retry = RetryPolicy::no_retry();
    (connector(impatient).0, connector(config(base)).0)
}

#[tokio::test]
async fn a_write_paused_beyond_the_timeout_is_transient_and_its_retry_creates_nothing_new() {
    let sim = Arc::new(SimSystem::new("E"));
    let (impatient, patient) = impatient_and_patient(&serve(&sim).await, 200);
    let mut paused = sim.pause_next(Op::Create);

    let error = impatient
        .create("customers", &json!({"n": 1}), "k-1")
        .await
        .unwrap_err();

    assert!(error.is_transient(), "{error:?}");
    assert_eq!(error.status(), None);
    let applied = paused.applied().await.unwrap();
    paused.release();
    // The engine retries the same decision with the same key: the first create is answered.
    let retried = patient
        .create("customers", &json!({"n": 1}), "k-1")
        .await
        .unwrap();
    assert_eq!(retried, applied);
    assert_eq!(sim.count("customers"), 1);
    assert_eq!(sim.requests(Op::Create), 2);
}

#[tokio::test]
async fn a_scripted_timeout_is_transient_and_applies_nothing() {
    let sim = Arc::new(SimSystem::new("c"));
    let (impatient, patient) = impatient_and_patient(&serve(&sim).await, 100);
    sim.fail_next(Op::Create, Fault::Timeout);

    let error = impatient
        .create("contacts", &json!({}), "k-1")
        .await
        .unwrap_err();

    assert!(
        error.is_transient() && error.status().is_none(),
        "{error:?}"
    );
    assert_eq!(sim.count("contacts"), 0);
    assert!(sim.pending_webhooks().is_empty());
    let created = patient.create("contacts", &json!({}), "k-1").await.unwrap();
    assert_eq!(created.id, "c-1");
    assert_eq!(sim.requests(Op::Create), 2);
}

#[tokio::test]
async fn answers_that_break_the_contract_are_invalid() {
    let (sim, http, _) = crm().await;
    sim.fail_next(Op::Get, Fault::Status(200, r#"{"name": "no id"}"#.into()));
    sim.fail_next(Op::Get, Fault::Status(200, "<html>".into()));
    sim.fail_next(Op::Get, Fault::Status(302, "moved".into()));

    let no_id = http.get("contacts", "c-1").await.unwrap_err();
    let not_json = http.get("contacts", "c-1").await.unwrap_err();

    assert!(
        matches!(no_id, ConnectorError::Invalid(ref m) if m.contains("\"id\"")),
        "{no_id:?}"
    );
    assert!(matches!(not_json, ConnectorError::Invalid(ref m) if m.contains("not JSON")));
    let redirect = http.get("contacts", "c-1").await.unwrap_err();
    assert!(matches!(redirect, ConnectorError::Invalid(ref m) if m.contains("302")));
    assert_eq!(sim.requests(Op::Get), 3);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (http, sleeper) = connector(config(&base));

    let error = http.get("contacts", "c-1").await.unwrap_err();

    assert!(error.is_transient());
    assert_eq!(error.status(), None);
    assert_eq!(sleeper.waits().len(), POLICY.max_attempts as usize - 1);
}

#[tokio::test]
async fn shutting_the_http_face_down_ends_scripted_hangs() {
    let sim = Arc::new(SimSystem::new("c"));
    sim.fail_next(Op::Get, Fault::Timeout);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(syncledger_sim::serve_http_with_shutdown(
        sim.clone(),
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let mut cfg = config(&base);
    cfg.timeout = Duration::from_secs(60);
    cfg.retry = RetryPolicy::no_retry();
    let (http, _) = connector(cfg);
    let call = tokio::spawn(async move { http.get("contacts", "c-1").await });
    // Wait (by polling state, not by guessing a duration) until the request is hanging.
    while sim.requests(Op::Get) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    stop.send(()).unwrap();

    server.await.unwrap().unwrap();
    let error = call.await.unwrap().unwrap_err();
    assert!(error.is_transient());
    assert_eq!(error.status(), Some(504));
}
