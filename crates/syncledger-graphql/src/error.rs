//! The crate's one error type, and what a client sees of it.
//!
//! Every error that reaches a client carries `extensions.code`, one of a small stable set that
//! scripts branch on: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`, `BAD_USER_INPUT`, `INTERNAL`.
//! The message of an internal error is always the same generic sentence: the cause goes to the
//! log (with the store's own error chain), never to the client, so no SQL, path or secret can leak.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensions, Response, ServerError, ServerResult, ValidationResult, Variables,
};
use syncledger_store::StoreError;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or one that is neither the admin token nor a tenant's.
    #[error("missing or invalid bearer token")]
    Unauthenticated,
    /// A tenant token asked for something only the admin token may do.
    #[error("this operation needs the admin token")]
    Forbidden,
    /// Also the answer for another tenant's data, word for word, so a tenant cannot probe.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadUserInput(String),
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        ApiError::BadUserInput(message.into())
    }

    pub fn internal(source: impl Into<BoxError>) -> Self {
        ApiError::Internal(source.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound("projection"),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// What the crate's functions return.
pub type ApiResult<T> = Result<T, ApiError>;

/// An [`ApiError`] as a client sees it: its message and its code. Resolvers return it (it has
/// no `Display`, so async-graphql's catch-all conversion, which would drop the code, never
/// applies); `?` turns an [`ApiError`] or a store error into it.
#[derive(Debug, Clone)]
pub struct FieldError(async_graphql::Error);

/// What resolvers return.
pub type FieldResult<T> = Result<T, FieldError>;

impl From<ApiError> for FieldError {
    fn from(err: ApiError) -> Self {
        if let ApiError::Internal(source) = &err {
            tracing::error!(error = %source, cause = ?source, "graphql request failed");
        }
        let code = err.code();
        FieldError(
            async_graphql::Error::new(err.to_string()).extend_with(|_, e| e.set("code", code)),
        )
    }
}

impl From<StoreError> for FieldError {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<FieldError> for async_graphql::Error {
    fn from(err: FieldError) -> Self {
        err.0
    }
}

/// Gives a code to the errors async-graphql makes itself (parse, validation, limits, argument
/// coercion), so that every error a client sees has one, whichever transport carried it.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if !has_code {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    error
}

/// The code of an error found before execution.
fn validation_code(error: &ServerError) -> &'static str {
    match error.message.as_str() {
        "Query is nested too deep." => "DEPTH_LIMIT_EXCEEDED",
        "Query is too complex." => "COMPLEXITY_LIMIT_EXCEEDED",
        _ => "GRAPHQL_VALIDATION_FAILED",
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        // Left without a code after execution: input that could not be coerced to an argument.
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|e| {
                let code = if e.path.is_empty() {
                    "GRAPHQL_VALIDATION_FAILED"
                } else {
                    "BAD_USER_INPUT"
                };
                with_code(e, code)
            })
            .collect();
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let code = validation_code(&e);
                    with_code(e, code)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_never_shows_its_cause() {
        let err: async_graphql::Error = FieldError::from(ApiError::internal(
            "database at /var/lib/secret.db is locked",
        ))
        .into();
        assert_eq!(err.message, "internal error");
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("INTERNAL")));
    }

    #[test]
    fn every_error_carries_its_code() {
        for (err, code) in [
            (ApiError::Unauthenticated, "UNAUTHENTICATED"),
            (ApiError::Forbidden, "FORBIDDEN"),
            (ApiError::NotFound("entity"), "NOT_FOUND"),
            (
                ApiError::bad_input("first must be positive"),
                "BAD_USER_INPUT",
            ),
        ] {
            let message = err.to_string();
            let err: async_graphql::Error = FieldError::from(err).into();
            assert_eq!(err.message, message);
            let got = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
            assert_eq!(got, Some(async_graphql::Value::from(code)));
        }
    }
}
