//! The retry policy around any [`Connector`]: what [`crate::HttpConnector`] does inside, offered
//! for connectors that do not retry themselves, such as the in-process `syncledger_sim::SimSystem`.
//!
//! The simulator wraps a `SimSystem` in this to run the engine against the same retry behaviour
//! it meets in production, with a [`crate::RecordingSleeper`] and a fixed jitter seed so a run is
//! reproducible.

use std::sync::Arc;

use serde_json::Value;

use crate::connector::BoxFuture;
use crate::retry::{Retrier, RetryPolicy, Sleeper, TokioSleeper};
use crate::{Connector, ConnectorError, Page, Record};

/// `C` with transient failures retried under a [`RetryPolicy`].
pub struct RetryingConnector<C> {
    inner: C,
    retrier: Retrier,
}

impl<C: Connector> RetryingConnector<C> {
    /// Sleeps on the tokio timer, jitter seeded from the OS.
    pub fn new(inner: C, policy: RetryPolicy) -> Self {
        Self::with_sleeper(inner, policy, Arc::new(TokioSleeper), None)
    }

    /// Waits through `sleeper`; a `jitter_seed` makes the schedule reproducible.
    pub fn with_sleeper(
        inner: C,
        policy: RetryPolicy,
        sleeper: Arc<dyn Sleeper>,
        jitter_seed: Option<u64>,
    ) -> Self {
        RetryingConnector {
            inner,
            retrier: Retrier::new(policy, sleeper, jitter_seed),
        }
    }

    /// The wrapped connector.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

impl<C: Connector> Connector for RetryingConnector<C> {
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Record>, ConnectorError>> {
        let path = format!("/{collection}/{id}");
        Box::pin(async move {
            let inner = &self.inner;
            self.retrier
                .run("GET", &path, move || inner.get(collection, id))
                .await
        })
    }

    fn create<'a>(
        &'a self,
        collection: &'a str,
        body: &'a Value,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        let path = format!("/{collection}");
        Box::pin(async move {
            let inner = &self.inner;
            self.retrier
                .run("POST", &path, move || {
                    inner.create(collection, body, idempotency_key)
                })
                .await
        })
    }

    fn update<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
        patch: &'a Value,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        let path = format!("/{collection}/{id}");
        Box::pin(async move {
            let inner = &self.inner;
            self.retrier
                .run("PATCH", &path, move || inner.update(collection, id, patch))
                .await
        })
    }

    fn delete<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        let path = format!("/{collection}/{id}");
        Box::pin(async move {
            let inner = &self.inner;
            self.retrier
                .run("DELETE", &path, move || inner.delete(collection, id))
                .await
        })
    }

    fn list<'a>(
        &'a self,
        collection: &'a str,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, ConnectorError>> {
        let path = format!("/{collection}");
        Box::pin(async move {
            let inner = &self.inner;
            self.retrier
                .run("GET", &path, move || inner.list(collection, limit, cursor))
                .await
        })
    }
}
