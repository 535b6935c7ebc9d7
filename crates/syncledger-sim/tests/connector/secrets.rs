//! Configured headers reach the system, and their values appear nowhere else.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use syncledger_connector::{Connector, HttpConnector};
use syncledger_sim::{Fault, Op, SimSystem};

use crate::support::{config, connector, serve};

const SECRET: &str = "Bearer s3cr3t-t0ken-value";

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn configured_headers_arrive_on_every_request() {
    let sim = Arc::new(SimSystem::new("c"));
    let mut cfg = config(&serve(&sim).await);
    cfg.headers.insert("Authorization".into(), SECRET.into());
    cfg.headers.insert("X-Tenant".into(), "acme".into());
    let http = connector(cfg);

    http.create("contacts", &json!({}), "k").await.unwrap();
    http.get("contacts", "c-1").await.unwrap();
    http.update("contacts", "c-1", &json!({"a": 1}))
        .await
        .unwrap();
    http.list("contacts", 10, None).await.unwrap();
    http.delete("contacts", "c-1").await.unwrap();

    let log = sim.request_log();
    assert_eq!(log.len(), 5);
    for request in log {
        assert_eq!(
            request.headers.get("authorization").map(String::as_str),
            Some(SECRET)
        );
        assert_eq!(
            request.headers.get("x-tenant").map(String::as_str),
            Some("acme")
        );
    }
}

// A current-thread runtime keeps the server, the client and the subscriber on one thread, so the
// thread-local subscriber sees every log line, the libraries' included.
#[tokio::test(flavor = "current_thread")]
async fn header_values_never_reach_debug_output_errors_or_logs() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = Arc::new(SimSystem::new("c"));
    let mut cfg = config(&serve(&sim).await);
    cfg.headers.insert("Authorization".into(), SECRET.into());
    let config_debug = format!("{cfg:?}");
    let http = connector(cfg.clone());
    sim.fail_next(Op::Get, Fault::Status(503, "down".into()));
    sim.fail_next(Op::Create, Fault::Status(401, "who are you".into()));
    sim.fail_next(Op::Update, Fault::Status(500, "boom".into()));

    let unavailable = http.get("contacts", "c-1").await.unwrap_err();
    let permanent = http.create("contacts", &json!({}), "k").await.unwrap_err();
    let transient = http
        .update("contacts", "c-1", &json!({}))
        .await
        .unwrap_err();
    assert!(unavailable.is_transient() && transient.is_transient() && !permanent.is_transient());
    let mut bad = cfg.clone();
    bad.headers
        .insert("Authorization".into(), format!("{SECRET}\n"));
    let invalid = HttpConnector::new(bad).unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("connector call failed"),
        "the capture works: {logs}"
    );
    assert!(config_debug.contains("Authorization") && config_debug.contains("<redacted>"));
    for text in [
        logs,
        config_debug,
        format!("{http:?}"),
        format!("{unavailable:?} {unavailable}"),
        format!("{permanent:?} {permanent}"),
        format!("{transient:?} {transient}"),
        format!("{invalid:?} {invalid}"),
    ] {
        assert!(!text.contains("s3cr3t"), "secret leaked into: {text}");
    }
}
