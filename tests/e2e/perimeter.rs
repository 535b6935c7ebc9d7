//! The HTTP and WebSocket perimeter against a tenant's token and careless clients (issue 27,
//! findings 1 and 5 to 8): every WebSocket message of both protocols bounded before the library
//! parses it, slow and idle connections cut off, a connection cap that still answers `/healthz`,
//! WebSockets that never say `connection_init` closed with `4408`, a shutdown with a deadline, and
//! a 413 that a client writing its whole body first can read.
//!
//! Waits are bounded by [`OUTER`], a generous limit on something the server must do by itself
//! (close, answer, exit); no test asserts how fast.

use std::io::{Read, Write};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::{Backend, STEP, World, eventually};
use crate::service::Service;

const TENANT_TOKEN: &str = "e2e-acme-read-token";
/// How long the server may take to do, by itself, what a test waits for.
const OUTER: Duration = Duration::from_secs(30);

/// `serve` on the world's configuration with `keys` added to `[server]`.
async fn serve_with(world: &World, keys: &str) -> Service {
    let text = std::fs::read_to_string(world.dir.path().join("syncledger.toml"))
        .expect("the world's config")
        .replace("[server]\n", &format!("[server]\n{keys}\n"));
    let path = world.dir.path().join("perimeter.toml");
    std::fs::write(&path, text).expect("writing the config");
    Service::spawn(&path, world.dir.path().join("perimeter.log")).await
}

fn addr(service: &Service) -> String {
    service.url("").replace("http://", "")
}

/// The process still runs and `/healthz` answers 200.
async fn still_up(service: &mut Service) {
    assert!(
        service.exit_within(Duration::ZERO).await.is_none(),
        "the service died:\n{}",
        service.log_text()
    );
    let health = service.get("/healthz").await.expect("/healthz answers");
    assert_eq!(health.status, 200);
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn websocket(service: &Service, protocol: &str) -> Socket {
    let mut request = service
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .expect("a ws request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("ws handshake")
        .0
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("ws send");
}

/// The next text message as JSON, keep-alives (`ka`) skipped; fails if the connection closes.
async fn receive(socket: &mut Socket) -> Value {
    let read = async {
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message.expect("ws receive") {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                if value["type"] != "ka" {
                    return value;
                }
            }
        }
        panic!("the connection closed");
    };
    tokio::time::timeout(STEP, read)
        .await
        .expect("an answer in time")
}

async fn init(socket: &mut Socket) {
    let payload = json!({"Authorization": format!("Bearer {TENANT_TOKEN}")});
    send(
        socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    assert_eq!(receive(socket).await["type"], "connection_ack");
}

/// The probe's query: a list argument nested 3,000 deep, no variables.
fn deep_subscription() -> String {
    format!(
        "subscription {{ eventAppended(types: {}\"a\"{}) {{ position }} }}",
        "[".repeat(3_000),
        "]".repeat(3_000)
    )
}

const SMALL: &str =
    r#"subscription { eventAppended(types: ["ChangeObserved"]) { position type } }"#;

/// Issue 27, finding 1, step by step: a second `start` with a running id, 3,000 deep.
#[tokio::test]
async fn a_start_reusing_a_running_id_is_bounded_over_graphql_ws() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = world.start().await;
    let mut socket = websocket(&service, "graphql-ws").await;
    init(&mut socket).await;
    let start = |query: &str| json!({"type": "start", "id": "1", "payload": {"query": query}});
    send(&mut socket, start(SMALL)).await;
    send(&mut socket, start(&deep_subscription())).await;
    let error = receive(&mut socket).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "1", "{error}");
    assert_eq!(
        error["payload"]["extensions"]["code"], "QUERY_TOO_DEEP",
        "{error}"
    );
    still_up(&mut service).await;
    // The connection goes on, and subscription 1 with it.
    world
        .crm_user_creates(&service, "Ada", "ada@example.com")
        .await;
    let data = receive(&mut socket).await;
    assert_eq!((&data["type"], &data["id"]), (&json!("data"), &json!("1")));
    assert_eq!(
        data["payload"]["data"]["eventAppended"]["type"],
        "ChangeObserved"
    );
}

