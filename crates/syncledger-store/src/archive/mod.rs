//! Archiving: old events leave the live database for verified segment files (docs/log.md,
//! "Archiving"). [`Archiver`] is the room that does it; it holds the store's backend and the
//! archive directory's files (`segment`). The steps, in order: check the archive as it is,
//! choose the cut, write and read back segments, record them with each stream's snapshot in
//! one transaction, then remove the archived events the backend's way.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use syncledger_core::log::RecordedEvent;
use uuid::Uuid;

use crate::StoreError;

pub mod segment;

pub use segment::{Manifest, SegmentInfo};

/// What to archive: every event before a position, or recorded before a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    Position(i64),
    Time(DateTime<Utc>),
}

/// One archive run's wish.
#[derive(Debug, Clone)]
pub struct ArchiveRequest {
    pub before: Before,
    pub dir: PathBuf,
}

/// Where a long run is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveProgress {
    /// Events written to verified segments, of `total`.
    Written { done: u64, total: u64 },
    /// Streams snapshotted, of `total`.
    Snapshotted { done: u64, total: u64 },
    /// Archived events taken out of the live database so far.
    Removed { done: u64 },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// The segments this run wrote.
    pub segments: Vec<SegmentInfo>,
    /// Every event at or below this position is archived (this run's or an earlier one's).
    pub through: Option<i64>,
    /// Events this run wrote to segments.
    pub archived: u64,
    /// Events this run took out of the live database (archived now or by a run cut short).
    pub removed: u64,
    /// Streams whose snapshot this run wrote.
    pub snapshots: u64,
    /// The live database's size before and after (bytes).
    pub bytes_before: i64,
    pub bytes_after: i64,
}

/// Where a stream's first events went: sequences `1..=version`, the newest segment holding
/// them, when, and the stream's state at `version` when a snapshotter gave one.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamArchive {
    pub stream_id: Uuid,
    pub version: u64,
    pub segment: i64,
    pub archived_at: DateTime<Utc>,
    pub state: Option<Value>,
}

impl StreamArchive {
    /// "42 earlier events archived on 2026-12-01 in segment 0007".
    pub fn note(&self) -> String {
        format!(
            "{} earlier event{} archived on {} in segment {:04}",
            self.version,
            if self.version == 1 { "" } else { "s" },
            self.archived_at.format("%Y-%m-%d"),
            self.segment
        )
    }
}

/// Folds the streams the archive cuts: the store does not know what a stream's state is, its
/// caller does (the engine folds entities and initial syncs).
pub trait Snapshotter: Send + Sync {
    /// The state of `stream_id` after `events` (its next archived events, in sequence order),
    /// starting from `prior` (the previous snapshot's state, `None` from the stream's start).
    /// `None`: this stream has no state worth keeping.
    fn snapshot(
        &self,
        stream_id: Uuid,
        prior: Option<&Value>,
        events: &[RecordedEvent],
    ) -> Option<Value>;
}

/// A snapshotter that keeps no state (for logs whose streams nobody folds).
pub struct NoSnapshots;

impl Snapshotter for NoSnapshots {
    fn snapshot(&self, _: Uuid, _: Option<&Value>, _: &[RecordedEvent]) -> Option<Value> {
        None
    }
}

/// The sync's snapshotter: entities' and initial syncs' streams, folded by the core
/// (`syncledger_core::snapshot::StreamState`). Archiving a sync's log always uses this one.
pub struct StreamSnapshots;

impl Snapshotter for StreamSnapshots {
    fn snapshot(
        &self,
        stream_id: Uuid,
        prior: Option<&Value>,
        events: &[RecordedEvent],
    ) -> Option<Value> {
        syncledger_core::snapshot::StreamState::advance(stream_id, prior, events).to_value()
    }
}

/// The archiving room of a store: cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Archives {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<crate::sqlite::Inner>),
    Postgres(Arc<crate::postgres::Inner>),
}

macro_rules! dispatch {
    ($self:expr, $inner:ident => $body:expr) => {
        match &$self.backend {
            Backend::Sqlite($inner) => $body,
            Backend::Postgres($inner) => $body,
        }
    };
}

impl Archives {
    pub(crate) fn sqlite(inner: Arc<crate::sqlite::Inner>) -> Self {
        Archives {
            backend: Backend::Sqlite(inner),
        }
    }

    pub(crate) fn postgres(inner: Arc<crate::postgres::Inner>) -> Self {
        Archives {
            backend: Backend::Postgres(inner),
        }
    }

    /// Archives the events before `request.before` to `request.dir` (docs/log.md). A corrupt
    /// or missing segment of the directory is refused before anything is written or removed.
    pub async fn archive(
        &self,
        request: &ArchiveRequest,
        snapshotter: &dyn Snapshotter,
        progress: &(dyn Fn(ArchiveProgress) + Sync),
    ) -> Result<ArchiveReport, StoreError> {
        dispatch!(self, s => s.archive(request, snapshotter, progress).await)
    }

    /// Where the stream's first events went, if any were archived.
    pub async fn stream(&self, stream_id: Uuid) -> Result<Option<StreamArchive>, StoreError> {
        dispatch!(self, s => s.stream_archive(stream_id).await)
    }

    /// Every segment this database recorded, in order.
    pub async fn segments(&self) -> Result<Vec<SegmentInfo>, StoreError> {
        dispatch!(self, s => s.archived_segments().await)
    }

    /// The live database's size in bytes.
    pub async fn database_bytes(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.database_bytes().await)
    }

    /// PostgreSQL: [`Archives::set_partition_width`] unless the database has that width
    /// already (so a setting given at every start costs nothing once applied); whether it set
    /// it. SQLite: nothing to set.
    pub async fn apply_partition_width(&self, width: i64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.apply_partition_width(width).await)
    }

    /// PostgreSQL: positions per partition from the next position on (default 1,048,576);
    /// SQLite: nothing to set.
    pub async fn set_partition_width(&self, width: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_partition_width(width).await)
    }
}

impl Archives {
    /// Rebuilds a projection from the archive in `dir` (every segment checked), then the live
    /// log after it, and swaps it in as [`crate::Store::rebuild`] does.
    pub async fn rebuild(
        &self,
        projection: &str,
        dir: &std::path::Path,
        progress: impl Fn(crate::RebuildProgress) + Send + Sync,
    ) -> Result<crate::RebuildProgress, StoreError> {
        dispatch!(self, s => s.rebuild(projection, Some(dir), &progress, &mut crate::no_hook).await)
    }
}

impl Archives {
    /// The archived events of a stream, read from the segments in `dir`, in sequence order.
    pub async fn read_stream(
        &self,
        dir: &std::path::Path,
        stream_id: Uuid,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.read_archived_stream(dir, stream_id).await)
    }
}
