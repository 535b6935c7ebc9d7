//! Scheduled archiving inside `serve` (`[retention]`, docs/operations.md "Retention"): every
//! interval, the events recorded more than `archive_after_days` ago go to verified segments in
//! `archive_dir` and out of the live database, exactly as `syncledger archive` does it
//! (docs/log.md, "Archiving"). The decisions (what a run archives, when the next one starts)
//! are `syncledger_core::retention`'s; this is the IO around them.
//!
//! One run at a time across processes: a run holds the archiver's lease (a row of
//! `entity_leases` under a fixed id), renewed while it runs. Progress goes to the log at info
//! level, at most one line every 5 seconds, and a summary at the end; metrics:
//!
//! - `syncledger_archive_runs_total{outcome="archived|nothing|skipped|failed"}`
//! - `syncledger_archive_failures_total`
//! - `syncledger_archive_events_total` (events written to segments) and
//!   `syncledger_archive_removed_total` (events taken out of the live database)
//! - `syncledger_archive_last_success_seconds` (Unix time of the last run that did not fail)
//! - `syncledger_archive_last_run_duration_seconds`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use syncledger_core::config::RetentionConfig;
use syncledger_core::retention;
use syncledger_store::Store;
use syncledger_store::archive::{ArchiveProgress, ArchiveReport, ArchiveRequest, Before};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::EngineError;
use crate::snapshots::StreamSnapshots;

/// The lease a run holds (no entity has this id: entity ids are v5/v7 UUIDs).
pub const ARCHIVER_LEASE: Uuid = Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_a4c1_0001);
/// How long the lease lasts without renewal (a process killed mid-run holds it no longer).
const LEASE_TTL: Duration = Duration::from_secs(120);
/// At most one progress line this often (a run over millions of events reports thousands of
/// steps).
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What one scheduled run did.
#[derive(Debug)]
pub enum RunOutcome {
    /// Segments written (or a cut-short run's events removed).
    Archived(ArchiveReport),
    /// Nothing old enough that was not archived already.
    Nothing,
    /// Another process holds the archiver's lease: its run does the work.
    Skipped,
}

pub struct Retention {
    store: Store,
    after_days: u32,
    dir: PathBuf,
    interval: Duration,
    owner: String,
}

impl Retention {
    /// `None` when `config` has no `[retention]` or it is paused. The archive directory is
    /// created (and checked writable) here, so a mistake in it stops `serve` at start.
    pub fn from_config(
        store: Store,
        config: Option<&RetentionConfig>,
        owner: &str,
    ) -> Result<Option<Retention>, String> {
        let Some(config) = config.filter(|c| c.enabled) else {
            return Ok(None);
        };
        let Some(after_days) = config.archive_after_days else {
            return Err("retention.archive_after_days: must be set".into());
        };
        let dir = PathBuf::from(&config.archive_dir);
        writable(&dir).map_err(|e| format!("retention.archive_dir: {e}"))?;
        Ok(Some(Retention {
            store,
            after_days,
            dir,
            interval: config.interval(),
            owner: format!("{owner}-archiver"),
        }))
    }

    /// Runs on schedule until `stop`; a failed run is logged, counted and retried sooner.
    pub async fn run(self, stop: CancellationToken) {
        let mut wait = retention::first_delay(self.interval);
        let mut failures = 0u32;
        tracing::info!(
            dir = %self.dir.display(),
            after_days = self.after_days,
            interval_secs = self.interval.as_secs(),
            "scheduled archiving on"
        );
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let started = Instant::now();
            let outcome = tokio::select! {
                _ = stop.cancelled() => {
                    // The run stops where it is: segments not yet recorded are written again
                    // next time, recorded ones are removed next time (docs/log.md).
                    let _ = self.store.release_lease(ARCHIVER_LEASE, &self.owner).await;
                    return;
                }
                outcome = self.run_once(Utc::now()) => outcome,
            };
            metrics::gauge!("syncledger_archive_last_run_duration_seconds")
                .set(started.elapsed().as_secs_f64());
            let label = match &outcome {
                Ok(RunOutcome::Archived(_)) => "archived",
                Ok(RunOutcome::Nothing) => "nothing",
                Ok(RunOutcome::Skipped) => "skipped",
                Err(_) => "failed",
            };
            metrics::counter!("syncledger_archive_runs_total", "outcome" => label).increment(1);
            match outcome {
                Ok(outcome) => {
                    failures = 0;
                    if !matches!(outcome, RunOutcome::Skipped) {
                        metrics::gauge!("syncledger_archive_last_success_seconds")
                            .set(Utc::now().timestamp() as f64);
                    }
                    if let RunOutcome::Archived(report) = &outcome {
                        metrics::counter!("syncledger_archive_events_total")
                            .increment(report.archived);
                        metrics::counter!("syncledger_archive_removed_total")
                            .increment(report.removed);
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    metrics::counter!("syncledger_archive_failures_total").increment(1);
                    tracing::error!(error = %e, failures, "scheduled archiving failed");
                }
            }
            wait = retention::next_delay(self.interval, failures);
        }
    }

    /// One run at `now`: the archiver's lease, then the archive, the lease renewed meanwhile.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<RunOutcome, EngineError> {
        if !self
            .store
            .try_lease(ARCHIVER_LEASE, &self.owner, LEASE_TTL)
            .await?
        {
            tracing::debug!("another process is archiving");
            return Ok(RunOutcome::Skipped);
        }
        let before = retention::archive_before(now, self.after_days);
        tracing::info!(%before, dir = %self.dir.display(), "archiving: run started");
        let request = ArchiveRequest {
            before: Before::Time(before),
            dir: self.dir.clone(),
        };
        let archives = self.store.archives();
        let last_line = std::sync::Mutex::new(None::<Instant>);
        let progress = |p: ArchiveProgress| {
            let mut last = last_line.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < PROGRESS_EVERY) {
                return;
            }
            *last = Some(Instant::now());
            log_progress(p);
        };
        let archived = archives.archive(&request, &StreamSnapshots, &progress);
        tokio::pin!(archived);
        let mut renew = tokio::time::interval(LEASE_TTL / 3);
        renew.tick().await;
        let result = loop {
            tokio::select! {
                result = &mut archived => break result,
                _ = renew.tick() => {
                    match self.store.renew_lease(ARCHIVER_LEASE, &self.owner, LEASE_TTL).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("the archiver's lease was lost mid-run"),
                        Err(e) => tracing::warn!(error = %e, "renewing the archiver's lease failed"),
                    }
                }
            }
        };
        let _ = self.store.release_lease(ARCHIVER_LEASE, &self.owner).await;
        let report = result?;
        tracing::info!(
            archived = report.archived,
            removed = report.removed,
            snapshots = report.snapshots,
            segments = report.segments.len(),
            through = ?report.through,
            bytes_before = report.bytes_before,
            bytes_after = report.bytes_after,
            "archiving: run finished"
        );
        if report.archived == 0 && report.removed == 0 {
            Ok(RunOutcome::Nothing)
        } else {
            Ok(RunOutcome::Archived(report))
        }
    }
}

fn log_progress(p: ArchiveProgress) {
    match p {
        ArchiveProgress::Written { done, total } => {
            tracing::info!(done, total, "archiving: events written to segments")
        }
        ArchiveProgress::Snapshotted { done, total } => {
            tracing::info!(done, total, "archiving: streams snapshotted")
        }
        ArchiveProgress::Removed { done } => {
            tracing::info!(done, "archiving: events removed from the live database")
        }
    }
}

/// Creates `dir` when missing and checks a file can be written in it.
fn writable(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".syncledger-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}
