//! Subscriptions over a WebSocket at `/graphql/ws`: graphql-transport-ws, and the legacy
//! graphql-ws protocol (`subscriptions-transport-ws`) for older clients.
//!
//! async-graphql speaks the protocols; a [`Gate`] stands between the socket and it and sees every
//! client message first, because the library itself would parse a `subscribe` payload of any
//! depth and keep any number of subscriptions. The gate:
//!
//! - authenticates at `connection_init` (the upgrade request's `Authorization` header, else the
//!   init payload's), and refuses a connection over [`MAX_CONNECTIONS_PER_TOKEN`] for the same
//!   caller. A refusal closes with `4403`; a `subscribe` before that closes with `4401`
//!   (graphql-transport-ws; the legacy protocol gets `connection_error` first);
//! - bounds every message the same way, whatever its type, id or the connection's state: a
//!   GraphQL document in its payload (`payload.query`) goes through [`limits::check`] before the
//!   library can parse it, the first thing done with a message once it is JSON. A refusal is the
//!   protocol's `error` message for that id, in the GraphQL error shape with `extensions.code`,
//!   and the connection goes on (a refused message without an id closes it with `4400`). A
//!   `start` that reuses a running id is bounded like any other (issue 27: it used to skip the
//!   check, and a 3,000-deep list aborted the process);
//! - refuses a subscription over [`MAX_SUBSCRIPTIONS_PER_CONNECTION`], answered the same way;
//! - closes a connection that has not had its `connection_init` accepted within
//!   `server.ws_init_timeout_secs` with `4408` (graphql-transport-ws's "Connection
//!   initialisation timeout"; the legacy protocol gets the same close);
//! - counts a subscription until the client completes it or the server sends its `complete`.
//!
//! The gate's replies are queued and sent between the library's own messages. A client that
//! sends faster than it reads fills the socket and is slowed by TCP like any other.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, ClientMessage, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, Stream, StreamExt, future};
use serde_json::{Value, json};

use crate::auth::{Auth, Caller, payload_caller};
use crate::http::{AppState, bearer};
use crate::limits::{
    self, MAX_CONNECTIONS_PER_TOKEN, MAX_SUBSCRIPTIONS_PER_CONNECTION, MAX_WS_MESSAGE_BYTES,
    Refusal,
};

/// How many WebSocket connections each caller holds open, process-wide.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    open: Mutex<HashMap<Caller, usize>>,
}

impl Connections {
    /// A place for one more connection of `caller`, or `None` at the cap.
    fn acquire(self: &Arc<Self>, caller: &Caller) -> Option<Permit> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(caller.clone()).or_default();
        if *count >= MAX_CONNECTIONS_PER_TOKEN {
            return None;
        }
        *count += 1;
        Some(Permit {
            connections: self.clone(),
            caller: caller.clone(),
        })
    }
}

/// One open connection, counted until dropped with the connection.
#[derive(Debug)]
struct Permit {
    connections: Arc<Connections>,
    caller: Caller,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.caller) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

/// The protocol the client asked for in `Sec-WebSocket-Protocol`.
fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|p| p.trim().parse().ok())
}

pub(crate) async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = protocol(&headers) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let from_header = bearer(&state.auth, &headers);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, state, protocol, from_header))
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: WebSocketProtocols,
    from_header: Option<Caller>,
) {
    let gate = Arc::new(Mutex::new(Gate {
        protocol,
        auth: state.auth.clone(),
        from_header,
        connections: state.connections.clone(),
        caller: None,
        _permit: None,
        active: HashSet::new(),
        replies: VecDeque::new(),
        closing: false,
    }));
    let (mut sink, source) = socket.split();
    let inbound = {
        let gate = gate.clone();
        source
            .take_while(|message| future::ready(message.is_ok()))
            .filter_map(move |message| {
                let mut gate = gate.lock().unwrap_or_else(PoisonError::into_inner);
                future::ready(match message {
                    Ok(Message::Text(text)) => gate.inbound(text.as_str()),
                    Ok(Message::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                        Ok(text) => gate.inbound(text),
                        Err(_) => Some(ClientMessage::from_bytes(&bytes)),
                    },
                    _ => None,
                })
            })
    };
    let caller = gate.clone();
    let graphql = async_graphql::http::WebSocket::from_message_stream(
        state.schema.clone(),
        inbound,
        protocol,
    )
    .on_connection_init(move |_payload| async move {
        // The gate authenticated this very message before passing it on.
        let caller = lock(&caller).caller.clone();
        let caller = caller.ok_or_else(|| async_graphql::Error::new("unauthenticated"))?;
        let mut data = Data::default();
        data.insert(caller);
        Ok(data)
    })
    .fuse();
    let initialised = gate.clone();
    let mut outbound = merged(graphql, gate);
    let init_deadline = tokio::time::sleep(state.ws_init_timeout);
    let mut init_deadline = std::pin::pin!(init_deadline);
    loop {
        let waiting = lock(&initialised).caller.is_none();
        let message = tokio::select! {
            message = outbound.next() => match message {
                Some(message) => message,
                None => break,
            },
            () = &mut init_deadline, if waiting => {
                if lock(&initialised).caller.is_some() {
                    continue; // accepted while this turn waited
                }
                WsMessage::Close(4408, "Connection initialisation timeout".to_string())
            }
        };
        let last = matches!(message, WsMessage::Close(..));
        let message = match message {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        };
        if sink.send(message).await.is_err() || last {
            break;
        }
    }
}

fn lock(gate: &Mutex<Gate>) -> std::sync::MutexGuard<'_, Gate> {
    gate.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The library's messages with the gate's replies in between; the gate also sees each
