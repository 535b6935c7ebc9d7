//! A simulated connected system: in memory, deterministic, and faithful to CONTRACT §1.
//!
//! [`SimSystem`] is what tests, the deterministic simulator and `syncledger demo` sync against.
//! It keeps collections of JSON records, assigns ids `{prefix}-{n}`, honours `Idempotency-Key`,
//! and feeds every change, whether made through the API or by a simulated user
//! ([`SimSystem::user_create`] and friends), into an outbox of webhooks in the order the changes
//! happened. A change made through the API is in the outbox *before* the request answers, as
//! the contract allows real systems to do.
//!
//! It is reachable two ways with identical behaviour: in process (it implements
//! [`syncledger_connector::Connector`]; see [`inprocess`]) and over real HTTP ([`serve_http`]).
//! Faults are scripted per operation ([`Fault`], [`PausedWrite`]) or standing
//! ([`SimSystem::set_down`], [`SimSystem::set_latency`]); ETags and `If-Match` are switched on
//! per system ([`SimSystem::set_etags`]); every request is counted and logged
//! so tests can assert "exactly one POST".
//!
//! A crate of its own so the production connector carries no HTTP server: tests, benches and
//! the demo depend on it; the service does not.
#![forbid(unsafe_code)]

mod conditions;
mod exec;
mod faults;
mod http;
mod huge;
mod inprocess;
mod store;
mod versions;
mod webhooks;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use syncledger_connector::Record;
use tokio::sync::Notify;

pub use faults::{Fault, Op, PausedWrite, RequestLog};
pub use http::{serve_http, serve_http_with_shutdown};
pub use webhooks::{Webhook, WebhookAction, WebhookSender};

use conditions::Conditions;
use faults::Gate;
use store::Collections;
use versions::Versions;

/// Where `occurred_at` comes from.
#[derive(Debug, Clone)]
enum Clock {
    Wall,
    /// Starts at `next` and advances by `step` per change: reproducible timestamps.
    Logical {
        next: DateTime<Utc>,
        step: TimeDelta,
    },
}

/// An in-memory connected system. Share it as `Arc<SimSystem>`.
#[derive(Debug)]
pub struct SimSystem {
    state: Mutex<State>,
    webhooks_ready: Notify,
    /// Bytes of [`Fault::HugeBody`] answers handed to a connection so far.
    huge_sent: AtomicU64,
}

#[derive(Debug)]
struct State {
    data: Collections,
    prefix: String,
    clock: Clock,
    next_event: u64,
    /// `(collection, key)` -> the first answer's record, replayed for the same key.
    idempotency: HashMap<(String, String), Value>,
    outbox: VecDeque<Webhook>,
    faults: [VecDeque<Fault>; 5],
    pauses: [VecDeque<Gate>; 5],
    counts: [usize; 5],
    log: Vec<RequestLog>,
    conditions: Conditions,
    versions: Versions,
}

impl SimSystem {
    /// A system whose ids look like `{prefix}-1`, with wall-clock webhook times.
    pub fn new(prefix: &str) -> Self {
        Self::with_clock(prefix, Clock::Wall)
    }

    /// A system whose webhook times start at `start` and advance by `step` per change.
    pub fn with_logical_clock(prefix: &str, start: DateTime<Utc>, step: Duration) -> Self {
        let step = TimeDelta::from_std(step).unwrap_or(TimeDelta::milliseconds(1));
        Self::with_clock(prefix, Clock::Logical { next: start, step })
    }

    fn with_clock(prefix: &str, clock: Clock) -> Self {
        SimSystem {
            state: Mutex::new(State {
                data: Collections::new(prefix),
                prefix: prefix.to_owned(),
                clock,
                next_event: 1,
                idempotency: HashMap::new(),
                outbox: VecDeque::new(),
                faults: Default::default(),
                pauses: Default::default(),
                counts: [0; 5],
                log: Vec::new(),
                conditions: Conditions::default(),
                versions: Versions::default(),
            }),
            webhooks_ready: Notify::new(),
            huge_sent: AtomicU64::new(0),
        }
    }

    // ----- inspecting state -----

    /// Bytes of [`Fault::HugeBody`] answers handed to a connection so far: how far a reader
    /// read before it stopped (plus what the connection's buffers took).
    pub fn huge_bytes_sent(&self) -> u64 {
        self.huge_sent.load(Ordering::Relaxed)
    }

