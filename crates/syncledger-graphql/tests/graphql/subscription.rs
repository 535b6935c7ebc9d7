//! `eventAppended` over a real WebSocket, in both graphql-ws dialects, with tenant scoping.
//!
//! The client subscribes after a known position (`afterPosition`), so what it must receive does
//! not depend on when the server got round to starting the subscription.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use syncledger_core::events::Action;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::both;
use crate::recorder::Recorder;
use crate::support::{ACME, App};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn serve(app: &App) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

pub(crate) async fn connect(addr: std::net::SocketAddr, protocol: &str) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws handshake");
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

pub(crate) async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next text message (skipping keep-alives), within a bound that only a broken server hits.
pub(crate) async fn next(socket: &mut Socket) -> Option<Value> {
    let read = async {
        while let Some(message) = socket.next().await {
            match message.ok()? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] != "ka" && value["type"] != "ping" {
                        return Some(value);
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server answered")
}

async fn subscribe_and_receive(app: App, protocol: &str, start: &str, data: &str) {
    let addr = serve(&app).await;
    let mut socket = connect(addr, protocol).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {ACME}")}}),
    )
    .await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");

    let head = app.store.head().await.unwrap().0;
    let query = "subscription($after: Int) { eventAppended(types: [\"ChangeObserved\"], afterPosition: $after) { type tenant explanation payload } }";
    send(&mut socket, json!({"id": "1", "type": start, "payload": {"query": query, "variables": {"after": head}}})).await;

    // Another tenant's change first: an acme subscriber must never see it.
    Recorder::new(&app.store, app.context.config(), "globex")
        .observe("crm", "g-1", Action::Created, "g-evt-1")
        .await;
    Recorder::new(&app.store, app.context.config(), "acme")
        .observe("crm", "c-42", Action::Updated, "crm-evt-9")
        .await;

    let message = next(&mut socket).await.unwrap();
    assert_eq!(message["type"], data, "{message}");
    assert_eq!(message["id"], "1");
    let event = &message["payload"]["data"]["eventAppended"];
    assert_eq!(
        (event["type"].as_str(), event["tenant"].as_str()),
        (Some("ChangeObserved"), Some("acme"))
    );
    assert_eq!(event["payload"]["webhook_event_id"], "crm-evt-9");
    assert!(
        event["explanation"]
            .as_str()
            .unwrap()
            .contains("crm contact c-42 updated")
    );
}

async fn a_subscriber_receives_its_tenants_events_over_graphql_transport_ws(app: App) {
    subscribe_and_receive(app, "graphql-transport-ws", "subscribe", "next").await;
}

async fn a_subscriber_receives_its_tenants_events_over_the_legacy_graphql_ws(app: App) {
    subscribe_and_receive(app, "graphql-ws", "start", "data").await;
}

async fn a_connection_without_a_valid_token_is_refused(app: App) {
    let addr = serve(&app).await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}),
    )
    .await;
    let answer = next(&mut socket).await;
    assert!(
        answer
            .as_ref()
            .is_none_or(|m| m["type"] != "connection_ack"),
        "{answer:?}"
    );
}

both!(
    a_subscriber_receives_its_tenants_events_over_graphql_transport_ws,
    a_subscriber_receives_its_tenants_events_over_the_legacy_graphql_ws,
    a_connection_without_a_valid_token_is_refused,
);
