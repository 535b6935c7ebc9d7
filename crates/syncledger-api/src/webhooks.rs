//! `POST /webhooks/{tenant}/{system}`: the status codes of CONTRACT §2, nothing recorded on reject.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use syncledger_engine::IngestError;

use crate::AppState;

pub fn routes(body_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/webhooks/{tenant}/{system}", post(receive))
        .layer(DefaultBodyLimit::max(body_limit))
}

async fn receive(
    State(state): State<AppState>,
    Path((tenant, system)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.accepting.load(Ordering::SeqCst) {
        return reject(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "shutting down; retry later");
    }
    let signature = headers.get("x-signature").and_then(|v| v.to_str().ok());
    match state.ledger.ingest(&tenant, &system, &body, signature).await {
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
            metrics::counter!("syncledger_webhook_rejects_total", "reason" => e.reason()).increment(1);
            reject(status, code, &e.to_string())
        }
    }
}

fn reject(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}
