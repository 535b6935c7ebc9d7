//! The webhook pump: signed, ordered, retried while the receiver is unavailable.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use syncledger_connector::{ConnectorError, verify};
use syncledger_sim::{SimSystem, WebhookSender};
use tokio::sync::{mpsc, oneshot};

const SECRET: &[u8] = b"crm-secret";

#[derive(Clone)]
struct Receiver {
    /// How many requests to refuse with 503 before accepting.
    unavailable: Arc<Mutex<u32>>,
    accepted: mpsc::UnboundedSender<Value>,
}

async fn receive(
    State(rx): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap) {
    let signature = headers.get("x-signature").and_then(|v| v.to_str().ok());
    if !verify(SECRET, &body, signature) {
        return (StatusCode::UNAUTHORIZED, HeaderMap::new());
    }
    {
        let mut unavailable = rx.unavailable.lock().unwrap();
        if *unavailable > 0 {
            *unavailable -= 1;
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", "0".parse().unwrap());
            return (StatusCode::SERVICE_UNAVAILABLE, headers);
        }
    }
    rx.accepted
        .send(serde_json::from_slice(&body).unwrap())
        .unwrap();
    (StatusCode::ACCEPTED, HeaderMap::new())
}

async fn receiver(unavailable: u32) -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Receiver {
        unavailable: Arc::new(Mutex::new(unavailable)),
        accepted: tx,
    };
    let app = Router::new()
        .route("/webhooks/acme/crm", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/acme/crm",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

#[tokio::test]
async fn the_pump_delivers_signed_webhooks_in_order_through_unavailability() {
    let (url, mut accepted) = receiver(2).await;
    let sim = Arc::new(SimSystem::new("c"));
    let sender = WebhookSender::new(url, SECRET).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let pump = {
        let sim = sim.clone();
        tokio::spawn(async move {
            sender
                .run(&sim, async { stopped.await.unwrap_or(()) })
                .await;
        })
    };

    let id = sim.user_create("contacts", json!({"n": 1})).id;
    sim.user_update("contacts", &id, json!({"n": 2}));
    sim.user_delete("contacts", &id);
    let mut actions = Vec::new();
    for _ in 0..3 {
        let webhook = accepted.recv().await.unwrap();
        assert_eq!(webhook["record_id"], "c-1");
        actions.push(webhook["action"].as_str().unwrap().to_owned());
    }
    stop.send(()).unwrap();
    pump.await.unwrap();

    assert_eq!(actions, ["created", "updated", "deleted"]);
    assert!(sim.pending_webhooks().is_empty());
}

#[tokio::test]
async fn a_batch_goes_as_one_signed_array() {
    let (url, mut accepted) = receiver(0).await;
    let sim = SimSystem::new("c");
    sim.user_create("contacts", json!({}));
    sim.user_create("contacts", json!({}));
    let sender = WebhookSender::new(url, SECRET).unwrap();

    sender.send(&sim.drain_webhooks()).await.unwrap();

    let batch = accepted.recv().await.unwrap();
    let ids: Vec<_> = batch
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["record_id"].clone())
        .collect();
    assert_eq!(ids, [json!("c-1"), json!("c-2")]);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_for_good() {
    let (url, _accepted) = receiver(0).await;
    let sim = SimSystem::new("c");
    sim.user_create("contacts", json!({}));
    let sender = WebhookSender::new(url, b"wrong".to_vec()).unwrap();

    let error = sender.send(&sim.drain_webhooks()).await.unwrap_err();

    assert!(matches!(
        error,
        ConnectorError::Permanent { status: 401, .. }
    ));
    assert!(!format!("{sender:?}").contains("wrong"));
}
