//! The connector for a real connected system over HTTP (CONTRACT §1).
//!
//! One `reqwest` client per system, built with rustls only. Every request carries the tenant's
//! configured headers (marked sensitive, so neither reqwest nor our `Debug` prints them) and has a
//! timeout; every POST carries the caller's `Idempotency-Key`, so a create the engine sends again
//! (after a failure or a crash) is created once. Each call is exactly one request: a transient
//! answer (429, 5xx, a timeout, no connection) comes back at once as
//! [`ConnectorError::Transient`] with the system's `Retry-After`, and the engine's one retry
//! policy decides when to try again, so no worker sleeps inside a call. A `429` still pauses every
//! request to the system ([`crate::rate_limit`]). The answer is read by the same code as the
//! simulated system's, so both behave the same.
//!
//! A record answer's `ETag` is kept on the [`Record`]; `update_if` and `delete_if` send
//! `If-Match`, and a `412` comes back as [`ConnectorError::PreconditionFailed`].
//!
//! The log sees method, path and status, never a header value.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use reqwest::header::{ETAG, HeaderMap, HeaderName, HeaderValue, IF_MATCH, RETRY_AFTER};
use reqwest::{Client, Method, Url};
use serde_json::Value;

use crate::body;
use crate::connector::BoxFuture;
use crate::rate_limit::{Budget, RateLimit};
use crate::record_id;
use crate::response::{self, Answer};
use crate::{Connector, ConnectorError, Page, Record};

/// The header that makes a POST safe to repeat.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Where a system lives and how to talk to it.
#[derive(Clone)]
pub struct HttpConnectorConfig {
    /// e.g. `http://127.0.0.1:9001` or `https://erp.example.com/api/v2`.
    pub base_url: String,
    /// Sent with every request (e.g. `Authorization`); values are secrets.
    pub headers: BTreeMap<String, String>,
    /// For the one request of a call, from sending it to the last byte of the answer; also the
    /// longest a request waits for its turn in the system's budget.
    pub timeout: Duration,
    /// The longest record id sent or accepted, in bytes (`server.max_record_id_bytes`).
    pub max_id_bytes: usize,
    /// The system's quota; `None` for none (a `429` still pauses every request to it).
    pub rate_limit: Option<RateLimit>,
    /// The system's name in metrics (`tenant/system`).
    pub label: String,
    /// The longest `Retry-After` honoured (`server.max_retry_after_secs`), the system-wide
    /// pause of a `429` included: a system asking for more is taken to ask for this.
    pub max_retry_after: Duration,
    /// The longest answer body read (`server.max_response_bytes`); a longer one is refused
    /// ([`crate::body`]).
    pub max_response_bytes: usize,
}

