//! Talking to connected systems (CONTRACT §1 and §2), and a simulated system to talk to.
//!
//! - [`connector`]: the [`Connector`] trait (get, create, update, delete, list) and its
//!   [`Record`] and [`Page`].
//! - [`error`]: [`ConnectorError`], split the way the engine branches: transient (retry later),
//!   permanent (dead-letter with the body), invalid (the system broke the contract).
//! - [`http`]: [`HttpConnector`], the contract over HTTP with timeouts, configured headers,
//!   `Idempotency-Key` on every POST, and retries.
//! - [`rate_limit`]: a system's quota ([`RateLimit`]) as one [`rate_limit::Budget`] shared by every
//!   request to it: token bucket, in-flight cap, and a `429` pausing the whole system.
//! - [`record_id`]: ids are data, never path: the rules an id must keep and the one-segment URL.
//! - [`retry`]: [`RetryPolicy`] (full-jitter exponential backoff, `Retry-After` honoured) and the
//!   injectable [`Sleeper`]; [`retrying`] applies it around any connector.
//! - [`signature`]: [`sign`] and [`verify`] for `X-Signature: sha256=<hex>`.
//! - [`sim`]: [`SimSystem`], an in-memory system with a webhook outbox, scripted faults and
//!   pauses, reachable in process or over HTTP ([`serve_http`]), and [`WebhookSender`].
//!
//! Answers are interpreted in one private module shared by the HTTP connector and the simulated
//! system, so both read a status the same way.
#![forbid(unsafe_code)]

pub mod connector;
pub mod error;
pub mod http;
pub mod rate_limit;
pub mod record_id;
mod response;
pub mod retry;
pub mod retrying;
pub mod signature;
pub mod sim;

pub use connector::{BoxFuture, Connector, Page, Record};
pub use error::ConnectorError;
pub use http::{HttpConnector, HttpConnectorConfig, IDEMPOTENCY_KEY};
pub use rate_limit::RateLimit;
pub use retry::{RecordingSleeper, RetryPolicy, Sleeper, TokioSleeper};
pub use retrying::RetryingConnector;
pub use signature::{SIGNATURE_HEADER, sign, verify};
pub use sim::{
    Fault, Op, PausedWrite, RequestLog, SimSystem, Webhook, WebhookAction, WebhookSender,
    serve_http, serve_http_with_shutdown,
};
