//! `POST /webhooks/{tenant}/{system}`: the status codes of CONTRACT §2, nothing recorded on reject.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use syncledger_engine::IngestError;
use syncledger_graphql::limits::{BodyError, read_body};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    // The limit is enforced in the handler, so an oversize body is counted like every reject.
    Router::new()
        .route("/webhooks/{tenant}/{system}", post(receive))
        .layer(DefaultBodyLimit::disable())
}

async fn receive(
    State(state): State<AppState>,
    Path((tenant, system)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !state.accepting.load(Ordering::SeqCst) {
        return reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "shutting down; retry later",
        );
    }
    let limit = state.ledger.config().server.webhook_body_limit;
    // A declared length over the limit is refused before a byte of the body is read (the
    // server drains what the client sends anyway, so a client that writes first reads the 413).
    let declared = syncledger_graphql::http::declared_length(&headers);
    let body = match declared.filter(|&n| n > limit as u64) {
        Some(_) => Err(BodyError::TooLarge),
        None => read_body(body, limit).await,
    };
    let body = match body {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            metrics::counter!("syncledger_webhook_rejects_total", "reason" => "too_large")
                .increment(1);
            let message = format!("body over the limit of {limit} bytes");
            return reject(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &message);
        }
        Err(BodyError::TimedOut) => {
            metrics::counter!("syncledger_webhook_rejects_total", "reason" => "timeout")
                .increment(1);
            let mut response = reject(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the body did not arrive in time",
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        Err(BodyError::Broken) => {
            metrics::counter!("syncledger_webhook_rejects_total", "reason" => "malformed")
                .increment(1);
            return reject(
                StatusCode::BAD_REQUEST,
                "malformed",
                "the body could not be read",
            );
        }
    };
    let signature = headers.get("x-signature").and_then(|v| v.to_str().ok());
    match state
        .ledger
        .ingest(&tenant, &system, &body, signature)
        .await
    {
        Ok(accepted) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"recorded": accepted.recorded, "duplicates": accepted.duplicates})),
        )
            .into_response(),
        Err(e) => {
            let (status, code) = match &e {
                IngestError::UnknownTarget(_) => (StatusCode::NOT_FOUND, "not_found"),
                IngestError::BadSignature => (StatusCode::UNAUTHORIZED, "bad_signature"),
                IngestError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
                IngestError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            };
            metrics::counter!("syncledger_webhook_rejects_total", "reason" => e.reason())
                .increment(1);
            reject(status, code, &e.to_string())
        }
    }
}

fn reject(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}
