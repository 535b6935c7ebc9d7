//! The layers around the whole router.
//!
//! A handler that panics must not take the process down or leave a connection without an
//! answer: [`CatchPanicLayer`] turns the panic into a 500 with the same generic JSON error the
//! rest of the API uses (the panic message goes to the log, never to the client). It catches
//! unwinding panics only; what cannot unwind (a stack overflow) is made impossible at the inputs
//! instead (the GraphQL crate's `limits`).
//!
//! Every response carries `Cache-Control: no-store` (answers hold tenants' data and must not sit
//! in a proxy or browser cache) and `X-Content-Type-Options: nosniff` (a JSON body holding
//! client-supplied text must never be sniffed into HTML), unless a handler set its own.

use std::any::Any;

use axum::Router;
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};
use tower_http::set_header::SetResponseHeaderLayer;

/// `router` inside the layers: the headers are set on the 500 of a panic too.
pub fn wrap(router: Router) -> Router {
    router
        .layer(CatchPanicLayer::custom(PanicResponse))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// The answer to a request whose handler panicked.
#[derive(Clone, Copy)]
pub struct PanicResponse;

impl ResponseForPanic for PanicResponse {
    type ResponseBody = axum::body::Body;

    fn response_for_panic(
        &mut self,
        panic: Box<dyn Any + Send + 'static>,
    ) -> Response<Self::ResponseBody> {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(not a string)");
        tracing::error!(panic = message, "a request handler panicked");
        metrics::counter!("syncledger_handler_panics_total").increment(1);
        let body = json!({"error": {"code": "internal", "message": "internal error"}});
        (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
    }
}