impl fmt::Debug for HttpConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: BTreeMap<&str, &str> = self
            .headers
            .keys()
            .map(|name| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("HttpConnectorConfig")
            .field("base_url", &self.base_url)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("max_id_bytes", &self.max_id_bytes)
            .field("rate_limit", &self.rate_limit)
            .field("label", &self.label)
            .field("max_retry_after", &self.max_retry_after)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// A connected system reached over HTTP, one request per call.
pub struct HttpConnector {
    client: Client,
    base_url: Url,
    timeout: Duration,
    max_id_bytes: usize,
    /// Shared by every worker's request to this system (see [`crate::rate_limit`]).
    budget: Budget,
    label: String,
    max_retry_after: Duration,
    max_response_bytes: usize,
}

impl fmt::Debug for HttpConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConnector")
            .field("base_url", &self.base_url.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpConnector {
    /// A connector for the system `config` describes; a configuration HTTP cannot carry is
    /// [`ConnectorError::Invalid`].
    pub fn new(config: HttpConnectorConfig) -> Result<Self, ConnectorError> {
        let base_url = Url::parse(&config.base_url)
            .map_err(|e| ConnectorError::Invalid(format!("base_url: {e}")))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(ConnectorError::Invalid(
                "base_url must be an http(s) URL".to_owned(),
            ));
        }
        if config.timeout.is_zero() {
            return Err(ConnectorError::Invalid(
                "timeout must be above zero".to_owned(),
            ));
        }
        let client = Client::builder()
            .default_headers(header_map(&config.headers)?)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirect is not part of the contract, and following one could carry the
            // tenant's headers somewhere else: it surfaces as an invalid answer instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConnectorError::Invalid(format!("building the HTTP client: {e}")))?;
        Ok(HttpConnector {
            client,
            base_url,
            timeout: config.timeout,
            max_id_bytes: config.max_id_bytes,
            // A request waits for its turn at most as long as it may take to answer.
            budget: Budget::labelled(config.rate_limit, config.timeout, config.label.clone()),
            label: config.label,
            max_retry_after: config.max_retry_after,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// `base/collection[/id]`, the id one encoded segment; an id that cannot be one never
    /// becomes a request (see [`crate::record_id`]).
    fn url(&self, collection: &str, id: Option<&str>) -> Result<Url, ConnectorError> {
        record_id::record_url(&self.base_url, collection, id, self.max_id_bytes)
            .map_err(|e| ConnectorError::Invalid(e.to_string()))
    }

    /// A record the system answered with, its id held to the same rules as the ids we send.
    fn checked(&self, record: Record) -> Result<Record, ConnectorError> {
        record_id::check(&record.id, self.max_id_bytes).map_err(|e| {
            ConnectorError::Invalid(format!("the system answered with a bad id: {e}"))
        })?;
        Ok(record)
    }

    /// The request: wait for its turn, send, read the answer (up to `max_response_bytes`), turn
    /// transport failures into errors.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        (idempotency_key, if_match): (Option<&str>, Option<&str>),
    ) -> Result<Answer, ConnectorError> {
        // The permit is held until the answer is read: it is one of `max_in_flight`.
        let _permit = self.budget.acquire().await?;
        metrics::counter!("syncledger_system_requests_total", "system" => self.label.clone())
            .increment(1);
        let mut request = self.client.request(method.clone(), url.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        if let Some(etag) = if_match {
            request = request.header(IF_MATCH, etag);
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(response::parse_retry_after)
            .map(|wait| wait.min(self.max_retry_after));
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if status == 429 {
            // The whole system is over its quota, not this one request: every request waits.
            metrics::counter!("syncledger_system_429_total", "system" => self.label.clone())
                .increment(1);
            self.budget
                .pause(retry_after.unwrap_or(Duration::from_secs(1)));
        }
        let body = body::read(response, self.max_response_bytes, |e| self.transport(e)).await?;
        tracing::debug!(%method, path = url.path(), status, "connector request answered");
        Ok(Answer {
            status,
            retry_after,
            body,
            etag,
        })
    }

    /// The one request of a call; `read` turns its answer into the result (a 429 or 5xx into a
    /// transient error). A failure is returned as it is: the engine decides whether and when
    /// to send again.
    async fn call<T: Send>(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        headers: (Option<&str>, Option<&str>),
        read: impl Fn(&Answer) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let path = url.path().to_owned();
        let method_name = method.as_str().to_owned();
        let result = self
            .send(method, url, body, headers)
            .await
            .and_then(|answer| read(&answer));
        if let Err(error) = &result {
            tracing::warn!(
                method = method_name,
                path,
                status = error.status(),
                transient = error.is_transient(),
                retry_after_ms = error.retry_after().map(|d| d.as_millis() as u64),
                "connector call failed"
            );
        }
        result
    }

    fn transport(&self, error: reqwest::Error) -> ConnectorError {
        if error.is_builder() {
            return ConnectorError::Invalid(format!("building the request: {}", describe(error)));
        }
        if error.is_timeout() {
            return ConnectorError::no_answer(format!("timed out after {:?}", self.timeout));
        }
        ConnectorError::no_answer(describe(error))
    }
}

/// The error and its causes on one line, without the URL (it may hold credentials).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, ConnectorError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConnectorError::Invalid(format!("invalid header name {name:?}")))?;
        // The value is a secret: the error names the header only.
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| ConnectorError::Invalid(format!("invalid value for header {name:?}")))?;
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(map)
}

impl Connector for HttpConnector {
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Record>, ConnectorError>> {
        Box::pin(async move {
            let url = self.url(collection, Some(id))?;
            self.call(Method::GET, url, None, (None, None), move |answer| {
                response::optional_record(answer, id)
            })
            .await
        })
    }

    fn create<'a>(
        &'a self,
        collection: &'a str,
        body: &'a Value,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        let key = Some(idempotency_key);
        Box::pin(async move {
            let url = self.url(collection, None)?;
            let record = self
                .call(Method::POST, url, Some(body), (key, None), |answer| {
                    response::record(answer, None)
                })
                .await?;
            self.checked(record)
        })
    }

    fn update_if<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
        patch: &'a Value,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        Box::pin(async move {
            let url = self.url(collection, Some(id))?;
            let headers = (None, if_match);
            self.call(Method::PATCH, url, Some(patch), headers, move |answer| {
                response::record(answer, Some(id))
            })
            .await
        })
    }

    fn delete_if<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let url = self.url(collection, Some(id))?;
            let headers = (None, if_match);
            self.call(Method::DELETE, url, None, headers, response::deleted)
                .await
        })
    }

    fn list<'a>(
        &'a self,
        collection: &'a str,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, ConnectorError>> {
        Box::pin(async move {
            let mut url = self.url(collection, None)?;
            url.query_pairs_mut()
                .append_pair("limit", &limit.to_string());
            if let Some(cursor) = cursor {
                url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let mut page = self
                .call(Method::GET, url, None, (None, None), response::page)
                .await?;
            // One hostile id does not stop a listing (an initial sync would never pass the
            // page): that record is left out, and said so.
            page.items.retain(|record| match record_id::check(&record.id, self.max_id_bytes) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(collection, problem = %e, "a listed record with a bad id is left out");
                    false
                }
            });
            Ok(page)
        })
    }
}