    /// Every record of `collection`, in creation order.
    pub fn records(&self, collection: &str) -> Vec<Record> {
        let state = lock(&self.state);
        state
            .data
            .all(collection)
            .into_iter()
            .map(to_record)
            .collect()
    }

    /// One record, if it exists.
    pub fn record(&self, collection: &str, id: &str) -> Option<Record> {
        lock(&self.state)
            .data
            .get(collection, id)
            .cloned()
            .map(to_record)
    }

    /// How many records `collection` holds.
    pub fn count(&self, collection: &str) -> usize {
        lock(&self.state).data.all(collection).len()
    }

    /// The records whose top-level `field` equals `value`.
    pub fn find_by_field(&self, collection: &str, field: &str, value: &Value) -> Vec<Record> {
        self.records(collection)
            .into_iter()
            .filter(|r| r.field(field) == Some(value))
            .collect()
    }

    // ----- a simulated user at work (not the sync): changes that produce webhooks -----

    /// Creates a record as a user of the system would.
    ///
    /// # Panics
    /// When `fields` is not a JSON object: a test bug, not a simulated condition.
    pub fn user_create(&self, collection: &str, fields: Value) -> Record {
        let Value::Object(fields) = fields else {
            panic!("user_create takes a JSON object of fields");
        };
        let record = lock(&self.state).create(collection, fields);
        self.webhooks_ready.notify_one();
        to_record(record)
    }

    /// Patches a record (JSON Merge Patch); `None` when it does not exist.
    ///
    /// # Panics
    /// When `patch` is not a JSON object.
    pub fn user_update(&self, collection: &str, id: &str, patch: Value) -> Option<Record> {
        let Value::Object(patch) = patch else {
            panic!("user_update takes a JSON object of changed fields");
        };
        let record = lock(&self.state).update(collection, id, &patch);
        self.webhooks_ready.notify_one();
        record.map(to_record)
    }

    /// Deletes a record; whether it existed.
    pub fn user_delete(&self, collection: &str, id: &str) -> bool {
        let existed = lock(&self.state).delete(collection, id);
        self.webhooks_ready.notify_one();
        existed
    }

    // ----- the change feed -----

    /// Takes every webhook emitted so far, oldest first.
    pub fn drain_webhooks(&self) -> Vec<Webhook> {
        lock(&self.state).outbox.drain(..).collect()
    }

    /// The webhooks waiting in the outbox, without taking them.
    pub fn pending_webhooks(&self) -> Vec<Webhook> {
        lock(&self.state).outbox.iter().cloned().collect()
    }

    /// Resolves once a change may have been added to the outbox since the last call.
    pub async fn webhooks_ready(&self) {
        if !lock(&self.state).outbox.is_empty() {
            return;
        }
        self.webhooks_ready.notified().await;
    }

    pub(crate) fn requeue_webhooks(&self, webhooks: Vec<Webhook>) {
        let mut state = lock(&self.state);
        for webhook in webhooks.into_iter().rev() {
            state.outbox.push_front(webhook);
        }
    }

    // ----- faults and observation -----

    /// Queues `fault` for a coming request of `op`; queued faults are met in order.
    pub fn fail_next(&self, op: Op, fault: Fault) {
        lock(&self.state).faults[op.index()].push_back(fault);
    }

    /// Pauses the next request of `op` that gets past the fault queue, after it is applied (its
    /// webhook already in the outbox) and before it answers. Release or drop the handle to let it
    /// answer.
    pub fn pause_next(&self, op: Op) -> PausedWrite {
        let (gate, paused) = Gate::new();
        lock(&self.state).pauses[op.index()].push_back(gate);
        paused
    }

    /// How many requests of `op` arrived through the API (faulted ones included).
    pub fn requests(&self, op: Op) -> usize {
        lock(&self.state).counts[op.index()]
    }

    /// Every API request received so far, oldest first.
    pub fn request_log(&self) -> Vec<RequestLog> {
        lock(&self.state).log.clone()
    }
}

/// A poisoned lock only means another thread panicked mid-change; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn to_record(body: Value) -> Record {
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    Record {
        id,
        body,
        etag: None,
    }
}
