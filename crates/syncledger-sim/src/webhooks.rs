//! The simulated system's change feed going out: the webhook body of CONTRACT §2 and a sender
//! that POSTs it, signed, to a syncledger endpoint.
//!
//! Tests usually skip the sender: they [`SimSystem::drain_webhooks`] and deliver in the order
//! (or twice, or never) the race they stage needs. The demo runs [`WebhookSender::run`], which
//! delivers one webhook at a time in outbox order and, like a real sender, retries transient
//! refusals (503 while syncledger's store is down) with backoff until they are accepted.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde::{Deserialize, Serialize};

use syncledger_connector::response::{self, Answer};
use syncledger_connector::{ConnectorError, SIGNATURE_HEADER, sign};

use crate::SimSystem;

/// What happened to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookAction {
    Created,
    Updated,
    Deleted,
}

/// One change notification, serialised exactly as CONTRACT §2 shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub event_id: String,
    pub collection: String,
    pub action: WebhookAction,
    pub record_id: String,
    pub occurred_at: DateTime<Utc>,
}

/// POSTs webhooks to `url` with `X-Signature` computed under `secret`.
pub struct WebhookSender {
    url: String,
    secret: Vec<u8>,
    client: Client,
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl WebhookSender {
    /// `url` is the whole endpoint, e.g. `http://127.0.0.1:8080/webhooks/acme/crm`.
    pub fn new(url: impl Into<String>, secret: impl Into<Vec<u8>>) -> Result<Self, ConnectorError> {
        let client = Client::builder()
            .timeout(SEND_TIMEOUT)
            .build()
            .map_err(|e| ConnectorError::Invalid(format!("building the HTTP client: {e}")))?;
        Ok(WebhookSender {
            url: url.into(),
            secret: secret.into(),
            client,
        })
    }

    /// Delivers `batch` in one signed request: a single webhook as an object, several as an
    /// array. An empty batch sends nothing.
    pub async fn send(&self, batch: &[Webhook]) -> Result<(), ConnectorError> {
        let body = match batch {
            [] => return Ok(()),
            [one] => serde_json::to_vec(one),
            many => serde_json::to_vec(many),
        }
        .map_err(|e| ConnectorError::Invalid(format!("encoding webhooks: {e}")))?;
        let signature = sign(&self.secret, &body);
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| ConnectorError::no_answer(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(response::parse_retry_after);
        let body = response.text().await.unwrap_or_default();
        Err(response::failure(&Answer {
            status,
            retry_after,
            body,
            etag: None,
        }))
    }

    /// Pumps `sim`'s outbox until `shutdown` resolves: one webhook at a time, in order, transient
    /// refusals retried with backoff, permanent ones logged and skipped. At shutdown a delivery
    /// in flight is finished; webhooks not delivered go back to the front of the outbox.
    pub async fn run(&self, sim: &SimSystem, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut backlog: VecDeque<Webhook> = VecDeque::new();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let Some(next) = backlog.front() else {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = sim.webhooks_ready() => backlog.extend(sim.drain_webhooks()),
                }
                continue;
            };
            // A delivery in flight is finished (bounded by the send timeout), not abandoned:
            // the receiver may already have accepted it.
            match self.send(std::slice::from_ref(next)).await {
                Ok(()) => {
                    backlog.pop_front();
                    backoff = FIRST_BACKOFF;
                }
                Err(error) if error.is_transient() => {
                    let wait = error.retry_after().unwrap_or(backoff);
                    tracing::warn!(
                        status = error.status(),
                        wait_ms = wait.as_millis() as u64,
                        "webhook delivery failed, retrying"
                    );
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(status = error.status(), event_id = %next.event_id, "webhook refused for good, skipped");
                    backlog.pop_front();
                }
            }
        }
        sim.requeue_webhooks(backlog.into_iter().collect());
    }
}