/// The same over graphql-transport-ws: the bound comes before the duplicate-id rule.
#[tokio::test]
async fn a_subscribe_reusing_a_running_id_is_bounded_over_graphql_transport_ws() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = world.start().await;
    let mut socket = websocket(&service, "graphql-transport-ws").await;
    init(&mut socket).await;
    let subscribe =
        |id: &str, query: &str| json!({"type": "subscribe", "id": id, "payload": {"query": query}});
    send(&mut socket, subscribe("1", SMALL)).await;
    send(&mut socket, subscribe("1", &deep_subscription())).await;
    let error = receive(&mut socket).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "1", "{error}");
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "QUERY_TOO_DEEP",
        "{error}"
    );
    // A deep document in a message the library would not even parse is refused all the same.
    send(&mut socket, subscribe("2", &deep_subscription())).await;
    let error = receive(&mut socket).await;
    assert_eq!(
        (&error["type"], &error["id"]),
        (&json!("error"), &json!("2"))
    );
    still_up(&mut service).await;
    world
        .crm_user_creates(&service, "Ada", "ada@example.com")
        .await;
    let next = receive(&mut socket).await;
    assert_eq!((&next["type"], &next["id"]), (&json!("next"), &json!("1")));
}

/// Reads until the server closes the connection (EOF or reset) and returns what it sent, or
/// `None` if it is still open after [`OUTER`].
async fn until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut answer = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(OUTER, read).await.ok()?;
    Some(String::from_utf8_lossy(&answer).into_owned())
}

/// Sends `request` on a new connection and reads the answer's head (through the blank line).
async fn head_of(service: &Service, request: &str) -> String {
    let mut stream = TcpStream::connect(addr(service)).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(OUTER, read).await.expect("an answer");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether the server has left this connection open (nothing to read, no EOF).
fn open(stream: &TcpStream) -> bool {
    let mut buffer = [0u8; 1];
    matches!(stream.try_read(&mut buffer), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off_at_their_timeouts() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = serve_with(
        &world,
        "header_read_timeout_secs = 1\nbody_read_timeout_secs = 1",
    )
    .await;
    let mut idle = TcpStream::connect(addr(&service)).await.expect("connect");
    let mut headers = TcpStream::connect(addr(&service)).await.expect("connect");
    headers
        .write_all(b"POST /webhooks/acme/crm HTTP/1.1\r\nHost: ledger\r\n")
        .await
        .expect("half a head");
    let mut body = TcpStream::connect(addr(&service)).await.expect("connect");
    body.write_all(
        b"POST /webhooks/acme/crm HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n[{\"event_id\"",
    )
    .await
    .expect("a head and the start of a body");

    until_closed(&mut idle)
        .await
        .expect("an idle connection is closed");
    until_closed(&mut headers)
        .await
        .expect("a connection holding half its headers is closed");
    let answer = until_closed(&mut body)
        .await
        .expect("a connection holding half its body is closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(answer.contains("\"timeout\""), "{answer:?}");
    still_up(&mut service).await;
}

/// A request in progress, proven so: its headers ask `Expect: 100-continue`, and the server's
/// `100 Continue` shows the handler is reading its body, of which it then gets 8 bytes of 1,000.
async fn busy_connection(service: &Service) -> TcpStream {
    let mut stream = TcpStream::connect(addr(service)).await.expect("connect");
    stream
        .write_all(
            b"POST /webhooks/acme/crm HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .expect("a head");
    let mut answer = Vec::new();
    let read = async {
        let mut buffer = [0u8; 256];
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(OUTER, read).await.expect("an answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 100"), "{answer:?}");
    stream.write_all(b"[{\"event").await.expect("a little body");
    stream
}

#[tokio::test]
async fn at_the_connection_cap_idle_ones_make_room_and_past_busy_ones_healthz_still_answers() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = serve_with(
        &world,
        "max_connections = 4\nheader_read_timeout_secs = 600\nbody_read_timeout_secs = 600",
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr(&service)).await.expect("connect"));
    }
    // Four idle connections hold every slot: the next one is served, in the oldest one's slot.
    let health = head_of(&service, "GET /healthz HTTP/1.1\r\nHost: ledger\r\n\r\n").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health:?}");
    until_closed(&mut idle[0])
        .await
        .expect("the connection idle the longest is closed");

    // Four requests in progress take every slot, closing the idle connections to get them.
    let mut busy = Vec::new();
    for _ in 0..4 {
        busy.push(busy_connection(&service).await);
    }
    for stream in &mut idle[1..] {
        until_closed(stream)
            .await
            .expect("an idle connection makes room for a request");
    }
    let webhook = "POST /webhooks/acme/crm HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n\
                   Content-Length: 2\r\n\r\n{}";
    let refused = head_of(&service, webhook).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused:?}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1\r\n"),
        "{refused:?}"
    );
    let health = head_of(&service, "GET /healthz HTTP/1.1\r\nHost: ledger\r\n\r\n").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health:?}");
    still_up(&mut service).await;
    assert!(busy.iter().all(open), "a request in progress was cut off");

    // A slot freed is a slot taken: the next connection is served whole.
    busy.pop();
    eventually(
        "a connection in the freed slot is served",
        STEP,
        async || {
            let answer = head_of(&service, "GET /readyz HTTP/1.1\r\nHost: ledger\r\n\r\n").await;
            answer.starts_with("HTTP/1.1 200")
        },
    )
    .await;
}

