//! The GraphQL API as the binary serves it (CONTRACT §7): tokens come from the configuration
//! file, a synced record's audit trail is readable, `eventAppended` streams over `/graphql/ws`,
//! and an open subscription does not keep SIGTERM from ending the process.
//!
//! The GraphQL crate tests its schema in depth; these only check the wiring of the real binary.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::{Backend, STEP, World, eventually};
use crate::service::Service;

const TENANT_TOKEN: &str = "e2e-acme-read-token";
const ADMIN_TOKEN: &str = "e2e-admin-secret";

const TRAIL: &str = r#"query($id: String!) {
  entityByRecord(tenant: "acme", system: "crm", recordId: $id) {
    entityType
    links { system recordId }
    history(first: 100) { edges { node { type explanation } } }
  }
}"#;

async fn query(service: &Service, token: Option<&str>, query: &str, variables: Value) -> Value {
    let reply = service
        .post_json(
            "/graphql",
            token,
            &json!({"query": query, "variables": variables}),
        )
        .await;
    reply.body
}

#[tokio::test]
async fn a_synced_records_audit_trail_is_served_over_graphql_to_the_configured_tokens() {
    let world = World::new(Backend::Sqlite).await;
    let service = world.start().await;
    let ada = world
        .crm_user_creates(&service, "Ada Lovelace", "ada@example.com")
        .await;
    eventually("Ada reaches the ERP", STEP, async || {
        world.erp_customers("ada@example.com").len() == 1
    })
    .await;
    world.settle(&service, STEP).await;
    let erp_id = world.erp_customers("ada@example.com")[0].id.clone();

    for token in [TENANT_TOKEN, ADMIN_TOKEN] {
        let answer = query(&service, Some(token), TRAIL, json!({"id": ada.id})).await;
        let entity = &answer["data"]["entityByRecord"];
        assert_eq!(entity["entityType"], "customer", "{answer}");
        let links = entity["links"].as_array().expect("links");
        assert!(
            links.contains(&json!({"system": "erp", "recordId": erp_id})),
            "{answer}"
        );
        let history = entity["history"]["edges"].as_array().expect("history");
        let types: Vec<&str> = history
            .iter()
            .filter_map(|e| e["node"]["type"].as_str())
            .collect();
        // The write request travels in its decision (`DecisionMade.write`).
        for wanted in ["ChangeObserved", "DecisionMade", "WriteSucceeded"] {
            assert!(
                types.contains(&wanted),
                "{wanted} is missing from the trail: {types:?}"
            );
        }
        assert!(
            !types.contains(&"WriteRequested"),
            "no separate write request: {types:?}"
        );
        assert!(
            history.iter().all(|e| e["node"]["explanation"]
                .as_str()
                .is_some_and(|s| !s.is_empty())),
            "{answer}"
        );
    }

    for token in [None, Some("not-a-token"), Some("e2e-crm-webhook-secret-01")] {
        let answer = query(&service, token, TRAIL, json!({"id": ada.id})).await;
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "token {token:?}: {answer}"
        );
        assert!(
            answer["data"]["entityByRecord"].is_null(),
            "token {token:?}: {answer}"
        );
    }
}

#[tokio::test]
async fn event_appended_streams_over_websocket_and_sigterm_still_exits_with_it_open() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = world.start().await;
    let mut request = service
        .url("/graphql/ws")
        .replacen("http://", "ws://", 1)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket handshake");

    let send = |v: Value| Message::Text(v.to_string().into());
    socket.send(send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {TENANT_TOKEN}")}}))).await.unwrap();
    let subscription = r#"subscription { eventAppended(tenant: "acme", types: ["ChangeObserved"], afterPosition: 0) { type tenant } }"#;
    socket
        .send(send(
            json!({"id": "1", "type": "subscribe", "payload": {"query": subscription}}),
        ))
        .await
        .unwrap();
    let mut messages = Vec::new();
    world
        .crm_user_creates(&service, "Ada Lovelace", "ada@example.com")
        .await;
    let streamed = tokio::time::timeout(STEP, async {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).unwrap();
            messages.push(value.clone());
            if value["type"] == "next" {
                return value;
            }
        }
        panic!("the socket closed before an event arrived: {messages:?}");
    })
    .await
    .expect("an event within the bound");
    assert_eq!(
        streamed["payload"]["data"]["eventAppended"],
        json!({"type": "ChangeObserved", "tenant": "acme"})
    );

    service.sigterm();
    let status = service
        .exit_within(Duration::from_secs(5))
        .await
        .expect("the service exits within 5 s of SIGTERM with a subscription open");
    assert!(status.success(), "exit status {status:?}");
    let after = tokio::time::timeout(STEP, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        after.is_ok(),
        "the subscription's socket is closed once the process is gone"
    );
}
