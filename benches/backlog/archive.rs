//! `--archive-share PCT`: once the backlog has drained and the service stopped, the oldest PCT
//! percent of the log is archived by the binary's own `syncledger archive`, and the bench
//! reads what the live database gave back (issue 32's archiving target: the live database falls
//! by at least 80% of the archived events' share of it).
//!
//! The share is the archived events' part of the log's own bytes (every `events` table or
//! partition with its indexes, at the bytes per event measured just before); the fall is the
//! whole live database before minus after, so the snapshots (`stream_archives`) and anything
//! else the run adds count against it. On PostgreSQL the cut falls on a partition boundary (the
//! run archives whole partitions), so the bench sets a partition width of a twentieth of the
//! expected log; SQLite cuts exactly.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::truth::{Db, Relation};

/// What one archive run did to the live database.
pub struct Archived {
    pub events_before: i64,
    pub archived: i64,
    /// Bytes of every table and index, before and after (PostgreSQL vacuumed first).
    pub live_before: i64,
    pub live_after: i64,
    /// The log's tables and indexes before the run.
    pub log_bytes_before: i64,
    pub snapshots: i64,
    pub snapshot_bytes: i64,
    pub segment_bytes: u64,
    pub seconds: f64,
}

impl Archived {
    /// The archived events' part of the live database before the run.
    pub fn share(&self) -> f64 {
        self.archived as f64 * self.log_bytes_before as f64 / self.events_before.max(1) as f64
    }

    pub fn fall(&self) -> i64 {
        self.live_before - self.live_after
    }

    pub fn fall_of_share(&self) -> f64 {
        self.fall() as f64 / self.share().max(1.0)
    }
}

/// A partition width for a log of about this many events: twenty partitions, so the cut of a
/// whole partition lands within 5% of the share asked for.
pub fn partition_width(records: usize) -> u64 {
    ((records as u64 * 12) / 20).max(1_024)
}

fn sum(relations: &[Relation], table: impl Fn(&str) -> bool) -> i64 {
    relations
        .iter()
        .filter(|r| table(&r.table))
        .map(|r| r.bytes)
        .sum()
}

fn is_log(table: &str) -> bool {
    table == "events" || table.starts_with("events_p")
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

pub async fn run(
    truth: &Db,
    bin: &Path,
    config: &Path,
    folder: &Path,
    percent: u64,
    before: &[Relation],
) -> anyhow::Result<Archived> {
    let (events_before, last) = truth.log_extent().await?;
    let cut = last * percent as i64 / 100;
    let to = folder.join("archive");
    eprintln!("archiving the events before position {cut} of {last}");
    let started = Instant::now();
    let status = Command::new(bin)
        .args(["archive", "--config"])
        .arg(config)
        .arg("--before")
        .arg(cut.to_string())
        .arg("--to")
        .arg(&to)
        .env("RUST_LOG", "warn")
        .status()?;
    anyhow::ensure!(status.success(), "syncledger archive failed");
    let seconds = started.elapsed().as_secs_f64();
    truth.vacuum().await?;
    let after = truth.relations().await?;
    let (events_after, _) = truth.log_extent().await?;
    Ok(Archived {
        events_before,
        archived: events_before - events_after,
        live_before: sum(before, |_| true),
        live_after: sum(&after, |_| true),
        log_bytes_before: sum(before, is_log),
        snapshots: truth.count("stream_archives").await?,
        snapshot_bytes: sum(&after, |t| t == "stream_archives"),
        segment_bytes: dir_bytes(&to),
        seconds,
    })
}
