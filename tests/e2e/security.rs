//! The perimeter, probed as an attacker would (issue 20): requests that used to abort the
//! process, secrets in configuration errors and trace logs, colour codes in log files, early
//! refusal of oversized bodies, response headers, and the checks `serve` runs at start.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::{Backend, CRM_SECRET, ERP_SECRET, STEP, World, eventually, on_both_backends};
use crate::service::{Service, command};

const TENANT_TOKEN: &str = "e2e-acme-read-token";
const ADMIN_TOKEN: &str = "e2e-admin-secret";

/// A query whose list argument nests `depth` deep (about 4 bytes a level once encoded).
fn nested(depth: usize) -> String {
    format!(
        "{{ projections(x: {}1{}) {{ name }} }}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The process still runs and `/healthz` answers 200.
async fn still_up(service: &mut Service) {
    assert!(
        service.exit_within(Duration::ZERO).await.is_none(),
        "the service died"
    );
    let health = service.get("/healthz").await.expect("/healthz answers");
    assert_eq!(health.status, 200);
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn websocket(service: &Service) -> Socket {
    let mut request = service
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .expect("a ws request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
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

/// The next text message as JSON.
async fn receive(socket: &mut Socket) -> Value {
    let read = async {
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message.expect("ws receive") {
                return serde_json::from_str(&text).expect("JSON");
            }
        }
        panic!("the connection closed");
    };
    tokio::time::timeout(STEP, read)
        .await
        .expect("an answer in time")
}

async fn init(socket: &mut Socket, token: &str) {
    let payload = json!({"Authorization": format!("Bearer {token}")});
    send(
        socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    assert_eq!(receive(socket).await["type"], "connection_ack");
}

#[tokio::test]
async fn deeply_nested_queries_over_get_post_and_websocket_leave_the_service_up() {
    let world = World::new(Backend::Sqlite).await;
    let mut service = world.start().await;
    let http = client();
    let deep = nested(3_000);

    // GET without a token: once enough to abort the process (issue 20, finding 1).
    let answer = http
        .get(service.url(&format!("/graphql?query={}", url_encoded(&deep))))
        .send()
        .await
        .expect("GET answers");
    assert_eq!(answer.status(), 401);
    still_up(&mut service).await;

    let answer = http
        .post(service.url("/graphql"))
        .bearer_auth(TENANT_TOKEN)
        .json(&json!({"query": deep}))
        .send()
        .await
        .expect("POST answers");
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.expect("a GraphQL error");
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_DEEP");
    still_up(&mut service).await;

    let mut socket = websocket(&service).await;
    init(&mut socket, TENANT_TOKEN).await;
    let query = format!(
        "subscription {{ eventAppended(types: {}\"a\"{}) {{ type }} }}",
        "[".repeat(3_000),
        "]".repeat(3_000)
    );
    send(
        &mut socket,
        json!({"type": "subscribe", "id": "deep", "payload": {"query": query}}),
    )
    .await;
    let error = receive(&mut socket).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["payload"][0]["extensions"]["code"], "QUERY_TOO_DEEP");
    still_up(&mut service).await;
}

/// Writes `text` as a configuration in the world's folder and runs `serve` on it, expecting it
/// to refuse to start within `STEP` (a `serve` that starts is killed and fails the test); its
/// stderr.
pub(crate) async fn refused_at_start(world: &World, name: &str, text: &str) -> String {
    let path = world.dir.path().join(name);
    std::fs::write(&path, text).expect("writing the config");
    let stderr_path = world.dir.path().join(format!("{name}.stderr"));
    let stderr = std::fs::File::create(&stderr_path).expect("creating the stderr file");
    let mut child = command(world.dir.path())
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("running serve");
    let deadline = tokio::time::Instant::now() + STEP;
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling serve") {
            break Some(status);
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stderr = read(&stderr_path);
    match status {
        Some(status) => assert!(!status.success(), "serve exited 0 on {name}: {stderr}"),
        None => panic!("serve started on {name} instead of refusing it: {stderr}"),
    }
    stderr
}

fn world_config(world: &World) -> String {
    std::fs::read_to_string(world.dir.path().join("syncledger.toml")).expect("the world's config")
}

#[tokio::test]
async fn a_toml_error_on_a_secret_line_shows_the_position_and_not_the_secret() {
    let world = World::new(Backend::Sqlite).await;
    let text = world_config(&world).replace(
        &format!("admin_token = \"{ADMIN_TOKEN}\""),
        "admin_token = \"very-secret-admin-token-value\" garbage",
    );
    let stderr = refused_at_start(&world, "broken.toml", &text).await;
    assert!(
        !stderr.contains("very-secret-admin-token-value"),
        "{stderr}"
    );
    assert!(stderr.contains("line 5, column"), "{stderr}");
}

#[tokio::test]
async fn a_short_token_is_refused_at_start_naming_its_key() {
    let world = World::new(Backend::Sqlite).await;
    let text = world_config(&world).replace(TENANT_TOKEN, "short-token");
    let stderr = refused_at_start(&world, "weak.toml", &text).await;
    assert!(
        stderr.contains("tenants[acme].api_token: is too short"),
        "{stderr}"
    );
    assert!(!stderr.contains("short-token"), "{stderr}");
}

/// The world's configuration with a second tenant whose CRM is the first tenant's CRM.
fn shared_base_url(world: &World) -> String {
    let text = world_config(world);
    let crm_url = text
        .lines()
        .find_map(|l| l.strip_prefix("base_url = "))
        .expect("a base_url")
        .to_string();
    let second = format!(
        "[[tenants]]\nid = \"globex\"\napi_token = \"e2e-globex-read-token\"\n\
         [tenants.systems.crm]\nbase_url = {}\nwebhook_secret = \"g-crm-webhook-secret-01\"\n\
         [tenants.systems.erp]\nbase_url = \"http://127.0.0.1:9\"\nwebhook_secret = \"g-erp-webhook-secret-01\"\n\n",
        crm_url.trim_end_matches('"').to_string() + "/\""
    );
    text.replace("[[entities]]", &format!("{second}[[entities]]"))
}

async fn a_shared_base_url_is_refused_at_start_unless_allowed(backend: Backend) {
    let world = World::new(backend).await;
    let shared = shared_base_url(&world);
    let stderr = refused_at_start(&world, "shared.toml", &shared).await;
    assert!(
        stderr.contains(
            "tenants[globex].systems.crm.base_url: the same as tenants[acme].systems.crm.base_url"
        ),
        "{stderr}"
    );
    let allowed = shared.replace("[server]\n", "[server]\nallow_shared_base_url = true\n");
    let path = world.dir.path().join("allowed.toml");
    std::fs::write(&path, allowed).expect("writing the config");
    let mut service = Service::spawn(&path, world.dir.path().join("allowed.log")).await;
    still_up(&mut service).await;
}

/// The answer to a raw HTTP/1.1 request that declares a body it never sends: the status line
/// and what follows, read until the server closes or `STEP` passes.
fn declared_but_unsent(service: &Service, path: &str, headers: &str) -> String {
    let addr = service.url("").replace("http://", "");
    let mut stream = std::net::TcpStream::connect(addr).expect("connecting");
    stream.set_read_timeout(Some(STEP)).expect("timeout");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n\
         Content-Length: 100000000\r\n{headers}Connection: close\r\n\r\n{{"
    );
    stream.write_all(request.as_bytes()).expect("writing");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
        if String::from_utf8_lossy(&answer).contains("\r\n\r\n{") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_oversized_declared_content_length_gets_413_before_the_body_is_sent() {
    let world = World::new(Backend::Sqlite).await;
    let service = world.start().await;
    let webhook = declared_but_unsent(&service, "/webhooks/acme/crm", "");
    assert!(webhook.starts_with("HTTP/1.1 413"), "{webhook:?}");
    let auth = format!("Authorization: Bearer {TENANT_TOKEN}\r\n");
    let graphql = declared_but_unsent(&service, "/graphql", &auth);
    assert!(graphql.starts_with("HTTP/1.1 413"), "{graphql:?}");
    assert!(graphql.contains("PAYLOAD_TOO_LARGE"), "{graphql:?}");
}

#[tokio::test]
async fn responses_say_no_store_and_nosniff_and_graphiql_has_a_policy() {
    let world = World::new(Backend::Sqlite).await;
    let service = world.start().await;
    let http = client();
    let requests = [
        http.get(service.url("/healthz")),
        http.get(service.url("/metrics")),
        http.post(service.url("/graphql"))
            .bearer_auth(TENANT_TOKEN)
            .json(&json!({"query": "{ projections { name } }"})),
        http.post(service.url("/webhooks/nobody/crm")).body("{}"),
    ];
    for request in requests {
        let answer = request.send().await.expect("an answer");
        let headers = answer.headers();
        assert_eq!(headers["cache-control"], "no-store", "{}", answer.url());
        assert_eq!(
            headers["x-content-type-options"],
            "nosniff",
            "{}",
            answer.url()
        );
    }
    let page = http
        .get(service.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("GraphiQL");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII")
        .to_string();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
}

#[tokio::test]
async fn trace_logs_show_no_token_while_a_websocket_client_connects() {
    let world = World::new(Backend::Sqlite).await;
    let config = world.dir.path().join("syncledger.toml");
    let log = world.dir.path().join("trace.log");
    let service = Service::spawn_logging(&config, log.clone(), "trace").await;
    let mut socket = websocket(&service).await;
    init(&mut socket, TENANT_TOKEN).await;
    let query = "subscription { eventAppended { type } }";
    send(
        &mut socket,
        json!({"type": "subscribe", "id": "1", "payload": {"query": query}}),
    )
    .await;
    let mut admin = websocket(&service).await;
    init(&mut admin, ADMIN_TOKEN).await;
    // A synced record: a signed webhook in, a fetch and a create out with the CRM's credentials.
    world
        .crm_user_creates(&service, "Ada", "ada@example.com")
        .await;
    eventually("the ERP holds Ada", STEP, async || {
        !world.erp_customers("ada@example.com").is_empty()
    })
    .await;
    let text = read(&log);
    assert!(text.contains("TRACE"), "trace logging is on");
    for secret in [
        TENANT_TOKEN,
        ADMIN_TOKEN,
        CRM_SECRET,
        ERP_SECRET,
        "crm-token",
    ] {
        assert!(!text.contains(secret), "the trace log shows {secret}");
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("reading the log")
}

#[tokio::test]
async fn a_log_file_holds_no_escape_codes_even_from_hostile_record_ids() {
    let world = World::new(Backend::Sqlite).await;
    let config = world.dir.path().join("syncledger.toml");
    let log: PathBuf = world.dir.path().join("plain.log");
    let service = Service::spawn_logging(&config, log.clone(), "debug,sqlx=warn").await;
    let hostile = json!({"event_id": "e-\u{1b}[31m", "collection": "contacts",
        "action": "created", "record_id": "c-1\u{1b}[2J\n2026-01-01 INFO forged",
        "occurred_at": "2026-11-21T10:00:00Z"});
    let body = serde_json::to_vec(&hostile).expect("JSON");
    service.post_signed("crm", body).await.expect("an answer");
    let health = service.get("/healthz").await.expect("/healthz");
    assert_eq!(health.status, 200);
    let text = read(&log);
    assert!(!text.is_empty());
    assert!(!text.contains('\u{1b}'), "escape codes in the log file");
    assert!(!text.contains("\n2026-01-01 INFO forged"), "a forged line");
}

on_both_backends!(a_shared_base_url_is_refused_at_start_unless_allowed);
