//! The perimeter of the API: the token is checked before anything is parsed, no document reaches
//! the parser unbounded on any transport, and the WebSocket caps subscriptions and connections.
//! Every refusal is a GraphQL error with a stable `extensions.code`.
//!
//! These need no stored data, so they run on SQLite only.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use serde_json::{Value, json};
use syncledger_graphql::limits::{
    MAX_BODY_BYTES, MAX_CONNECTIONS_PER_TOKEN, MAX_NESTING, MAX_QUERY_BYTES,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
};
use tokio_tungstenite::tungstenite::Message;

use crate::subscription::{Socket, connect, next, send, serve};
use crate::support::{ACME, ADMIN, App, codes};

/// A query whose argument is a list nested `depth` deep: far past what a worker's stack holds
/// when `depth` is in the thousands.
fn nested_list(depth: usize) -> String {
    format!(
        "{{ projections(x: {}1{}) {{ name }} }}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn get(query: &str, token: Option<&str>) -> Request<Body> {
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    let mut request = Request::get(format!("/graphql?query={encoded}"))
        .header(header::ACCEPT, "application/graphql-response+json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

fn post(body: impl Into<Body>, token: &str, length: Option<usize>) -> Request<Body> {
    let mut request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(length) = length {
        request = request.header(header::CONTENT_LENGTH, length);
    }
    request.body(body.into()).unwrap()
}

#[tokio::test]
async fn a_deep_document_without_a_token_is_401_before_anything_is_parsed() {
    let app = App::sqlite().await;
    let (status, body) = app.send(get(&nested_list(5_000), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(codes(&body), vec!["UNAUTHENTICATED"]);
}

#[tokio::test]
async fn deep_and_long_documents_are_refused_before_the_parser_over_get_and_post() {
    let app = App::sqlite().await;
    let deep = nested_list(5_000);
    let (status, body) = app.send(get(&deep, Some(ACME))).await;
    assert_eq!(
        (status, codes(&body)),
        (StatusCode::BAD_REQUEST, vec!["QUERY_TOO_DEEP".into()])
    );

    let body = json!({"query": deep}).to_string();
    let (status, body) = app.send(post(body, ACME, None)).await;
    assert_eq!(
        (status, codes(&body)),
        (StatusCode::BAD_REQUEST, vec!["QUERY_TOO_DEEP".into()])
    );

    let long = format!(
        "{{ projections {{ name }} }}{}",
        " ".repeat(MAX_QUERY_BYTES)
    );
    let (status, body) = app
        .send(post(json!({"query": long}).to_string(), ACME, None))
        .await;
    assert_eq!(
        (status, codes(&body)),
        (StatusCode::BAD_REQUEST, vec!["QUERY_TOO_LARGE".into()])
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_the_graphql_shape_declared_or_not() {
    let app = App::sqlite().await;
    // Declared: refused from the header, with no body sent at all.
    let (status, body) = app
        .send(post(Body::empty(), ACME, Some(MAX_BODY_BYTES + 1)))
        .await;
    assert_eq!(
        (status, codes(&body)),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            vec!["PAYLOAD_TOO_LARGE".into()]
        )
    );
    // Undeclared: refused once the limit is crossed while reading.
    let huge = format!(r#"{{"query": "{}"}}"#, " ".repeat(MAX_BODY_BYTES));
    let (status, body) = app.send(post(huge, ACME, None)).await;
    assert_eq!(
        (status, codes(&body)),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            vec!["PAYLOAD_TOO_LARGE".into()]
        )
    );
}

/// The documents at the edge of the limits, as parser-hungry as they can be made.
fn edge_documents() -> Vec<(&'static str, String)> {
    let braces = MAX_NESTING - 2;
    let mut fragments = String::from("query { ...f0 }");
    let mut n = 0;
    loop {
        let next = format!(" fragment f{n} on Query {{ ...f{} }}", n + 1);
        if fragments.len() + next.len() + 64 > MAX_QUERY_BYTES {
            break;
        }
        fragments.push_str(&next);
        n += 1;
    }
    fragments.push_str(&format!(" fragment f{n} on Query {{ __typename }}"));
    vec![
        ("nested lists", nested_list(braces)),
        (
            "nested objects",
            format!(
                "{{ projections(x: {}1{}) {{ name }} }}",
                "{a: ".repeat(braces),
                "}".repeat(braces)
            ),
        ),
        (
            "nested selections",
            format!(
                "{}__typename{}",
                "{ a ".repeat(MAX_NESTING),
                "}".repeat(MAX_NESTING)
            ),
        ),
        (
            "nested list types",
            format!(
                "query($v: {}Int{}) {{ __typename }}",
                "[".repeat(MAX_NESTING - 1),
                "]".repeat(MAX_NESTING - 1)
            ),
        ),
        ("a chain of fragments", fragments),
        (
            "many operations",
            "query q { __typename } ".repeat(MAX_QUERY_BYTES / 24),
        ),
    ]
}

/// What the limits let through runs on a thread with the 2 MiB stack tokio gives its workers,
/// in a debug build (which uses more stack per call than a release build): if the parser or the
/// validation ever needs more, this aborts the test binary.
#[test]
fn the_documents_the_limits_let_through_run_on_a_default_worker_stack() {
    let thread = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let app = App::sqlite().await;
                for (what, query) in edge_documents() {
                    assert!(
                        query.len() <= MAX_QUERY_BYTES,
                        "{what}: {} bytes",
                        query.len()
                    );
                    syncledger_graphql::limits::check(&query)
                        .unwrap_or_else(|e| panic!("{what} must be allowed: {e:?}"));
                    let body = json!({"query": query}).to_string();
                    let (status, _) = app.send(post(body, ADMIN, None)).await;
                    assert!(
                        status == StatusCode::OK || status.is_client_error(),
                        "{what}: {status}"
                    );
                }
            })
        })
        .unwrap();
    thread.join().expect("the edge documents ran");
}

async fn init(socket: &mut Socket, token: &str) -> Option<Value> {
    send(
        socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    next(socket).await
}

fn subscribe(id: &str, query: &str) -> Value {
    json!({"type": "subscribe", "id": id, "payload": {"query": query}})
}

const EVENTS: &str = "subscription { eventAppended { type } }";

#[tokio::test]
async fn a_deep_subscription_is_an_error_for_its_id_and_the_connection_goes_on() {
    let app = App::sqlite().await;
    let addr = serve(&app).await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    assert_eq!(
        init(&mut socket, ACME).await.unwrap()["type"],
        "connection_ack"
    );
    let deep = format!(
        "subscription {{ eventAppended(types: {}\"a\"{}) {{ type }} }}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    send(&mut socket, subscribe("deep", &deep)).await;
    let error = next(&mut socket).await.expect("an error message");
    assert_eq!(
        (error["type"].as_str(), error["id"].as_str()),
        (Some("error"), Some("deep"))
    );
    assert_eq!(error["payload"][0]["extensions"]["code"], "QUERY_TOO_DEEP");
    // Still open: a ping is answered.
    send(&mut socket, json!({"type": "ping"})).await;
    let pong = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("an answer")
        .expect("open")
        .expect("a message");
    assert!(matches!(pong, Message::Text(t) if t.contains("pong")));
}

#[tokio::test]
async fn subscriptions_per_connection_are_capped_and_freed_by_complete() {
    let app = App::sqlite().await;
    let addr = serve(&app).await;
    let mut socket = connect(addr, "graphql-transport-ws").await;
    assert_eq!(
        init(&mut socket, ACME).await.unwrap()["type"],
        "connection_ack"
    );
    for i in 0..MAX_SUBSCRIPTIONS_PER_CONNECTION {
        send(&mut socket, subscribe(&i.to_string(), EVENTS)).await;
    }
    send(&mut socket, subscribe("one-too-many", EVENTS)).await;
    let error = next(&mut socket).await.expect("an error message");
    assert_eq!(error["id"], "one-too-many");
    assert_eq!(
        error["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );

    // Completing one makes room for exactly one more.
    send(&mut socket, json!({"type": "complete", "id": "0"})).await;
    send(&mut socket, subscribe("again", EVENTS)).await;
    send(&mut socket, subscribe("again-too-many", EVENTS)).await;
    let complete = next(&mut socket).await.expect("the complete of 0");
    assert_eq!(
        (complete["type"].as_str(), complete["id"].as_str()),
        (Some("complete"), Some("0"))
    );
    let error = next(&mut socket).await.expect("an error message");
    assert_eq!(error["id"], "again-too-many", "{error}");
}

/// The close code and reason the server ends the connection with.
async fn close_of(socket: &mut Socket) -> (u16, String) {
    let read = async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Close(Some(frame))) = message {
                return (u16::from(frame.code), frame.reason.to_string());
            }
        }
        panic!("the connection ended without a close frame");
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the server closed")
}

#[tokio::test]
async fn connections_per_token_are_capped_and_a_bad_token_is_refused() {
    let app = App::sqlite().await;
    let addr = serve(&app).await;
    let mut open = Vec::new();
    for _ in 0..MAX_CONNECTIONS_PER_TOKEN {
        let mut socket = connect(addr, "graphql-transport-ws").await;
        assert_eq!(
            init(&mut socket, ACME).await.unwrap()["type"],
            "connection_ack"
        );
        open.push(socket);
    }
    let mut extra = connect(addr, "graphql-transport-ws").await;
    send(
        &mut extra,
        json!({"type": "connection_init", "payload": {"token": ACME}}),
    )
    .await;
    let (code, reason) = close_of(&mut extra).await;
    assert_eq!(code, 4403);
    assert!(reason.contains("connections per token"), "{reason}");

    // Another caller is counted on its own.
    let mut admin = connect(addr, "graphql-transport-ws").await;
    assert_eq!(
        init(&mut admin, ADMIN).await.unwrap()["type"],
        "connection_ack"
    );

    let mut wrong = connect(addr, "graphql-transport-ws").await;
    send(
        &mut wrong,
        json!({"type": "connection_init", "payload": {"token": "not-a-token-at-all"}}),
    )
    .await;
    assert_eq!(close_of(&mut wrong).await.0, 4403);

    let mut early = connect(addr, "graphql-transport-ws").await;
    send(&mut early, subscribe("1", EVENTS)).await;
    assert_eq!(
        close_of(&mut early).await.0,
        4401,
        "subscribe before connection_init"
    );
}
