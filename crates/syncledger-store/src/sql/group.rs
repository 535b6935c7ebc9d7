//! Group commit: concurrent appends share one transaction.
//!
//! Every `append` is handed to one committer task per store. The task takes whatever appends are
//! waiting when it is free and commits them together: one transaction, one read of the streams'
//! versions, one upsert of those versions, one multi-row insert of the events, one pass of the
//! inline projections, one checkpoint update, one commit. On PostgreSQL the log part of that is
//! one call of `syncledger_append` (migration 0004), sent in autocommit mode when no inline
//! projection writes with it. The cost of a transaction (and on SQLite, of every statement's
//! trip to the connection's thread) is paid once per group instead of once per append.
//!
//! Nobody waits for a group to fill: an append that finds nothing committing and nothing queued
//! is committed alone, straight away, on PostgreSQL on its caller's task (no hand-over to the
//! committer and back; `dialect::COMMIT_ON_CALLER`); appends arriving meanwhile queue, and the
//! committer takes them as one group once it is done.
//!
//! Each append keeps its own guarantees. Its expected versions are checked against the versions
//! read under the write lock, in the order the appends joined the group, so an append that
//! expects the version another member of the group just moved fails as if it had committed
//! after that one; a failed append writes nothing and gets the same [`StoreError::Conflict`] (or,
//! for a retry of a stored append, the same answer) as on its own. Anything unusual in the group
//! path (a unique violation from a retried append, a new stream another process created
//! meanwhile on PostgreSQL, a claim of a key another entity holds, any database error) rolls the group back and commits its appends
//! one by one through the ordinary path, which knows how to answer each case.
//!
//! The committer runs on its own task so that a caller dropping its future (an HTTP client that
//! hangs up) cannot abandon the other appends of its group half way.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use syncledger_core::log::{Appended, Conflict, StreamAppend};
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

use super::append::validate;
use super::{Inner, dialect, now};
use crate::StoreError;
use crate::error::is_unique_violation;
use crate::types::GroupStats;
use crate::written::Written;

/// At most this many appends share a transaction.
const MAX_APPENDS: usize = 256;
/// And at most about this many events (a group stops growing once it has this many).
const MAX_EVENTS: usize = 2_000;

type Reply = oneshot::Sender<Result<Vec<Appended>, StoreError>>;

struct Job {
    appends: Vec<StreamAppend>,
    ids: Vec<Uuid>,
    reply: Reply,
}

/// The handle to the committer task, started on the first append.
#[derive(Default)]
pub(crate) struct Committer {
    sender: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    /// Appends handed to the committer and not yet taken into a group (a test hook).
    queued: Arc<AtomicUsize>,
    /// Commits under way: an append committed on its caller's task, or the committer's group.
    active: Arc<AtomicUsize>,
    /// Signalled when an append committed on its caller's task is done.
    idle: Arc<Notify>,
    /// Groups committed as one transaction, and the appends they held (for benchmarks).
    groups: AtomicU64,
    grouped: AtomicU64,
    busy_nanos: AtomicU64,
}

impl Committer {
    fn sender(&self, inner: &Arc<Inner>) -> mpsc::UnboundedSender<Job> {
        let mut slot = self.sender.lock().expect("committer slot");
        match slot.as_ref() {
            Some(sender) if !sender.is_closed() => sender.clone(),
            _ => {
                // First use, or the runtime that ran the previous task is gone.
                let (sender, receiver) = mpsc::unbounded_channel();
                dialect::spawn_committer(run(
                    Arc::downgrade(inner),
                    receiver,
                    self.queued.clone(),
                    self.active.clone(),
                    self.idle.clone(),
                ));
                *slot = Some(sender.clone());
                sender
            }
        }
    }
}

impl Committer {
    pub(crate) fn stats(&self) -> GroupStats {
        GroupStats {
            queued: self.queued.load(Ordering::SeqCst),
            groups: self.groups.load(Ordering::Relaxed),
            appends: self.grouped.load(Ordering::Relaxed),
            busy: std::time::Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed)),
        }
    }
}

