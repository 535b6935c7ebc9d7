//! The ledger's connector to a simulated system, with the misbehaviour the system itself cannot
//! script: the *caller* dying in the middle of a write.
//!
//! A crash is armed for the next write (create, update or delete). When that write comes, the
//! connector either applies it and then never answers (`AfterApply`: the process died while the
//! answer was on its way) or never sends it (`BeforeCall`: the process died between recording
//! the request and making the call). Either way it fires [`FaultyConnector::crashed`], and the
//! test drops the job that was waiting: no outcome is ever recorded by that process.
//!
//! A fetch of a chosen record can also be scripted to misbehave in ways a well-behaved system
//! never does ([`Fetch`]): panic inside the job, answer with another record, or hold the job
//! until the test lets it go.

use std::collections::HashMap;
use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use syncledger_connector::{BoxFuture, Connector, ConnectorError, Page, Record};
use syncledger_sim::SimSystem;
use tokio::sync::{Notify, Semaphore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// The write is applied (and its webhook emitted); the answer never comes.
    AfterApply,
    /// The process dies before the call: the system never sees the write.
    BeforeCall,
}

/// How a scripted fetch misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// The job panics inside the fetch (a bug reached from outside).
    Panic,
    /// The system answers with this other record id (breaks the contract: invalid answer).
    AnswerWith(String),
}

pub struct FaultyConnector {
    inner: Arc<SimSystem>,
    crash: Mutex<Option<Crash>>,
    crashed: Arc<Notify>,
    fetches: Mutex<HashMap<String, Fetch>>,
    /// While held, every fetch waits for a permit here (see [`FaultyConnector::hold_fetches`]).
    hold: Mutex<Option<Arc<Semaphore>>>,
    /// Fetches that started (and are waiting, while held).
    started: AtomicUsize,
}

impl FaultyConnector {
    pub fn new(inner: Arc<SimSystem>) -> Self {
        FaultyConnector {
            inner,
            crash: Mutex::new(None),
            crashed: Arc::new(Notify::new()),
            fetches: Mutex::new(HashMap::new()),
            hold: Mutex::new(None),
            started: AtomicUsize::new(0),
        }
    }

    /// Every fetch of `record_id` misbehaves as `how`.
    pub fn script_fetch(&self, record_id: &str, how: Fetch) {
        self.fetches
            .lock()
            .expect("fetch scripts")
            .insert(record_id.to_string(), how);
    }

    /// From now on every fetch waits until [`FaultyConnector::release_fetches`].
    pub fn hold_fetches(&self) {
        *self.hold.lock().expect("hold") = Some(Arc::new(Semaphore::new(0)));
    }

    /// Lets every held and later fetch through.
    pub fn release_fetches(&self) {
        if let Some(gate) = self.hold.lock().expect("hold").take() {
            gate.add_permits(Semaphore::MAX_PERMITS / 2);
        }
    }

    /// How many fetches have started so far.
    pub fn fetches_started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// The next write through this connector crashes its caller.
    pub fn crash_next_write(&self, how: Crash) {
        *self.crash.lock().expect("crash slot") = Some(how);
    }

    pub fn disarm(&self) -> Option<Crash> {
        self.crash.lock().expect("crash slot").take()
    }

    /// Resolves when an armed crash has happened (at once if it happened before the call).
    pub async fn crashed(&self) {
        self.crashed.notified().await
    }

    /// Wakes [`FaultyConnector::crashed`]; the write then never finishes.
    async fn die<T>(&self) -> T {
        self.crashed.notify_one();
        pending::<T>().await
    }

    fn take_crash(&self) -> Option<Crash> {
        self.crash.lock().expect("crash slot").take()
    }
}

impl Connector for FaultyConnector {
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Record>, ConnectorError>> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            let gate = self.hold.lock().expect("hold").clone();
            if let Some(gate) = gate {
                let _ = gate.acquire().await;
            }
            let script = self.fetches.lock().expect("fetch scripts").get(id).cloned();
            match script {
                None => self.inner.get(collection, id).await,
                Some(Fetch::Panic) => panic!("scripted panic fetching {id}"),
                Some(Fetch::AnswerWith(other)) => Err(ConnectorError::Invalid(format!(
                    "asked for record {id:?}, the system answered with {other:?}"
                ))),
            }
        })
    }

    fn create<'a>(
        &'a self,
        collection: &'a str,
        body: &'a Value,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Record, ConnectorError>> {
        Box::pin(async move {
            match self.take_crash() {
                None => self.inner.create(collection, body, key).await,
                Some(Crash::AfterApply) => {
                    let _lost = self.inner.create(collection, body, key).await;
                    self.die().await
                }
                Some(Crash::BeforeCall) => self.die().await,
            }
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
            match self.take_crash() {
                None => self.inner.update_if(collection, id, patch, if_match).await,
                Some(Crash::AfterApply) => {
                    let _lost = self.inner.update_if(collection, id, patch, if_match).await;
                    self.die().await
                }
                Some(Crash::BeforeCall) => self.die().await,
            }
        })
    }

    fn delete_if<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            match self.take_crash() {
                None => self.inner.delete_if(collection, id, if_match).await,
                Some(Crash::AfterApply) => {
                    let _lost = self.inner.delete_if(collection, id, if_match).await;
                    self.die().await
                }
                Some(Crash::BeforeCall) => self.die().await,
            }
        })
    }

    fn list<'a>(
        &'a self,
        collection: &'a str,
        limit: u32,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, ConnectorError>> {
        self.inner.list(collection, limit, cursor)
    }
}

/// Runs `job` until the armed crash happens, then drops it, as the process's death would.
///
/// # Panics
/// When the job finishes without crashing: the scenario armed a crash that never came.
pub async fn until_crash<T: std::fmt::Debug>(conn: &FaultyConnector, job: impl Future<Output = T>) {
    tokio::select! {
        biased;
        () = conn.crashed() => {}
        done = job => panic!("the job finished instead of crashing: {done:?}"),
    }
}
