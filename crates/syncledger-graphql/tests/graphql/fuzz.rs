//! Random documents through every GraphQL entry point, with every kind of token.
//!
//! Documents are random token soups (names of the schema, punctuation, strings, comments, block
//! strings, unterminated ones), random nestings of every bracket up to a few thousand deep,
//! balanced or not, and a few valid queries. Each goes over `GET`, `POST` or a graphql-ws
//! `subscribe`, with no token, a wrong one, a tenant's or the admin's. The invariant: the
//! process survives (a stack overflow would abort this test binary), HTTP answers are 200 or
//! 4xx with a JSON body, never a 5xx, and the WebSocket answers in the protocol's shapes.
//!
//! `SYNCLEDGER_FUZZ_CASES` sets the number of cases (default 128); the count is printed
//! (`-- --nocapture`). The test runs on the test thread, whose stack is the 2 MiB a tokio
//! worker has.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as Runner, TestRunner};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::subscription::{Socket, connect, send, serve};
use crate::support::{ACME, ADMIN, App};

pub fn fuzz_cases(default: u32) -> u32 {
    std::env::var("SYNCLEDGER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

const WORDS: &[&str] = &[
    "projections",
    "name",
    "events",
    "edges",
    "node",
    "cursor",
    "first",
    "after",
    "__schema",
    "types",
    "__typename",
    "entity",
    "id",
    "history",
    "query",
    "mutation",
    "subscription",
    "eventAppended",
    "rebuildProjection",
    "fragment",
    "on",
    "Query",
    "...",
    "$v",
    "@include(if: true)",
    ":",
    ",",
    "=",
    "!",
    "|",
    "&",
    "1",
    "-2.5e3",
    "true",
    "null",
    "\"s\"",
    "\"\\\"\"",
    "\"\"\"b\"\"\"",
    "# c\n",
    "\"unterminated",
    "\\",
    "\"\\u{1b}\"",
    "\u{0}",
    "é",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
];

fn soup() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        select(WORDS).prop_map(String::from),
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        "\\PC{0,6}",
    ];
    leaf.prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(|v| v.join(" ")),
            (
                select(&[("{", "}"), ("[", "]"), ("(", ")")][..]),
                proptest::collection::vec(inner, 0..4)
            )
                .prop_map(|((open, close), v)| format!("{open}{}{close}", v.join(" "))),
        ]
    })
}

fn deep() -> impl Strategy<Value = String> {
    (
        1usize..4_000,
        select(&["{", "[", "(", "{a:", "[[", "{ a "][..]),
        any::<bool>(),
        soup(),
    )
        .prop_map(|(depth, open, balanced, inside)| {
            let close: String = open
                .chars()
                .rev()
                .filter_map(|c| match c {
                    '{' => Some('}'),
                    '[' => Some(']'),
                    '(' => Some(')'),
                    _ => None,
                })
                .collect();
            let closers = if balanced {
                close.repeat(depth)
            } else {
                String::new()
            };
            format!(
                "{{ projections(x: {}{inside}{closers}) {{ name }} }}",
                open.repeat(depth)
            )
        })
}

fn document() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => soup(),
        2 => deep(),
        1 => select(&[
            "{ projections { name checkpoint } }",
            "query Q($n: Int) { events(first: $n) { edges { cursor } } }",
            "subscription { eventAppended { type } }",
            "mutation { rebuildProjection(name: \"entity_state\") { name } }",
            "{ __schema { types { name } } }",
        ][..])
        .prop_map(String::from),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Get,
    Post,
    WebSocket,
}

fn token() -> impl Strategy<Value = Option<&'static str>> {
    select(
        &[
            None,
            Some("wrong-token-0123456789"),
            Some(ACME),
            Some(ADMIN),
        ][..],
    )
}

fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn over_http(
    app: &App,
    route: Route,
    token: Option<&str>,
    document: &str,
) -> Result<(), String> {
    let mut request = match route {
        Route::Get => Request::get(format!("/graphql?query={}", encoded(document))),
        _ => Request::post("/graphql").header(header::CONTENT_TYPE, "application/json"),
    };
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match route {
        Route::Get => Body::empty(),
        _ => Body::from(json!({"query": document}).to_string()),
    };
    let (status, body) = app.send(request.body(body).unwrap()).await;
    if status != StatusCode::OK && !status.is_client_error() {
        return Err(format!("{route:?} answered {status}: {body}"));
    }
    if body.get("data").is_none() && body.get("errors").is_none() {
        return Err(format!(
            "{route:?} answered a body that is not a GraphQL response: {body}"
        ));
    }
    Ok(())
}

/// The next message within a bound only a broken server reaches; `Err` with the close code.
async fn message(socket: &mut Socket) -> Result<Value, Option<u16>> {
    let read = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Text(text)) => return Ok(serde_json::from_str(&text).unwrap()),
                Ok(Message::Close(frame)) => return Err(frame.map(|f| u16::from(f.code))),
                Ok(_) => {}
                Err(_) => return Err(None),
            }
        }
        Err(None)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server answered")
}

async fn over_websocket(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    document: &str,
) -> Result<(), String> {
    let mut socket = connect(addr, "graphql-transport-ws").await;
    let payload = token.map_or(json!({}), |t| json!({"token": t}));
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    let valid = matches!(token, Some(t) if t == ACME || t == ADMIN);
    match (message(&mut socket).await, valid) {
        (Ok(ack), true) if ack["type"] == "connection_ack" => {}
        (Err(Some(4403)), false) => return Ok(()),
        (other, _) => return Err(format!("connection_init with {token:?} answered {other:?}")),
    }
    send(
        &mut socket,
        json!({"type": "subscribe", "id": "1", "payload": {"query": document}}),
    )
    .await;
    send(&mut socket, json!({"type": "ping"})).await;
    loop {
        match message(&mut socket).await {
            Ok(m) if m["type"] == "pong" => return Ok(()),
            Ok(m) if m["type"] == "error" => {
                if m["payload"][0]["extensions"]["code"].as_str().is_none() {
                    return Err(format!("an error without a code: {m}"));
                }
            }
            Ok(m) if m["type"] == "next" || m["type"] == "complete" => {}
            other => return Err(format!("subscribe answered {other:?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_documents_on_every_route_and_token_never_crash_nor_answer_5xx() {
    let app = Arc::new(App::sqlite().await);
    let addr = serve(&app).await;
    let cases = fuzz_cases(128);
    let strategy = (
        select(&[Route::Get, Route::Post, Route::WebSocket][..]),
        token(),
        document(),
    );
    let mut runner = TestRunner::new(Runner {
        cases,
        failure_persistence: None,
        ..Runner::default()
    });
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(route, token, document)| {
            let outcome = handle.block_on(async {
                match route {
                    Route::WebSocket => over_websocket(addr, token, &document).await,
                    _ => over_http(&app, route, token, &document).await,
                }
            });
            prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("fuzz: graphql entry points: {cases} cases passed");
}
