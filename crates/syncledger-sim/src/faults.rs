//! Scripted misbehaviour for the simulated system, deterministic by construction.
//!
//! Nothing here is random: a test queues exactly the faults it wants per operation
//! ([`Fault`]), and the next requests of that operation meet them in order. A pause
//! ([`PausedWrite`]) holds one request after its effect is applied (and its webhook is in the
//! outbox) but before it answers, which is the window where the contract's hardest races live:
//! the webhook can be delivered first, or the caller can "crash" by dropping the request.

use std::collections::BTreeMap;

use syncledger_connector::Record;
use tokio::sync::oneshot;

/// The operations of the connector contract, as the simulated system counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Get,
    Create,
    Update,
    Delete,
    List,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Get, Op::Create, Op::Update, Op::Delete, Op::List];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What the next request of an operation meets instead of a normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and body; nothing is applied.
    Status(u16, String),
    /// Never answer; nothing is applied. In process the call fails at once as a timeout would.
    Timeout,
    /// `429` with `Retry-After: secs`; nothing is applied.
    RetryAfter(u64),
    /// Apply the request (webhook included), then never answer: the caller cannot know the
    /// outcome, as after a dropped connection.
    LostResponse,
    /// `200` with a body of this many bytes (the record's id, then padding), made while it is
    /// sent, so a test can answer 300 MB without holding them; nothing is applied. In process
    /// the call fails as the connector's size limit would refuse it.
    HugeBody(u64),
}

/// One request as the simulated system received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    pub op: Op,
    pub collection: String,
    pub record_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// Header names in lower case. Empty for in-process calls.
    pub headers: BTreeMap<String, String>,
    /// When it arrived (before any standing latency): what a quota is counted against.
    pub at: std::time::Instant,
}

/// The system's side of a pause: told when the request is applied, waits for the release.
#[derive(Debug)]
pub(crate) struct Gate {
    applied: oneshot::Sender<Option<Record>>,
    release: oneshot::Receiver<()>,
}

impl Gate {
    pub fn new() -> (Gate, PausedWrite) {
        let (applied_tx, applied_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        let gate = Gate {
            applied: applied_tx,
            release: release_rx,
        };
        let paused = PausedWrite {
            applied: Some(applied_rx),
            answer: None,
            release: Some(release_tx),
        };
        (gate, paused)
    }

    /// Reports the applied request and waits until the test releases (or drops) the pause.
    pub async fn hold(self, answer: Option<Record>) {
        // The test may have dropped its handle already: then there is no one to wait for.
        if self.applied.send(answer).is_ok() {
            let _released_or_dropped = self.release.await;
        }
    }
}

/// A test's handle on a paused request. Dropping it releases the request.
#[derive(Debug)]
pub struct PausedWrite {
    applied: Option<oneshot::Receiver<Option<Record>>>,
    answer: Option<Record>,
    release: Option<oneshot::Sender<()>>,
}

impl PausedWrite {
    /// Waits until the paused request has been applied; returns the record it will answer with
    /// (`None` for a delete or an error answer). Returns `None` too if the request never came
    /// and the system was dropped.
    pub async fn applied(&mut self) -> Option<Record> {
        if let Some(applied) = self.applied.as_mut() {
            self.answer = applied.await.ok().flatten();
            // A completed oneshot must not be polled again.
            self.applied = None;
        }
        self.answer.clone()
    }

    /// Lets the request answer.
    pub fn release(mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
    }
}
