//! The simulated system as an in-process [`Connector`]: no sockets, same semantics.
//!
//! Each call goes through the same request path as the HTTP face and its answer is read by the
//! same code as [`syncledger_connector::HttpConnector`]'s. A request that would never answer (a scripted
//! timeout or lost response) fails at once as a transient timeout, so simulations stay
//! deterministic and fast. Like the HTTP connector, a call is one request and never retried: a
//! fault comes back at once as its error, and the engine decides what follows.

use serde_json::Value;
use syncledger_connector::body;
use syncledger_connector::response::{self, Answer};
use syncledger_connector::{BoxFuture, Connector, ConnectorError, Page, Record};

use crate::SimSystem;
use crate::exec::{Reply, SimRequest};
use crate::faults::Op;

impl SimSystem {
    async fn call(&self, request: SimRequest) -> Result<Answer, ConnectorError> {
        let Reply {
            mut answer,
            hang,
            huge,
        } = self.execute(request).await;
        if hang {
            return Err(ConnectorError::no_answer("timed out (simulated)"));
        }
        if let Some(total) = huge {
            // What the HTTP connector's default limit would make of it.
            if total > body::DEFAULT_MAX_RESPONSE_BYTES as u64 {
                return Err(body::too_large(body::DEFAULT_MAX_RESPONSE_BYTES));
            }
            answer.body = crate::huge::text(&answer.body, total);
        }
        Ok(answer)
    }
}

impl Connector for SimSystem {
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Record>, ConnectorError>> {
        Box::pin(async move {
            let mut request = SimRequest::new(Op::Get, collection);
            request.id = Some(id.to_owned());
            response::optional_record(&self.call(request).await?, id)
        })
    }

    fn create<'a>(
        &'a self,
        collection: &'a str,
        body: &'a Value,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        Box::pin(async move {
            let mut request = SimRequest::new(Op::Create, collection);
            request.body = Some(body.clone());
            request.idempotency_key = Some(idempotency_key.to_owned());
            response::record(&self.call(request).await?, None)
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
            let mut request = SimRequest::new(Op::Update, collection);
            request.id = Some(id.to_owned());
            request.if_match = if_match.map(str::to_owned);
            request.body = Some(patch.clone());
            response::record(&self.call(request).await?, Some(id))
        })
    }

    fn delete_if<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let mut request = SimRequest::new(Op::Delete, collection);
            request.id = Some(id.to_owned());
            request.if_match = if_match.map(str::to_owned);
            response::deleted(&self.call(request).await?)
        })
    }

    fn list<'a>(
        &'a self,
        collection: &'a str,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, ConnectorError>> {
        Box::pin(async move {
            let mut request = SimRequest::new(Op::List, collection);
            request.limit = Some(limit);
            request.cursor = cursor.map(str::to_owned);
            response::page(&self.call(request).await?)
        })
    }
}
