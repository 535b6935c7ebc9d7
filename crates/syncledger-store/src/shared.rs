//! State both backends keep beside their pools: the projection registry, the upcasters, the
//! "log changed" signal that wakes subscribers, and the guards of running rebuilds.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use syncledger_core::log::{RecordedEvent, Upcasters};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::StoreError;
use crate::seal::Keyring;
use crate::types::{Registry, StoreOptions};

/// A pooled connection used within this long is handed out as it is; one idle for longer is
/// pinged first. sqlx pings every connection it hands out by default, a round trip before each
/// append and each page read; it also pings every connection given back, so one that failed is
/// dropped then. What remains unchecked is a connection that broke while idle for less than
/// this: its next statement fails once (`Unavailable`), and it is dropped.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// `before_acquire` for both backends' pools (with `test_before_acquire(false)`).
pub(crate) fn ping_if_idle<C: sqlx::Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if meta.idle_for >= PING_AFTER_IDLE {
            conn.ping().await?;
        }
        Ok(true)
    })
}

pub(crate) struct Shared {
    pub(crate) registry: Registry,
    upcasters: Arc<Upcasters>,
    pub(crate) poll_interval: Duration,
    pub(crate) batch_size: usize,
    /// Bumped after every commit that appended events (and by the PostgreSQL listener on NOTIFY).
    /// Subscribers only learn "something may be new" from it; they always re-read the log.
    signal: watch::Sender<u64>,
    /// Writers waiting for the lock that orders positions: on PostgreSQL the log-order advisory
    /// lock (appends, rebuild swaps, migrations), on SQLite the write connection (every write
    /// transaction). Tests use it to know a concurrent append has reached the lock before they
    /// release the one holding it.
    appends_waiting: AtomicUsize,
    /// Subscriptions that found nothing new and wait for a wake-up (for tests, like the above).
    subscribers_parked: AtomicUsize,
    rebuilding: Mutex<HashSet<String>>,
    /// Cancelled when the last handle to the store goes: background tasks watch it.
    pub(crate) closed: CancellationToken,
    /// The data keys this process has opened; `None`: values are not sealed (no master key).
    pub(crate) keyring: Option<Arc<Keyring>>,
}

impl Shared {
    pub(crate) fn new(options: StoreOptions) -> Result<Self, StoreError> {
        if options.batch_size == 0 {
            return Err(StoreError::InvalidInput(
                "batch_size must be positive".into(),
            ));
        }
        Ok(Shared {
            registry: Registry::new(&options.projections)?,
            upcasters: Arc::new(options.upcasters),
            poll_interval: options.poll_interval,
            batch_size: options.batch_size,
            signal: watch::Sender::new(0),
            appends_waiting: AtomicUsize::new(0),
            subscribers_parked: AtomicUsize::new(0),
            rebuilding: Mutex::new(HashSet::new()),
            closed: CancellationToken::new(),
            keyring: options.master_key.map(|m| Arc::new(Keyring::new(m))),
        })
    }

    pub(crate) fn upcast(&self, event: RecordedEvent) -> RecordedEvent {
        self.upcasters.apply(event)
    }

    /// For tasks that outlive a borrow of the store (a rebuild's scan).
    pub(crate) fn upcasters(&self) -> Arc<Upcasters> {
        self.upcasters.clone()
    }

    pub(crate) fn notify_appended(&self) {
        self.signal.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn signal(&self) -> &watch::Sender<u64> {
        &self.signal
    }

    pub(crate) fn watch_appends(&self) -> watch::Receiver<u64> {
        self.signal.subscribe()
    }

    /// Counts the caller as waiting for the append lock until the guard drops.
    pub(crate) fn waiting_for_lock(&self) -> WaitingGuard<'_> {
        self.appends_waiting.fetch_add(1, Ordering::SeqCst);
        WaitingGuard(&self.appends_waiting)
    }

    pub(crate) fn appends_waiting(&self) -> usize {
        self.appends_waiting.load(Ordering::SeqCst)
    }

    /// Counts the caller as a parked subscriber until the guard drops.
    pub(crate) fn parked(&self) -> WaitingGuard<'_> {
        self.subscribers_parked.fetch_add(1, Ordering::SeqCst);
        WaitingGuard(&self.subscribers_parked)
    }

    pub(crate) fn subscribers_parked(&self) -> usize {
        self.subscribers_parked.load(Ordering::SeqCst)
    }

    /// Claims the right to rebuild `name` in this process; the claim ends when the guard drops.
    pub(crate) fn claim_rebuild(&self, name: &str) -> Result<RebuildClaim<'_>, StoreError> {
        let mut running = self.rebuilding.lock().unwrap_or_else(|e| e.into_inner());
        if !running.insert(name.to_owned()) {
            return Err(StoreError::InvalidInput(format!(
                "a rebuild of {name} is already running"
            )));
        }
        Ok(RebuildClaim {
            set: &self.rebuilding,
            name: name.to_owned(),
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

pub(crate) struct WaitingGuard<'a>(&'a AtomicUsize);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) struct RebuildClaim<'a> {
    set: &'a Mutex<HashSet<String>>,
    name: String,
}

impl Drop for RebuildClaim<'_> {
    fn drop(&mut self) {
        let mut running = self.set.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(&self.name);
    }
}
