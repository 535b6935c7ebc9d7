//! Random webhooks through the whole HTTP router: bodies (bytes, objects and batches with
//! hostile ids, control characters, wrong types), signatures (valid, wrong, missing, malformed),
//! tenants and systems (known or not), declared lengths. The invariant: no panic, a status of
//! CONTRACT §2 and never a 5xx, and a rejected request records nothing (the log's head does not
//! move).
//!
//! `SYNCLEDGER_FUZZ_CASES` sets the number of cases (default 128); the count is printed
//! (`cargo test -p syncledger-api --test webhook_fuzz -- --nocapture`).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as Runner, TestRunner};
use serde_json::{Value, json};
use syncledger_api::{AppState, router};
use syncledger_engine::{EngineSettings, Ledger};
use syncledger_test_support::{ExampleConfig, TestDb};
use tower::ServiceExt;

struct NoConnectors;

impl syncledger_engine::Connectors for NoConnectors {
    fn get(&self, _: &str, _: &str) -> Option<Arc<dyn syncledger_connector::Connector>> {
        None
    }
}

fn cases() -> u32 {
    std::env::var("SYNCLEDGER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128)
}

fn record_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => "[a-z0-9-]{1,12}".prop_map(Value::from),
        1 => select(
            &[
                "",
                ".",
                "..",
                "..\t",
                "c-1\t",
                "c-1\r\n",
                "a/b",
                "%2e%2e",
                "\u{1b}[2J",
                "\u{0}"
            ][..]
        )
        .prop_map(Value::from),
        1 => "\\PC{0,20}".prop_map(Value::from),
        1 => (1usize..6000).prop_map(|n| Value::from("x".repeat(n))),
        1 => Just(Value::from(42)),
        1 => Just(Value::Null),
    ]
}

fn webhook() -> impl Strategy<Value = Value> {
    (
        "[a-z0-9-]{0,10}",
        prop_oneof![4 => Just("contacts"), 4 => Just("customers"), 1 => Just("orders"), 1 => Just("")],
        prop_oneof![3 => Just("created"), 3 => Just("updated"), 3 => Just("deleted"), 1 => Just("moved")],
        record_id(),
        prop_oneof![8 => Just("2026-11-21T10:00:00.123Z"), 1 => Just("yesterday"), 1 => Just("")],
        any::<u8>(),
    )
        .prop_map(|(event, collection, action, id, at, drop)| {
            let mut hook = json!({"event_id": event, "collection": collection, "action": action,
                "record_id": id, "occurred_at": at});
            let keys = [
                "event_id",
                "collection",
                "action",
                "record_id",
                "occurred_at",
            ];
            if drop < 20 {
                hook.as_object_mut()
                    .unwrap()
                    .remove(keys[drop as usize % 5]);
            }
            hook
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => webhook().prop_map(|w| w.to_string().into_bytes()),
        2 => proptest::collection::vec(webhook(), 0..4).prop_map(|b| Value::from(b).to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => (1usize..3).prop_map(|n| format!("{}1{}", "[".repeat(n * 1000), "]".repeat(n * 1000)).into_bytes()),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Signature {
    Valid,
    Wrong,
    Missing,
    Malformed,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_webhooks_never_crash_never_5xx_and_rejections_record_nothing() {
    let db = TestDb::sqlite();
    let config = Arc::new(
        ExampleConfig {
            admin_token: "fuzz-admin-token-0123".into(),
            api_token: "fuzz-acme-token-0123".into(),
            server: "database_url = \"sqlite://unused.db\"\nwebhook_body_limit = 4096".into(),
            ..ExampleConfig::default()
        }
        .parse(),
    );
    let store = db.open_for(&config).await;
    let ledger = Ledger::new(
        store.clone(),
        config,
        Arc::new(NoConnectors),
        EngineSettings::default(),
    );
    let app = router(AppState {
        ledger,
        metrics: None,
        accepting: Arc::new(AtomicBool::new(true)),
    });
    let strategy = (
        prop_oneof![8 => Just("acme"), 1 => Just("nobody"), 1 => Just("ACME")],
        prop_oneof![4 => Just("crm"), 4 => Just("erp"), 1 => Just("marketing")],
        body(),
        prop_oneof![
            6 => Just(Signature::Valid),
            1 => Just(Signature::Wrong),
            1 => Just(Signature::Missing),
            1 => Just(Signature::Malformed),
        ],
        prop_oneof![8 => Just(None), 1 => (0u64..10_000).prop_map(Some)],
    );
    let cases = cases();
    let mut runner = TestRunner::new(Runner {
        cases,
        failure_persistence: None,
        ..Runner::default()
    });
    let handle = tokio::runtime::Handle::current();
    let statuses = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(tenant, system, body, signature, declared)| {
            handle.block_on(async {
                let secret = if system == "erp" {
                    "erp-webhook-secret-01"
                } else {
                    "crm-webhook-secret-01"
                };
                let mut request = Request::post(format!("/webhooks/{tenant}/{system}"))
                    .header("content-type", "application/json");
                request = match signature {
                    Signature::Valid => request.header(
                        "x-signature",
                        syncledger_connector::sign(secret.as_bytes(), &body),
                    ),
                    Signature::Wrong => {
                        request.header("x-signature", syncledger_connector::sign(b"wrong", &body))
                    }
                    Signature::Missing => request,
                    Signature::Malformed => request.header("x-signature", "sha256=zz"),
                };
                if let Some(length) = declared.filter(|&n| n > 4096) {
                    request = request.header("content-length", length);
                }
                let before = store.head().await.unwrap();
                let response = app
                    .clone()
                    .oneshot(request.body(Body::from(body)).unwrap())
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let after = store.head().await.unwrap();
                *statuses.lock().unwrap().entry(status).or_default() += 1;
                prop_assert!(
                    [202, 400, 401, 404, 413].contains(&status),
                    "status {status}"
                );
                if status != 202 {
                    prop_assert_eq!(
                        before,
                        after,
                        "a rejected webhook ({}) recorded events",
                        status
                    );
                }
                Ok(())
            })
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let statuses = statuses.into_inner().unwrap();
    eprintln!("fuzz: webhooks through the router: {cases} cases passed (statuses: {statuses:?})");
}
