//! Wake-ups for other processes, sent after commit (PostgreSQL).
//!
//! A subscriber in another process learns of new events from `NOTIFY syncledger_events`
//! (`postgres.rs`, the LISTEN task) or, failing that, from its poll timer. Appends used to queue
//! the NOTIFY inside their own transaction; PostgreSQL serialises the commits of notifying
//! transactions (NOTIFY takes a database-wide lock from pre-commit through the commit), so every
//! concurrent append waited for every other's commit. Since migration 0011 no append notifies:
//! after a commit that appended events, the store kicks this notifier, which sends one NOTIFY
//! from a connection of its own.
//!
//! At most one NOTIFY is in flight per process. A commit while one is in flight leaves one
//! pending kick (a [`Notify`] permit, however many commits there were), and that sends exactly
//! one more once the first is done: every commit is followed by a NOTIFY sent after it, and a
//! burst of commits costs two. Two NOTIFYs are at least [`GAP`] (10 ms) apart, so a busy
//! process sends at most 100 a second whatever its commit rate. The NOTIFY's own transaction
//! does not wait for its WAL flush (`synchronous_commit = off`): a notification is not durable
//! anyway, it is delivered at commit.
//!
//! What a crash costs: a process that dies between an append's commit and its NOTIFY (or whose
//! notifier connection fails) leaves other processes' subscribers to find the events by their
//! poll (`poll_interval`, 1 s by default). Latency, never an event: a wake-up only ever means
//! "read again from your cursor".

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The least time between two NOTIFYs of one process: a commit soon after a NOTIFY waits for
/// up to this long for its own (other processes' readers learn of it that much later), so under
/// load a process sends at most 100 a second, each for every commit since the one before. A
/// commit after a quiet spell is notified at once. With 2 ms a single writer still spent about
/// a fifth more CPU per append than with the NOTIFY inside the append (docs/benchmarks.md).
const GAP: Duration = Duration::from_millis(10);

/// The per-store notifier: kicked after commits, started on the first kick.
#[derive(Default)]
pub(crate) struct Notifier {
    kicks: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Notifier {
    /// After a commit that appended events: makes sure one NOTIFY is sent after now.
    pub(crate) fn kick(&self, connect: &PgConnectOptions, closed: &CancellationToken) {
        {
            let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
            // First use, or the runtime that ran the previous task is gone.
            if task.as_ref().is_none_or(|t| t.is_finished()) && !closed.is_cancelled() {
                let sender = Connection {
                    connect: connect.clone(),
                    conn: None,
                };
                *task = Some(tokio::spawn(run(
                    self.kicks.clone(),
                    closed.clone(),
                    sender,
                    GAP,
                )));
            }
        }
        self.kicks.notify_one();
    }
}

/// What the notifier's task does per kick (a trait so that tests can hold a send open).
trait Wake {
    fn send(&mut self) -> impl Future<Output = ()> + Send;
}

/// The notifier's connection, opened on first use and again after a failure.
struct Connection {
    connect: PgConnectOptions,
    conn: Option<PgConnection>,
}

impl Wake for Connection {
    async fn send(&mut self) {
        if let Err(err) = self.try_send().await {
            // The connection is dropped and opened again next time; meanwhile other processes
            // find new events by their poll.
            self.conn = None;
            tracing::warn!(error = %err, "sending the append wake-up failed; readers will poll");
        }
    }
}

impl Connection {
    async fn try_send(&mut self) -> Result<(), sqlx::Error> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let mut conn = PgConnection::connect_with(&self.connect).await?;
                // A notification is delivered at commit and is not durable anyway.
                sqlx::query("SET synchronous_commit = off")
                    .execute(&mut conn)
                    .await?;
                self.conn.insert(conn)
            }
        };
        sqlx::query("NOTIFY syncledger_events, 'appended'")
            .execute(conn)
            .await
            .map(drop)
    }
}

/// Sends once per kick, never two at once; kicks while a send runs add up to one more send,
/// and a send starts no sooner than `gap` after the one before. Returns when `closed` is
/// cancelled (closing the connection with it).
async fn run(kicks: Arc<Notify>, closed: CancellationToken, mut sender: impl Wake, gap: Duration) {
    let mut last: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = closed.cancelled() => return,
            _ = kicks.notified() => {}
        }
        if let Some(last) = last {
            tokio::time::sleep_until(last + gap).await;
        }
        last = Some(Instant::now());
        sender.send().await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;

    /// Reports each send's start and end; each send waits for its own permission to end.
    struct Held {
        log: mpsc::UnboundedSender<&'static str>,
        gate: Arc<tokio::sync::Semaphore>,
    }

    impl Wake for Held {
        async fn send(&mut self) {
            self.log.send("start").unwrap();
            self.gate.acquire().await.unwrap().forget();
            self.log.send("end").unwrap();
        }
    }

    /// The test runtime has one thread: the notifier's task runs only while the test awaits,
    /// so what it did is settled whenever the test looks.
    #[tokio::test]
    async fn commits_during_a_send_are_followed_by_exactly_one_more_send() {
        let (log, mut sent) = mpsc::unbounded_channel();
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let kicks = Arc::new(Notify::new());
        let closed = CancellationToken::new();
        let task = tokio::spawn(run(
            kicks.clone(),
            closed.clone(),
            Held {
                log,
                gate: gate.clone(),
            },
            Duration::ZERO,
        ));

        // Given a send in flight,
        kicks.notify_one();
        assert_eq!(sent.recv().await, Some("start"));
        // when five more commits kick it meanwhile,
        for _ in 0..5 {
            kicks.notify_one();
        }
        // then it finishes, sends once more (after those commits), and then waits.
        gate.add_permits(1);
        assert_eq!(sent.recv().await, Some("end"));
        assert_eq!(sent.recv().await, Some("start"));
        gate.add_permits(1);
        assert_eq!(sent.recv().await, Some("end"));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(sent.try_recv().is_err(), "a third send without a kick");

        // A later commit gets a send of its own.
        kicks.notify_one();
        assert_eq!(sent.recv().await, Some("start"));
        gate.add_permits(1);
        assert_eq!(sent.recv().await, Some("end"));

        closed.cancel();
        task.await.unwrap();
    }
}
