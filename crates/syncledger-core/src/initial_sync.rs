//! The initial sync of one tenant and entity type, folded from its stream.
//!
//! Bringing syncledger up on systems that already hold records is recorded like everything
//! else: a stream per (tenant, entity type), whose id is a UUID v5 of both ([`stream_id`]), holds
//! `InitialSyncStarted`, one `InitialSyncPageRead` per page read (system, the cursor it was read
//! with, the next cursor, how many records) and `InitialSyncCompleted`. Whether the sync ever ran,
//! where it stopped and what it found is this fold of that stream, never a guess from the rest of
//! the log ("the log is empty" is not "never started": a webhook may arrive first).
//!
//! [`InitialSync::next_step`] is the whole resume logic, pure: the next page to read is the
//! recorded next cursor of the first system not listed yet. The engine reads that page, appends
//! its `InitialSyncPageRead` (and the page's discoveries) expecting the version this fold was
//! taken at, so a page is recorded once even with two processes racing, and folds again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::SyncEvent;
use crate::log::RecordedEvent;

/// The deterministic stream of the initial sync of `entity_type` for `tenant`.
pub fn stream_id(tenant: &str, entity_type: &str) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x3b0e_51c2_96d4_4a7e_8f3c_2d61_0c9a_7e55);
    let name = format!("initial-sync\u{1f}{tenant}\u{1f}{entity_type}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// Where a tenant's initial sync of one entity type stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    NotStarted,
    Running,
    Completed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::NotStarted => "not_started",
            Phase::Running => "running",
            Phase::Completed => "completed",
        }
    }
}

/// One system's listing within a run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Listing {
    pub pages: u64,
    pub records: u64,
    /// The cursor of the next page to read (`None` before the first page).
    pub next_cursor: Option<String>,
    /// Every page of the system is recorded.
    pub listed: bool,
}

/// The latest run (a `reconcile --repair` starts another).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: Uuid,
    pub by: String,
    /// The systems in listing order, each with its progress.
    pub systems: Vec<(String, Listing)>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Run {
    pub fn pages(&self) -> u64 {
        self.systems.iter().map(|(_, l)| l.pages).sum()
    }

    pub fn records(&self) -> u64 {
        self.systems.iter().map(|(_, l)| l.records).sum()
    }
}

/// What the initial sync does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing recorded yet: append `InitialSyncStarted`.
    Start,
    /// Read this page of this system.
    ReadPage {
        system: String,
        cursor: Option<String>,
    },
    /// Every system is listed: append `InitialSyncCompleted`.
    Complete,
    /// The latest run is completed.
    Done,
}

/// The fold of an initial-sync stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InitialSync {
    /// The stream's last sequence number: the expected version of the next append.
    pub version: u64,
    pub run: Option<Run>,
    /// Runs completed before the latest one.
    pub earlier_runs: u32,
}

impl InitialSync {
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a RecordedEvent>) -> Self {
        let mut sync = InitialSync::default();
        for event in events {
            sync.apply(event);
        }
        sync
    }

    pub fn apply(&mut self, event: &RecordedEvent) {
        self.version = event.sequence;
        match SyncEvent::from_recorded(event) {
            Ok(SyncEvent::InitialSyncStarted(e)) => {
                if self.run.is_some() {
                    self.earlier_runs += 1;
                }
                self.run = Some(Run {
                    run_id: e.run_id,
                    by: e.by,
                    systems: e
                        .systems
                        .into_iter()
                        .map(|s| (s, Listing::default()))
                        .collect(),
                    started_at: event.recorded_at,
                    finished_at: None,
                });
            }
            Ok(SyncEvent::InitialSyncPageRead(e)) => {
                let Some(run) = self.run.as_mut().filter(|r| r.run_id == e.run_id) else {
                    return;
                };
                if let Some((_, listing)) = run.systems.iter_mut().find(|(s, _)| *s == e.system) {
                    listing.pages += 1;
                    listing.records += e.records;
                    // A system that hands back the cursor it was given would loop for ever.
                    listing.listed = e.next_cursor.is_none() || e.next_cursor == e.cursor;
                    listing.next_cursor = e.next_cursor;
                }
            }
            Ok(SyncEvent::InitialSyncCompleted(e)) => {
                if let Some(run) = self.run.as_mut().filter(|r| r.run_id == e.run_id) {
                    run.finished_at = Some(event.recorded_at);
                }
            }
            _ => {}
        }
    }

    pub fn phase(&self) -> Phase {
        match &self.run {
            None => Phase::NotStarted,
            Some(run) if run.finished_at.is_some() => Phase::Completed,
            Some(_) => Phase::Running,
        }
    }

    /// What to do next; the resume point after a crash is simply this.
    pub fn next_step(&self) -> Step {
        let Some(run) = &self.run else {
            return Step::Start;
        };
        if run.finished_at.is_some() {
            return Step::Done;
        }
        match run.systems.iter().find(|(_, l)| !l.listed) {
            Some((system, listing)) => Step::ReadPage {
                system: system.clone(),
                cursor: listing.next_cursor.clone(),
            },
            None => Step::Complete,
        }
    }

    /// Whether a create towards `system` must wait: the latest run is listing and has not
    /// finished listing `system`, so a record there with the same match keys may still be
    /// unknown to the log. A sync never started holds nothing (the service records the start of
    /// every configured sync before its workers run).
    pub fn holds_creates_towards(&self, system: &str) -> Option<Uuid> {
        let run = self.run.as_ref().filter(|r| r.finished_at.is_none())?;
        let listed = run
            .systems
            .iter()
            .find(|(s, _)| s == system)
            .is_none_or(|(_, l)| l.listed);
        (!listed).then_some(run.run_id)
    }
}

pub mod hold;
#[cfg(test)]
mod hold_tests;
#[cfg(test)]
mod tests;
