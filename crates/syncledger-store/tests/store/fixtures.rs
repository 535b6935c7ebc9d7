//! Events and projections the scenarios share.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use syncledger_core::log::{EventMeta, ExpectedVersion, NewEvent, RecordedEvent, StreamAppend};
use syncledger_core::projection::{Lookups, Mode, Projection, Row, RowOp};
use syncledger_store::coalesce::apply_op;
use uuid::Uuid;

pub fn event(event_type: &str, payload: Value) -> NewEvent {
    event_for("acme", event_type, payload)
}

pub fn event_for(tenant: &str, event_type: &str, payload: Value) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: event_type.into(),
        schema_version: 1,
        payload,
        meta: EventMeta {
            tenant: tenant.into(),
            correlation_id: Some(Uuid::now_v7()),
            causation_id: None,
        },
    }
}

pub fn to(stream_id: Uuid, expected: ExpectedVersion, events: Vec<NewEvent>) -> StreamAppend {
    StreamAppend {
        stream_id,
        expected,
        events,
    }
}

pub fn some_events(n: usize) -> Vec<NewEvent> {
    (0..n).map(|i| event("noted", json!({ "i": i }))).collect()
}

/// A projection that exercises every kind of row operation, all derived from the event only:
/// the latest state per stream (Put, deleted by a "deleted" event), the first payload per stream
/// (PutIfAbsent), a counter per event type (Add 1), and a running sum per tenant (Add amount).
pub struct Ledger {
    pub name: &'static str,
    pub mode: Mode,
}

impl Ledger {
    pub fn arc(name: &'static str, mode: Mode) -> Arc<dyn Projection> {
        Arc::new(Ledger { name, mode })
    }

    /// The fixture projection, asking the store for `lookups` instead of the default.
    pub fn with_lookups(name: &'static str, mode: Mode, lookups: Lookups) -> Arc<dyn Projection> {
        Arc::new(WithLookups(Ledger { name, mode }, lookups))
    }
}

struct WithLookups(Ledger, Lookups);

impl Projection for WithLookups {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn mode(&self) -> Mode {
        self.0.mode()
    }
    fn apply(&self, event: &RecordedEvent) -> Vec<RowOp> {
        self.0.apply(event)
    }
    fn lookups(&self) -> Lookups {
        self.1
    }
}

/// The runtime a property test drives its async store on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

impl Projection for Ledger {
    fn name(&self) -> &'static str {
        self.name
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn apply(&self, e: &RecordedEvent) -> Vec<RowOp> {
        let tenant = e.meta.tenant.clone();
        let row = |key: String, sort_key: String, entity: Option<Uuid>, doc: Value, n: i64| Row {
            key,
            tenant: tenant.clone(),
            entity_id: entity,
            sort_key,
            doc,
            n,
        };
        let stream_key = format!("stream:{}", e.stream_id);
        let mut ops = vec![
            RowOp::PutIfAbsent(row(
                format!("first:{}", e.stream_id),
                format!("first:{}", e.stream_id),
                Some(e.stream_id),
                e.payload.clone(),
                e.sequence as i64,
            )),
            RowOp::Add(row(
                format!("count:{}", e.event_type),
                format!("count:{}", e.event_type),
                None,
                json!({ "type": e.event_type }),
                1,
            )),
        ];
        if e.event_type == "deleted" {
            ops.push(RowOp::Delete { key: stream_key });
        } else {
            ops.push(RowOp::Put(row(
                stream_key,
                format!("stream:{:08}", e.sequence),
                Some(e.stream_id),
                json!({ "type": e.event_type, "payload": e.payload, "at": e.position.0 }),
                e.sequence as i64,
            )));
        }
        if let Some(amount) = e.payload.get("amount").and_then(Value::as_i64) {
            ops.push(RowOp::Add(row(
                format!("sum:{}", e.meta.tenant),
                "sum".into(),
                None,
                json!({ "tenant": e.meta.tenant }),
                amount,
            )));
        }
        ops
    }
}

/// What a projection's table must hold after `events`: its ops applied one by one.
pub fn model(projection: &dyn Projection, events: &[RecordedEvent]) -> Vec<Row> {
    let mut table = BTreeMap::new();
    for e in events {
        for op in projection.apply(e) {
            apply_op(&mut table, op);
        }
    }
    let mut rows: Vec<Row> = table.into_values().collect();
    rows.sort_by(|a, b| (&a.sort_key, &a.key).cmp(&(&b.sort_key, &b.key)));
    rows
}
