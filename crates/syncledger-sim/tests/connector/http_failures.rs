//! Transient and permanent failures, timeouts and contract violations over HTTP. Every call is
//! exactly one request: a failure comes back at once, for the engine's one retry policy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use syncledger_connector::{Connector, ConnectorError, HttpConnector};
use syncledger_sim::{Fault, Op, SimSystem};

use crate::support::{config, connector, crm, serve};

#[tokio::test]
async fn a_429_is_one_request_and_the_same_keyed_create_waits_out_the_pause() {
    let (sim, http) = crm().await;
    sim.fail_next(Op::Create, Fault::RetryAfter(1));
    let started = Instant::now();

    let error = http
        .create("contacts", &json!({"n": 1}), "k-1")
        .await
        .unwrap_err();

    assert!(error.is_transient(), "{error:?}");
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(sim.requests(Op::Create), 1);
    assert_eq!(sim.count("contacts"), 0);
    // The engine sends the same decision again with the same key. The 429 paused the system's
    // budget for its Retry-After, so this request cannot start sooner.
    let created = http
        .create("contacts", &json!({"n": 1}), "k-1")
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the second request started {:?} after the first, inside the 429's second",
        started.elapsed()
    );
    assert_eq!(created.id, "c-1");
    assert_eq!(sim.requests(Op::Create), 2);
    assert_eq!(sim.count("contacts"), 1);
    let keys: Vec<_> = sim
        .request_log()
        .into_iter()
        .map(|r| r.headers.get("idempotency-key").cloned())
        .collect();
    assert_eq!(keys, [Some("k-1".to_owned()), Some("k-1".to_owned())]);
}

fn error_body(error: &ConnectorError) -> String {
    match error {
        ConnectorError::Transient { body, .. }
        | ConnectorError::Permanent { body, .. }
        | ConnectorError::PreconditionFailed { body } => body.clone(),
        ConnectorError::Invalid(reason) => reason.clone(),
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_timeout_fails_the_next_request_at_once_without_sending_it() {
    let (sim, http) = crm().await;
    sim.fail_next(Op::Get, Fault::RetryAfter(60));

    let throttled = http.get("contacts", "c-1").await.unwrap_err();
    let started = Instant::now();
    let next = http
        .update("contacts", "c-1", &json!({"a": 1}))
        .await
        .unwrap_err();

    assert_eq!(throttled.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(throttled.status(), Some(429));
    // The pause (60 s) outlasts the request timeout (5 s): the next request does not wait for
    // it, and says how much of it is left.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(next.is_transient() && next.status().is_none(), "{next:?}");
    let left = next.retry_after().expect("the rest of the pause");
    assert!(
        left > Duration::from_secs(50) && left <= Duration::from_secs(60),
        "{left:?}"
    );
    assert_eq!(sim.requests(Op::Get), 1);
    assert_eq!(sim.requests(Op::Update), 0);
}

#[tokio::test]
async fn a_500_is_one_request_and_comes_back_transient_with_its_body() {
    let (sim, http) = crm().await;
    sim.fail_next(Op::Update, Fault::Status(500, "boom 0".into()));
    sim.fail_next(Op::Update, Fault::Status(500, "boom 1".into()));

    let error = http
        .update("contacts", "c-1", &json!({"a": 1}))
        .await
        .unwrap_err();

    assert_eq!(
        error,
        ConnectorError::Transient {
            status: Some(500),
            body: "boom 0".into(),
            retry_after: None
        }
    );
    assert_eq!(sim.requests(Op::Update), 1);
    // The second fault is still queued: nothing was sent again behind the caller's back.
    let next = http
        .update("contacts", "c-1", &json!({"a": 1}))
        .await
        .unwrap_err();
    assert_eq!(error_body(&next), "boom 1");
    assert_eq!(sim.requests(Op::Update), 2);
}

/// A system answering every request `503` with `Retry-After: 30` until `refusals` requests
/// have been refused, then `200` with a record; returns the request count and the base URL.
async fn unavailable_system(refusals: usize) -> (Arc<AtomicUsize>, String) {
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let app = Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            if seen.fetch_add(1, Ordering::SeqCst) < refusals {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "30")],
                    "maintenance",
                )
                    .into_response();
            }
            axum::Json(json!({"id": "c-1"})).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (requests, format!("http://{addr}"))
}

#[tokio::test]
async fn a_503_is_one_request_and_comes_back_transient_with_the_systems_retry_after() {
    let (requests, base) = unavailable_system(1).await;
    let http = connector(config(&base));

    let error = http.get("contacts", "c-1").await.unwrap_err();

    assert_eq!(
        error,
        ConnectorError::Transient {
            status: Some(503),
            body: "maintenance".into(),
            retry_after: Some(Duration::from_secs(30)),
        }
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    // Only a 429 pauses the system's budget: the next request goes out at once.
    let found = http.get("contacts", "c-1").await.unwrap().unwrap();
    assert_eq!(found.id, "c-1");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_400_is_permanent_with_the_body_and_one_request() {
    let (sim, http) = crm().await;
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
    assert_eq!(sim.count("contacts"), 0);
}

/// A connector that gives up after `timeout_ms`, and one with the usual timeout for the
/// follow-up calls (so they never depend on how busy the machine is).
fn impatient_and_patient(base: &str, timeout_ms: u64) -> (HttpConnector, HttpConnector) {
    let mut impatient = config(base);
    impatient.timeout = Duration::from_millis(timeout_ms);
    (connector(impatient), connector(config(base)))
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
async fn a_scripted_timeout_is_one_transient_attempt_and_applies_nothing() {
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
    assert_eq!(sim.requests(Op::Create), 1);
    assert_eq!(sim.count("contacts"), 0);
    assert!(sim.pending_webhooks().is_empty());
    let created = patient.create("contacts", &json!({}), "k-1").await.unwrap();
    assert_eq!(created.id, "c-1");
    assert_eq!(sim.requests(Op::Create), 2);
}

#[tokio::test]
async fn answers_that_break_the_contract_are_invalid() {
    let (sim, http) = crm().await;
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
    let http = connector(config(&base));

    let error = http.get("contacts", "c-1").await.unwrap_err();

    assert!(error.is_transient());
    assert_eq!(error.status(), None);
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_is_one_transient_attempt() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let http = connector(config(&base));

    let error = http
        .update("contacts", "c-1", &json!({"a": 1}))
        .await
        .unwrap_err();

    assert!(
        error.is_transient() && error.status().is_none(),
        "{error:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
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
    let http = connector(cfg);
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
