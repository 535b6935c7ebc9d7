//! The connector contract (CONTRACT §1) as a trait: five calls against a collection of JSON records.
//!
//! The trait is object safe (it returns boxed futures) so the engine can hold one
//! `Arc<dyn Connector>` per connected system and not care whether the system is a real HTTP
//! service ([`crate::HttpConnector`]) or the in-process `syncledger_sim::SimSystem`.
//!
//! Semantics every implementation keeps: a missing record is `Ok(None)` on `get`, and a delete of
//! a record that is already gone is `Ok(())`: both are facts, not failures.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ConnectorError;

pub use futures::future::BoxFuture;

/// One record of a connected system: its id and the whole JSON object (which holds `"id"` too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub body: Value,
    /// The record's version as the system's `ETag` header gave it, when it gives one: sent
    /// back as `If-Match` so a write lands only on the version it was decided about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Record {
    /// Reads a record from a system's answer: a JSON object whose `"id"` is a non-empty string.
    pub fn from_body(body: Value) -> Result<Record, ConnectorError> {
        let Value::Object(fields) = &body else {
            return Err(ConnectorError::Invalid(format!(
                "expected a JSON object, got {}",
                kind_of(&body)
            )));
        };
        match fields.get("id") {
            Some(Value::String(id)) if !id.is_empty() => Ok(Record {
                id: id.clone(),
                body,
                etag: None,
            }),
            Some(other) => Err(ConnectorError::Invalid(format!(
                "\"id\" must be a non-empty string, got {}",
                kind_of(other)
            ))),
            None => Err(ConnectorError::Invalid(
                "the object has no \"id\"".to_owned(),
            )),
        }
    }

    /// The value at a top-level field, if present.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.body.get(name)
    }
}

/// One page of a collection listing; `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub items: Vec<Record>,
    pub next_cursor: Option<String>,
}

/// A connected system, spoken to through the connector contract.
///
/// Implementations do not retry: a call is one request, and a transient error comes back at once
/// (with the system's `Retry-After`) for the engine to reschedule the work.
pub trait Connector: Send + Sync {
    /// `GET {collection}/{id}`: `Ok(None)` when the system answers 404.
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Record>, ConnectorError>>;

    /// `POST {collection}` with `Idempotency-Key`: the same key never creates twice.
    fn create<'a>(
        &'a self,
        collection: &'a str,
        body: &'a Value,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>>;

    /// `PATCH {collection}/{id}` with the changed fields (`null` clears one); answers the whole
    /// record. With `if_match`, sent as `If-Match`: a record changed since is
    /// [`ConnectorError::PreconditionFailed`].
    fn update_if<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
        patch: &'a Value,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>>;

    /// `DELETE {collection}/{id}`: a record already gone (404) counts as deleted. With
    /// `if_match`, sent as `If-Match`, as for [`Connector::update_if`].
    fn delete_if<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), ConnectorError>>;

    /// An unconditional `PATCH`.
    fn update<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
        patch: &'a Value,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        self.update_if(collection, id, patch, None)
    }

    /// An unconditional `DELETE`.
    fn delete<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        self.delete_if(collection, id, None)
    }

    /// `GET {collection}?limit=N&cursor=C`: one page, in the system's order.
    fn list<'a>(
        &'a self,
        collection: &'a str,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, ConnectorError>>;
}

/// Shared and borrowed connectors are connectors: `Arc<dyn Connector>` for the engine, `&SimSystem`
/// for a test that wraps a system it also inspects.
macro_rules! forward_connector {
    ($($wrapper:ty),*) => {$(
        impl<C: Connector + ?Sized> Connector for $wrapper {
            fn get<'a>(
                &'a self,
                collection: &'a str,
                id: &'a str,
            ) -> BoxFuture<'a, Result<Option<Record>, ConnectorError>> {
                (**self).get(collection, id)
            }

            fn create<'a>(
                &'a self,
                collection: &'a str,
                body: &'a Value,
                idempotency_key: &'a str,
            ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
                (**self).create(collection, body, idempotency_key)
            }

            fn update_if<'a>(
                &'a self,
                collection: &'a str,
                id: &'a str,
                patch: &'a Value,
                if_match: Option<&'a str>,
            ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
                (**self).update_if(collection, id, patch, if_match)
            }

            fn delete_if<'a>(
                &'a self,
                collection: &'a str,
                id: &'a str,
                if_match: Option<&'a str>,
            ) -> BoxFuture<'a, Result<(), ConnectorError>> {
                (**self).delete_if(collection, id, if_match)
            }

            fn list<'a>(
                &'a self,
                collection: &'a str,
                limit: u32,
                cursor: Option<&'a str>,
            ) -> BoxFuture<'a, Result<Page, ConnectorError>> {
                (**self).list(collection, limit, cursor)
            }
        }
    )*};
}

forward_connector!(Arc<C>, &C);

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_needs_a_string_id() {
        let ok = Record::from_body(json!({"id": "c-1", "name": "Ada"})).unwrap();
        assert_eq!(ok.id, "c-1");
        assert_eq!(ok.field("name"), Some(&json!("Ada")));
        assert!(Record::from_body(json!({"name": "Ada"})).is_err());
        assert!(Record::from_body(json!({"id": 7})).is_err());
        assert!(Record::from_body(json!({"id": ""})).is_err());
        assert!(Record::from_body(json!(["c-1"])).is_err());
    }
}
