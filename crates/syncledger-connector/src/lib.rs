//! Talking to connected systems (CONTRACT §1 and §2).
//!
//! - [`connector`]: the [`Connector`] trait (get, create, update, delete, list) and its
//!   [`Record`] and [`Page`].
//! - [`error`]: [`ConnectorError`], split the way the engine branches: transient (retry later),
//!   permanent (dead-letter with the body), invalid (the system broke the contract).
//! - [`http`]: [`HttpConnector`], the contract over HTTP with timeouts, configured headers and
//!   `Idempotency-Key` on every POST; one request per call, never a retry (the engine's one
//!   retry policy, `syncledger_core::decide::retry`, decides when to try again).
//! - [`rate_limit`]: a system's quota ([`RateLimit`]) as one [`rate_limit::Budget`] shared by every
//!   request to it: token bucket, in-flight cap, and a `429` pausing the whole system.
//! - [`response`]: reading an answer (status, `Retry-After`, body) as the contract defines it.
//! - [`record_id`]: ids are data, never path: the rules an id must keep and the one-segment URL.
//! - [`signature`]: [`sign`] and [`verify`] for `X-Signature: sha256=<hex>`.
//!
//! The simulated system that tests, benches and the demo sync against is the `syncledger-sim`
//! crate; it reads its answers through [`response`] too, so both read a status the same way.
#![forbid(unsafe_code)]

pub mod body;
pub mod connector;
pub mod error;
pub mod http;
pub mod rate_limit;
pub mod record_id;
pub mod response;
pub mod signature;

pub use connector::{BoxFuture, Connector, Page, Record};
pub use error::ConnectorError;
pub use http::{HttpConnector, HttpConnectorConfig, IDEMPOTENCY_KEY};
pub use rate_limit::RateLimit;
pub use signature::{SIGNATURE_HEADER, sign, verify};
