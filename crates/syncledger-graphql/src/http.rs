//! The HTTP side: GraphQL over HTTP at `/graphql`, GraphiQL for browsers, graphql-ws at
//! `/graphql/ws` (see [`crate::ws`]).
//!
//! Follows the GraphQL-over-HTTP spec rather than a framework default. `POST` takes
//! `application/json` (anything else: 415; a body that is not a GraphQL request: 400). `GET` takes
//! the request in the query string and runs queries only (a mutation: 405 with `Allow: POST`). The
//! response type follows `Accept`: `application/graphql-response+json`, where a request that
//! cannot run (parse, validation, limits) answers 400; or `application/json` (also without an
//! `Accept`), always 200; anything else: 406. A browser's `GET /graphql` (`Accept: text/html`, no
//! `query`) gets GraphiQL, which needs no token to load: the token goes in its headers pane. Its
//! files are served from the binary at `/graphiql/assets/` (see [`crate::graphiql`]).
//!
//! The order of the checks is the security boundary. Nothing a caller sends is parsed before the
//! bearer token is checked (a missing or wrong token is a 401 with an `UNAUTHENTICATED` body),
//! and nothing reaches the GraphQL parser before [`limits::check`] has bounded its length and
//! nesting. A body is read only up to [`limits::MAX_BODY_BYTES`], and a declared
//! `Content-Length` above it is refused (413) before any of it is read. Every refusal is a
//! GraphQL error with a stable `extensions.code`.

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::auth::{Auth, Caller};
use crate::limits::{self, BodyError, MAX_BODY_BYTES, MAX_QUERY_BYTES, Refusal};
use crate::{ApiContext, SyncSchema, graphiql, ws};

pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) schema: SyncSchema,
    pub(crate) auth: Arc<Auth>,
    pub(crate) connections: Arc<ws::Connections>,
    /// How long a WebSocket may wait for its `connection_init` (`server.ws_init_timeout_secs`).
    pub(crate) ws_init_timeout: std::time::Duration,
}

pub fn routes(ledger: ApiContext) -> Router {
    let auth = Arc::new(Auth::from_config(ledger.config()));
    let ws_init_timeout = ledger.config().server.ws_init_timeout();
    let state = AppState {
        ws_init_timeout,
        schema: crate::schema(ledger),
        auth,
        connections: Arc::default(),
    };
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route("/graphql/ws", get(ws::upgrade))
        .route(graphiql::ASSETS_ROUTE, get(graphiql::asset))
        .with_state(state)
}

/// The response media type the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    GraphqlResponse,
    Json,
}

impl Media {
    fn negotiate(headers: &HeaderMap) -> Option<Media> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(Media::Json);
        };
        if accept.trim().is_empty() {
            return Some(Media::Json);
        }
        accept.split(',').find_map(|range| {
            match range
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                GRAPHQL_RESPONSE => Some(Media::GraphqlResponse),
                JSON | "application/*" | "*/*" => Some(Media::Json),
                _ => None,
            }
        })
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        })
    }
}

/// A response the request never got past: a JSON error with a code, and a status.
pub(crate) fn refuse(status: StatusCode, media: Media, message: &str, code: &str) -> Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn not_acceptable() -> Response {
    let message = format!("Accept must allow {GRAPHQL_RESPONSE} or {JSON}");
    refuse(
        StatusCode::NOT_ACCEPTABLE,
        Media::Json,
        &message,
        "NOT_ACCEPTABLE",
    )
}

/// A request refused by a limit: 413 for a body, 400 for a query the parser must not see.
fn refuse_limit(media: Media, refusal: Refusal) -> Response {
    let status = match refusal {
        Refusal::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    refuse(status, media, &refusal.message(), refusal.code())
}

fn unauthenticated(media: Media) -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        media,
        "missing or invalid bearer token",
        "UNAUTHENTICATED",
    )
}

pub(crate) fn bearer(auth: &Auth, headers: &HeaderMap) -> Option<Caller> {
    auth.from_bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

async fn get_graphql(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && !query.split('&').any(|pair| pair.starts_with("query=")) {
        return graphiql::page();
    }
    let Some(media) = Media::negotiate(&headers) else {
        return not_acceptable();
    };
    let Some(caller) = bearer(&state.auth, &headers) else {
        return unauthenticated(media);
    };
    // Percent-encoding at most triples a query; variables and the rest get the same room again.
    if query.len() > 6 * MAX_QUERY_BYTES {
        return refuse_limit(media, Refusal::QueryTooLarge);
    }
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(request) => request,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                media,
                "the query string is not a GraphQL request",
                "BAD_REQUEST",
            );
        }
    };
    if let Err(refusal) = limits::check(&request.query) {
        return refuse_limit(media, refusal);
    }
    if !is_query(&request) {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "only queries may be sent with GET",
            "BAD_REQUEST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, caller, media, request).await
}

/// Whether the operation to run is a query (an unparsable document is left to execution,
/// which reports it properly).
fn is_query(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return true;
    };
    let chosen = document
        .operations
        .iter()
        .find(|(name, _)| match &request.operation_name {
            Some(wanted) => name.is_some_and(|n| n.as_str() == wanted),
            None => true,
        });
    chosen.is_none_or(|(_, op)| op.node.ty == OperationType::Query)
}

async fn post_graphql(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let Some(media) = Media::negotiate(&headers) else {
        return not_acceptable();
    };
    let too_large = Refusal::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    };
    if declared_length(&headers).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return refuse_limit(media, too_large);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != JSON {
        let message = format!("Content-Type must be {JSON}");
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            &message,
            "BAD_REQUEST",
        );
    }
    let Some(caller) = bearer(&state.auth, &headers) else {
        return unauthenticated(media);
    };
    let body = match limits::read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return refuse_limit(media, too_large),
        Err(BodyError::TimedOut) => {
            let message = "the body did not arrive in time";
            let mut response = refuse(StatusCode::REQUEST_TIMEOUT, media, message, "TIMEOUT");
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        Err(BodyError::Broken) => {
            let message = "the body could not be read";
            return refuse(StatusCode::BAD_REQUEST, media, message, "BAD_REQUEST");
        }
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            let message = format!("the body is not a GraphQL request: {err}");
            return refuse(StatusCode::BAD_REQUEST, media, &message, "BAD_REQUEST");
        }
    };
    if let Err(refusal) = limits::check(&request.query) {
        return refuse_limit(media, refusal);
    }
    execute(&state, caller, media, request).await
}

/// The `Content-Length` a request declares, if it declares one that parses.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn execute(
    state: &AppState,
    caller: Caller,
    media: Media,
    request: async_graphql::Request,
) -> Response {
    if request.query.trim().is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            media,
            "the request has no query",
            "BAD_REQUEST",
        );
    }
    let response = state.schema.execute(request.data(caller)).await;
    // A request that never ran (no data at all, errors without a path) is the client's fault.
    let not_run = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = if media == Media::GraphqlResponse && not_run {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = serde_json::to_string(&response)
        .unwrap_or_else(|_| r#"{"errors":[{"message":"internal error"}]}"#.into());
    let mut http = (status, body).into_response();
    http.headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    http
}
