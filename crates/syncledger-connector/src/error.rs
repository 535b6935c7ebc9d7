//! The one error type of this crate, shaped by what a caller does next.
//!
//! The engine branches on exactly one question: try again later, or give up and dead-letter the
//! work? [`ConnectorError::Transient`] means "later" (429, 5xx, timeouts, connection failures),
//! [`ConnectorError::Permanent`] means "this request will never succeed as sent" (any other 4xx,
//! with the system's answer kept for the dead letter), and [`ConnectorError::Invalid`] means the
//! system broke the connector contract (no `"id"`, not JSON), which retrying cannot fix either.
//!
//! Bodies kept in errors are the remote system's answer, truncated; request headers never appear
//! in an error, because they carry the tenant's secrets.

use std::time::Duration;

/// Bodies longer than this are cut before they are kept in an error (and so in the log).
pub const MAX_ERROR_BODY: usize = 4096;

/// Why a call to a connected system did not give the answer the contract promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// Worth retrying later: 429, 5xx, a timeout or a connection failure (`status` is `None`).
    #[error("transient failure (status {}): {body}", status_text(*.status))]
    Transient {
        status: Option<u16>,
        body: String,
        /// The system's `Retry-After`, when it sent one: never retry sooner.
        retry_after: Option<Duration>,
    },
    /// The system refused this request for good (a 4xx other than 429).
    #[error("permanent failure (status {status}): {body}")]
    Permanent { status: u16, body: String },
    /// `412 Precondition Failed`: the record changed since the `ETag` sent as `If-Match`
    /// (CONTRACT §1). Neither transient nor a failure: the caller fetches the record again.
    #[error("precondition failed (status 412): {body}")]
    PreconditionFailed { body: String },
    /// The answer breaks the connector contract, or the connector was configured wrongly.
    #[error("invalid: {0}")]
    Invalid(String),
}

impl ConnectorError {
    /// Whether the same request may succeed if sent again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectorError::Transient { .. })
    }

    /// The HTTP status behind the error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectorError::Transient { status, .. } => *status,
            ConnectorError::Permanent { status, .. } => Some(*status),
            ConnectorError::PreconditionFailed { .. } => Some(412),
            ConnectorError::Invalid(_) => None,
        }
    }

    /// The `Retry-After` the system asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error without the body the system answered with: what may reach a log line or a
    /// field kept in clear (`WorkFailed.reason`), since a body can echo a person's values
    /// (docs/privacy.md). The body itself is kept only where values are sealed
    /// (`WriteFailed.body`, `DeadLettered.body`).
    pub fn summary(&self) -> String {
        match self {
            ConnectorError::Transient { status, body, .. } if status.is_none() => {
                // No answer: the "body" is the transport's own description, no value.
                format!("transient failure (no answer): {body}")
            }
            ConnectorError::Transient { status, .. } => {
                format!("transient failure (status {})", status_text(*status))
            }
            ConnectorError::Permanent { status, .. } => {
                format!("permanent failure (status {status})")
            }
            ConnectorError::PreconditionFailed { .. } => "precondition failed (status 412)".into(),
            ConnectorError::Invalid(reason) => format!("invalid: {reason}"),
        }
    }

    /// A transient error with no HTTP answer behind it (timeout, refused connection).
    pub fn no_answer(what: impl Into<String>) -> Self {
        ConnectorError::Transient {
            status: None,
            body: what.into(),
            retry_after: None,
        }
    }
}

fn status_text(status: Option<u16>) -> String {
    status.map_or_else(|| "none".to_owned(), |s| s.to_string())
}

/// Cuts `body` to [`MAX_ERROR_BODY`] bytes on a character boundary, marking the cut.
pub(crate) fn truncate_body(body: &str) -> String {
    if body.len() <= MAX_ERROR_BODY {
        return body.to_owned();
    }
    let mut end = MAX_ERROR_BODY;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &body[..end], body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut_on_a_char_boundary() {
        let body = "é".repeat(MAX_ERROR_BODY);
        let cut = truncate_body(&body);
        assert!(cut.len() < body.len());
        assert!(cut.ends_with(&format!("({} bytes in all)", body.len())));
    }

    #[test]
    fn only_transient_errors_are_transient() {
        assert!(ConnectorError::no_answer("timeout").is_transient());
        let permanent = ConnectorError::Permanent {
            status: 400,
            body: "bad".into(),
        };
        assert!(!permanent.is_transient());
        assert!(!ConnectorError::Invalid("x".into()).is_transient());
        assert_eq!(permanent.status(), Some(400));
    }

    #[test]
    fn a_summary_never_quotes_the_body_a_system_answered_with() {
        let body = r#"{"error": "duplicate", "email": "ann@example.com"}"#.to_string();
        let errors = [
            ConnectorError::Permanent {
                status: 422,
                body: body.clone(),
            },
            ConnectorError::Transient {
                status: Some(503),
                body: body.clone(),
                retry_after: None,
            },
            ConnectorError::PreconditionFailed { body: body.clone() },
        ];
        for error in errors {
            let summary = error.summary();
            assert!(!summary.contains("ann@example.com"), "{summary}");
            assert!(summary.contains("status"), "{summary}");
        }
        assert_eq!(
            ConnectorError::no_answer("timed out after 10s").summary(),
            "transient failure (no answer): timed out after 10s"
        );
    }
}