impl Inner {
    /// Appends through the committer (see the module doc).
    pub(crate) async fn append(
        self: &Arc<Self>,
        appends: Vec<StreamAppend>,
    ) -> Result<Vec<Appended>, StoreError> {
        let ids = validate(&appends)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Nothing committing and nothing queued: commit on the caller's task, without the two
        // hand-overs to and from the committer. Appends arriving meanwhile queue for the
        // committer, which waits for this one and takes them as one group.
        if dialect::COMMIT_ON_CALLER
            && self.group.queued.load(Ordering::SeqCst) == 0
            && self
                .group
                .active
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            let _turn = Turn(&self.group);
            return self.append_alone(appends).await;
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            appends,
            ids,
            reply,
        };
        self.group.queued.fetch_add(1, Ordering::SeqCst);
        if let Err(mpsc::error::SendError(job)) = self.group.sender(self).send(job) {
            self.group.queued.fetch_sub(1, Ordering::SeqCst);
            return self.append_alone(job.appends).await;
        }
        answer.await.map_err(|_| {
            StoreError::Unavailable("the store's committer stopped before answering".into())
        })?
    }

    async fn commit_group(self: &Arc<Self>, jobs: Vec<Job>) {
        if jobs.len() == 1 {
            let job = jobs.into_iter().next().expect("one job");
            let _ = job.reply.send(self.append_alone(job.appends).await);
            return;
        }
        match self.try_group(&jobs).await {
            Ok(Some(results)) => {
                self.committed_appends();
                self.group.groups.fetch_add(1, Ordering::Relaxed);
                self.group
                    .grouped
                    .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                for (job, result) in jobs.into_iter().zip(results) {
                    let answer = match result {
                        Ok(appended) => Ok(appended),
                        Err(conflict) => self.answer_conflict(&job.ids, conflict).await,
                    };
                    let _ = job.reply.send(answer);
                }
            }
            Ok(None) | Err(_) => {
                for job in jobs {
                    let _ = job.reply.send(self.append_alone(job.appends).await);
                }
            }
        }
    }

    /// A conflicting member of a group: a retry of a stored append gets where it landed.
    async fn answer_conflict(
        self: &Arc<Self>,
        ids: &[Uuid],
        conflict: Conflict,
    ) -> Result<Vec<Appended>, StoreError> {
        self.already_stored(ids, conflict).await?.commit().await
    }

    /// Commits the group in one transaction. `Ok(None)`: rolled back, commit one by one.
    /// Per job: where its events landed, or the conflict that kept it out.
    async fn try_group(
        self: &Arc<Self>,
        jobs: &[Job],
    ) -> Result<Option<Vec<Result<Vec<Appended>, Conflict>>>, StoreError> {
        let recorded_at = now();
        let parts: Vec<&[StreamAppend]> = jobs.iter().map(|j| j.appends.as_slice()).collect();
        if dialect::ONE_STATEMENT && !self.has_inline() {
            // One statement in autocommit mode: it is the group's transaction.
            let mut conn = self.write.acquire().await?;
            let written =
                dialect::write_appends(&mut conn, &self.shared, &parts, recorded_at).await;
            return match written {
                Ok(Written::Landed(verdicts)) => Ok(Some(verdicts)),
                Ok(Written::Retry) => Ok(None),
                Err(err) if is_unique_violation(&err) => Ok(None),
                Err(err) => Err(err.into()),
            };
        }
        let mut tx = dialect::begin_write(self).await?;
        let verdicts =
            match dialect::write_appends(&mut tx, &self.shared, &parts, recorded_at).await {
                Ok(Written::Landed(verdicts)) => verdicts,
                Ok(Written::Retry) => {
                    tx.rollback().await?;
                    return Ok(None);
                }
                Err(err) if is_unique_violation(&err) => {
                    tx.rollback().await?;
                    return Ok(None);
                }
                Err(err) => return Err(err.into()),
            };
        let mut accepted: Vec<StreamAppend> = Vec::new();
        let mut appended: Vec<Appended> = Vec::new();
        let mut units: Vec<usize> = Vec::new();
        for (job, verdict) in jobs.iter().zip(&verdicts) {
            if let Ok(landed) = verdict {
                accepted.extend(job.appends.iter().cloned());
                appended.extend_from_slice(landed);
                units.push(job.appends.len());
            }
        }
        if appended.is_empty() {
            tx.rollback().await?;
        } else {
            self.apply_inline(&mut tx, accepted, &appended, &units)
                .await?;
            tx.commit().await?;
        }
        Ok(Some(verdicts))
    }
}

/// An append committing on its caller's task; dropping it (also when the caller drops its
/// future) lets the committer go on.
struct Turn<'a>(&'a Committer);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.idle.notify_one();
    }
}

/// The committer task: commits whatever is waiting, as one group, until the store is gone.
async fn run(
    store: Weak<Inner>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    queued: Arc<AtomicUsize>,
    active: Arc<AtomicUsize>,
    idle: Arc<Notify>,
) {
    while let Some(first) = jobs.recv().await {
        // An append committing on its caller's task goes first; what queued meanwhile is
        // taken as one group once it is done.
        while active
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            idle.notified().await;
        }
        let mut events = first.ids.len();
        let mut group = vec![first];
        while group.len() < MAX_APPENDS && events < MAX_EVENTS {
            match jobs.try_recv() {
                Ok(job) => {
                    events += job.ids.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        queued.fetch_sub(group.len(), Ordering::SeqCst);
        let Some(inner) = store.upgrade() else {
            return; // dropping the group's reply senders answers "stopped"
        };
        let started = std::time::Instant::now();
        inner.commit_group(group).await;
        active.fetch_sub(1, Ordering::SeqCst);
        inner
            .group
            .busy_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}