#[tokio::test]
async fn a_websocket_that_never_sends_connection_init_is_closed_with_4408() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = serve_with(&world, "ws_init_timeout_secs = 1").await;
    // Opened first: its timeout passes before theirs, and it must stay open past it.
    let mut said_init = websocket(&service, "graphql-transport-ws").await;
    init(&mut said_init).await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let mut socket = websocket(&service, protocol).await;
        let closed = tokio::time::timeout(OUTER, async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(frame))) => return frame,
                    Some(Ok(_)) => continue,
                    other => panic!("{protocol}: no close frame: {other:?}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{protocol}: still open after {OUTER:?}"));
        let frame = closed.expect("a close frame with a code");
        assert_eq!(u16::from(frame.code), 4408, "{protocol}: {frame:?}");
        assert_eq!(frame.reason, "Connection initialisation timeout");
    }
    send(&mut said_init, json!({"type": "ping"})).await;
    assert_eq!(receive(&mut said_init).await["type"], "pong");
    still_up(&mut service).await;
}

#[tokio::test]
async fn sigterm_exits_while_clients_hold_half_their_headers_and_half_their_body() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = serve_with(
        &world,
        "shutdown_timeout_secs = 1\nheader_read_timeout_secs = 600\nbody_read_timeout_secs = 600",
    )
    .await;
    let mut headers = TcpStream::connect(addr(&service)).await.expect("connect");
    headers
        .write_all(b"POST /webhooks/acme/crm HTTP/1.1\r\nHost: ledger\r\n")
        .await
        .expect("half a head");
    let mut body = TcpStream::connect(addr(&service)).await.expect("connect");
    body.write_all(
        b"POST /webhooks/acme/crm HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n[{\"event_id\"",
    )
    .await
    .expect("a head and the start of a body");
    // Accepted in order: once a later connection is answered, both are being served.
    assert_eq!(service.get("/healthz").await.expect("healthz").status, 200);
    assert!(open(&headers) && open(&body));

    service.sigterm();
    let status = service
        .exit_within(OUTER)
        .await
        .expect("the service exits though two clients never finish their requests");
    assert!(status.success(), "exit status {status:?}");
}

/// What a client that writes its whole request before reading gets: the answer's first bytes,
/// or the error its write or read ended with (`EPIPE`, `ECONNRESET`).
fn write_all_then_read(addr: String, head: String, body: Vec<u8>) -> Result<String, String> {
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(OUTER)).expect("timeout");
    stream.set_read_timeout(Some(OUTER)).expect("timeout");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&body))
        .map_err(|e| format!("writing: {e}"))?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) => return Err(format!("reading: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// 2 MiB, and 8 MiB: more than loopback's socket buffers take in while nobody reads, so without
/// the lingering close the refusal is lost every time, not only when the timing is unlucky.
#[tokio::test]
async fn an_oversized_webhook_written_whole_before_reading_gets_a_readable_413() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = world.start().await;
    for size in [2 * 1024 * 1024, 8 * 1024 * 1024] {
        let payload = vec![b' '; size];
        let declared = format!(
            "POST /webhooks/acme/crm HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n\
             Content-Length: {size}\r\nConnection: close\r\n\r\n"
        );
        let mut chunked = Vec::new();
        for chunk in payload.chunks(64 * 1024) {
            chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            chunked.extend_from_slice(chunk);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let streamed = "POST /webhooks/acme/crm HTTP/1.1\r\nHost: ledger\r\n\
                        Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
                        Connection: close\r\n\r\n"
            .to_string();
        for (framing, head, body) in [
            ("declared", declared, payload),
            ("chunked", streamed, chunked),
        ] {
            let to = addr(&service);
            let answer = tokio::task::spawn_blocking(move || write_all_then_read(to, head, body))
                .await
                .expect("the client thread");
            match answer {
                Ok(answer) => assert!(
                    answer.starts_with("HTTP/1.1 413"),
                    "{size} bytes, {framing}: {answer:?}"
                ),
                Err(error) => {
                    panic!("{size} bytes, {framing}: the client got {error} instead of a 413")
                }
            }
        }
    }
    still_up(&mut service).await;
}