/// `complete` the library sends, to stop counting that subscription.
fn merged(
    graphql: impl Stream<Item = WsMessage> + Send + 'static,
    gate: Arc<Mutex<Gate>>,
) -> impl Stream<Item = WsMessage> + Send {
    let mut graphql = Box::pin(graphql);
    futures::stream::poll_fn(move |cx| {
        let queued = lock(&gate).replies.pop_front();
        if let Some(reply) = queued {
            return Poll::Ready(Some(reply));
        }
        // The gate runs inside this poll (it filters the library's input) and may queue replies.
        let polled = graphql.as_mut().poll_next(cx);
        let mut gate = lock(&gate);
        match polled {
            Poll::Ready(Some(message)) => {
                if let WsMessage::Text(text) = &message {
                    gate.outbound(text);
                }
                Poll::Ready(Some(message))
            }
            Poll::Ready(None) => Poll::Ready(gate.replies.pop_front()),
            Poll::Pending => match gate.replies.pop_front() {
                Some(reply) => Poll::Ready(Some(reply)),
                None => Poll::Pending,
            },
        }
    })
}

/// What one connection is allowed, and what it holds.
struct Gate {
    protocol: WebSocketProtocols,
    auth: Arc<Auth>,
    from_header: Option<Caller>,
    connections: Arc<Connections>,
    /// Set once `connection_init` is accepted.
    caller: Option<Caller>,
    _permit: Option<Permit>,
    /// Ids of the subscriptions running.
    active: HashSet<String>,
    replies: VecDeque<WsMessage>,
    closing: bool,
}

impl Gate {
    /// The message to hand to the library for one client text message, if any.
    fn inbound(&mut self, text: &str) -> Option<serde_json::Result<ClientMessage>> {
        if self.closing {
            return None;
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(err) => return Some(Err(err)),
        };
        let id = value.get("id").and_then(Value::as_str);
        // Before anything else looks at the message: the one bound every message passes.
        if let Err(refusal) = bounded(&value) {
            self.refuse(id, refusal);
            return None;
        }
        match value.get("type").and_then(Value::as_str) {
            Some("connection_init") if self.caller.is_none() => {
                let payload = value.get("payload").unwrap_or(&Value::Null);
                if !self.init(payload) {
                    return None;
                }
            }
            Some("subscribe" | "start") => {
                if self.caller.is_none() {
                    self.close(4401, "Unauthorized");
                    return None;
                }
                if let Some(id) = id
                    && !self.subscribe(id)
                {
                    return None;
                }
            }
            Some("complete" | "stop") => {
                if let Some(id) = id {
                    self.active.remove(id);
                }
            }
            _ => {}
        }
        Some(serde_json::from_value(value))
    }

    /// Authenticates and counts the connection; false when refused (and closing).
    fn init(&mut self, payload: &Value) -> bool {
        let Some(caller) = self
            .from_header
            .clone()
            .or_else(|| payload_caller(&self.auth, payload))
        else {
            self.refuse_connection("UNAUTHENTICATED", "missing or invalid bearer token");
            return false;
        };
        let Some(permit) = self.connections.acquire(&caller) else {
            let refusal = Refusal::TooManyConnections;
            self.refuse_connection(refusal.code(), &refusal.message());
            return false;
        };
        self.caller = Some(caller);
        self._permit = Some(permit);
        true
    }

    /// Counts one `subscribe` (already bounded); false when refused.
    fn subscribe(&mut self, id: &str) -> bool {
        if self.active.contains(id) {
            if self.protocol == WebSocketProtocols::GraphQLWS {
                self.close(4409, &format!("Subscriber for {id} already exists"));
                return false;
            }
            // The legacy protocol lets a `start` replace the subscription of its id.
            return true;
        }
        if self.active.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
            self.refuse(Some(id), Refusal::TooManySubscriptions);
            return false;
        }
        self.active.insert(id.to_string());
        true
    }

    /// Answers a refused message: the protocol's `error` for its id, or a close without one.
    fn refuse(&mut self, id: Option<&str>, refusal: Refusal) {
        let Some(id) = id else {
            self.close(4400, &refusal.message());
            return;
        };
        let payload = match self.protocol {
            WebSocketProtocols::GraphQLWS => json!([refusal.error()]),
            WebSocketProtocols::SubscriptionsTransportWS => refusal.error(),
        };
        let reply = json!({"type": "error", "id": id, "payload": payload});
        self.replies.push_back(WsMessage::Text(reply.to_string()));
    }

    /// Sees a message the library sends: its `complete` ends a subscription.
    fn outbound(&mut self, text: &str) {
        if text.starts_with(r#"{"type":"complete""#)
            && let Ok(message) = serde_json::from_str::<Value>(text)
            && let Some(id) = message.get("id").and_then(Value::as_str)
        {
            self.active.remove(id);
        }
    }

    fn refuse_connection(&mut self, code: &str, message: &str) {
        if self.protocol == WebSocketProtocols::SubscriptionsTransportWS {
            let error = json!({"type": "connection_error",
                "payload": {"message": message, "extensions": {"code": code}}});
            self.replies.push_back(WsMessage::Text(error.to_string()));
        }
        self.close(4403, message);
    }

    fn close(&mut self, code: u16, reason: &str) {
        self.closing = true;
        self.replies
            .push_back(WsMessage::Close(code, reason.to_string()));
    }
}

/// The bounds of [`limits::check`] on the GraphQL document a message carries, if it carries one.
/// A `query` that is not a string is left to the library, which refuses it without parsing.
fn bounded(message: &Value) -> Result<(), Refusal> {
    match message
        .get("payload")
        .and_then(|payload| payload.get("query"))
    {
        Some(Value::String(query)) => limits::check(query),
        _ => Ok(()),
    }
}
