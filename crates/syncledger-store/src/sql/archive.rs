//! An archive run (docs/log.md, "Archiving"), the same on both backends except for the cut and
//! the removal (`dialect`): check the archive directory against the database, write segments and
//! read each back, snapshot the cut streams, record the segments, then remove what they hold.
//! Nothing live changes before the removal, and the removal takes only positions the recorded
//! segments cover.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use syncledger_core::log::RecordedEvent;
use uuid::Uuid;

use super::{EVENT_COLUMNS, EventRow, Inner, dialect, event_from_row, now};
use crate::StoreError;
use crate::archive::segment::{self, Manifest, SegmentInfo};
use crate::archive::{
    ArchiveProgress, ArchiveReport, ArchiveRequest, Before, Snapshotter, StreamArchive,
};

/// Events per segment file.
const SEGMENT_EVENTS: i64 = 20_000;
/// Snapshot rows written per transaction.
const SNAPSHOT_BATCH: usize = 500;

impl Inner {
    pub(crate) async fn archive(
        &self,
        request: &ArchiveRequest,
        snapshotter: &dyn Snapshotter,
        progress: &(dyn Fn(ArchiveProgress) + Sync),
    ) -> Result<ArchiveReport, StoreError> {
        let dir = segment::absolute(&request.dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            StoreError::InvalidInput(format!("archive directory {}: {e}", dir.display()))
        })?;
        let recorded = self.archived_segments().await?;
        let mut manifest = Manifest::load(&dir)?;
        // Listed but never recorded: a run cut short; those files are written again.
        manifest.segments.retain(|s| recorded.contains(s));
        if let Some(missing) = recorded.iter().find(|s| !manifest.segments.contains(s)) {
            return Err(StoreError::InvalidInput(format!(
                "archive segment {:04} of this database is not in {}: archive to the directory \
                 that holds the earlier segments",
                missing.segment,
                dir.display()
            )));
        }
        manifest.check(&dir)?;
        dialect::ensure_partitions(&self.write).await?;
        // Catch-up projections first (they must see everything below the cut anyway), so the
        // sizes before and after differ by what archiving did only.
        self.catch_up_once().await?;
        let mut report = ArchiveReport {
            bytes_before: dialect::database_bytes(&self.read).await?,
            ..ArchiveReport::default()
        };
        let covered = recorded.last().map_or(0, |s| s.to_position);

        let cut = self
            .cut(request.before)
            .await?
            .filter(|&cut| cut > covered + 1);
        if let Some(cut) = cut {
            self.projections_caught_up(cut - 1).await?;
            let written = self
                .write_segments(&dir, &mut manifest, covered, cut, progress)
                .await?;
            let (segments, streams) = written;
            report.archived = segments.iter().map(|s| s.events as u64).sum();
            report.snapshots = self.snapshot(&streams, snapshotter, progress).await?;
            manifest.save(&dir)?;
            self.record(&segments).await?;
            report.segments = segments;
        }
        let through = self
            .archived_segments()
            .await?
            .last()
            .map(|s| s.to_position);
        if let Some(through) = through {
            report.removed = dialect::remove_archived(&self.write, through, &|done| {
                progress(ArchiveProgress::Removed { done })
            })
            .await?;
        }
        report.through = through;
        report.bytes_after = dialect::database_bytes(&self.read).await?;
        Ok(report)
    }

    /// The exclusive position the run cuts at: the wish, never past the newest event (it stays
    /// live), rounded down where the backend removes whole partitions.
    async fn cut(&self, before: Before) -> Result<Option<i64>, StoreError> {
        let head = self.head().await?.0;
        let wish = match before {
            Before::Position(p) => p,
            Before::Time(t) => {
                let first: Option<i64> =
                    sqlx::query_scalar("SELECT MIN(position) FROM events WHERE recorded_at >= $1")
                        .bind(t)
                        .fetch_one(&self.read)
                        .await?;
                first.unwrap_or(head)
            }
        };
        Ok(dialect::cut_at_or_below(&self.write, wish.min(head)).await?)
    }

    /// Catch-up projections must have seen everything below the cut before it leaves.
    async fn projections_caught_up(&self, through: i64) -> Result<(), StoreError> {
        let rebuilding: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM projection_checkpoints WHERE status <> 'live'",
        )
        .fetch_one(&self.read)
        .await?;
        if rebuilding > 0 {
            return Err(StoreError::InvalidInput(
                "a projection is being rebuilt: archive once it is live".into(),
            ));
        }
        self.catch_up_once().await?;
        let behind: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM projection_checkpoints WHERE position < $1")
                .bind(through)
                .fetch_one(&self.read)
                .await?;
        if behind > 0 && self.head().await?.0 >= through {
            // Only registered projections are caught up here; another process's are not.
            tracing::warn!(
                behind,
                "projections unknown to this process are behind the cut"
            );
        }
        Ok(())
    }

    /// Writes the events in `(covered, cut)` to new segments, each read back and compared
    /// before the next. Returns the segments and, per stream, its last archived sequence and
    /// the segment holding it.
    async fn write_segments(
        &self,
        dir: &std::path::Path,
        manifest: &mut Manifest,
        covered: i64,
        cut: i64,
        progress: &(dyn Fn(ArchiveProgress) + Sync),
    ) -> Result<(Vec<SegmentInfo>, BTreeMap<Uuid, (u64, i64)>), StoreError> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE position > $1 AND position < $2")
                .bind(covered)
                .bind(cut)
                .fetch_one(&self.read)
                .await?;
        let mut next = manifest.segments.last().map_or(1, |s| s.segment + 1);
        let mut segments = Vec::new();
        let mut streams = BTreeMap::new();
        let mut after = covered;
        let mut done = 0u64;
        loop {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 AND position < $2 \
                 ORDER BY position LIMIT {SEGMENT_EVENTS}"
            );
            let rows: Vec<EventRow> = sqlx::query_as(AssertSqlSafe(sql))
                .bind(after)
                .bind(cut)
                .fetch_all(&self.read)
                .await?;
            let events: Vec<RecordedEvent> = rows.into_iter().map(event_from_row).collect();
            let Some(last) = events.last().map(|e| e.position.0) else {
                break;
            };
            let last_batch = (events.len() as i64) < SEGMENT_EVENTS;
            let info = SegmentInfo {
                segment: next,
                file: segment::file_name(next),
                from_position: after + 1,
                to_position: if last_batch { cut - 1 } else { last },
                events: events.len() as i64,
                sha256: String::new(),
                archived_at: now(),
            };
            let written = segment::write(&dir.join(&info.file), &events)?;
            let info = SegmentInfo {
                sha256: written.sha256,
                ..info
            };
            let (back, content) = segment::read(dir, &info)?;
            if content != written.content_sha256 || back != events {
                return Err(StoreError::Backend(
                    format!(
                        "archive segment {:04} did not read back as written; nothing was changed",
                        info.segment
                    )
                    .into(),
                ));
            }
            for event in &events {
                streams.insert(event.stream_id, (event.sequence, info.segment));
            }
            done += events.len() as u64;
            progress(ArchiveProgress::Written {
                done,
                total: total as u64,
            });
            after = info.to_position;
            manifest.segments.push(info.clone());
            segments.push(info);
            next += 1;
            if last_batch {
                break;
            }
        }
        Ok((segments, streams))
    }

    /// Writes each cut stream's snapshot: its previous one folded on with the events now
    /// archived. Returns how many streams got one.
    async fn snapshot(
        &self,
        streams: &BTreeMap<Uuid, (u64, i64)>,
        snapshotter: &dyn Snapshotter,
        progress: &(dyn Fn(ArchiveProgress) + Sync),
    ) -> Result<u64, StoreError> {
        let at = now();
        let total = streams.len() as u64;
        let mut done = 0u64;
        let mut batch: Vec<StreamArchive> = Vec::with_capacity(SNAPSHOT_BATCH);
        for (&stream_id, &(version, segment)) in streams {
            let (prior, prior_key) = self.stream_archive_keyed(stream_id).await?;
            let from = prior.as_ref().map_or(1, |p| p.version + 1);
            let mut events = self.stream_as_stored(stream_id, from, version).await?;
            // The snapshot copies the entity's values: it is sealed whole, like a projection
            // row, under the key of the newest event it folds that held a value (or the prior
            // snapshot's), so destroying the entity's keys makes it unreadable too.
            let key = self.open_events_keyed(&mut events).await?.or(prior_key);
            let state = snapshotter
                .snapshot(
                    stream_id,
                    prior.as_ref().and_then(|p| p.state.as_ref()),
                    &events,
                )
                .map(|state| self.seal_doc(key.as_ref(), state));
            batch.push(StreamArchive {
                stream_id,
                version,
                segment,
                archived_at: at,
                state,
            });
            if batch.len() == SNAPSHOT_BATCH {
                self.save_snapshots(&batch).await?;
                done += batch.len() as u64;
                batch.clear();
                progress(ArchiveProgress::Snapshotted { done, total });
            }
        }
        self.save_snapshots(&batch).await?;
        done += batch.len() as u64;
        progress(ArchiveProgress::Snapshotted { done, total });
        Ok(done)
    }

    async fn save_snapshots(&self, batch: &[StreamArchive]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = dialect::begin_write(self).await?;
        for s in batch {
            // A packed snapshot goes in as bytes (`packed`), anything else as JSON (`state`).
            let packed = s.state.as_ref().and_then(crate::seal::packed_bytes);
            let state = s.state.as_ref().filter(|_| packed.is_none());
            sqlx::query(
                "INSERT INTO stream_archives (stream_id, version, segment, archived_at, state, \
                 packed) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (stream_id) DO UPDATE SET \
                 version = excluded.version, segment = excluded.segment, \
                 archived_at = excluded.archived_at, state = excluded.state, \
                 packed = excluded.packed",
            )
            .bind(s.stream_id)
            .bind(s.version as i64)
            .bind(s.segment)
            .bind(s.archived_at)
            .bind(state.map(Json))
            .bind(packed)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record(&self, segments: &[SegmentInfo]) -> Result<(), StoreError> {
        let mut tx = dialect::begin_write(self).await?;
        for s in segments {
            sqlx::query(
                "INSERT INTO archived_segments (segment, file, from_position, to_position, \
                 events, sha256, archived_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(s.segment)
            .bind(&s.file)
            .bind(s.from_position)
            .bind(s.to_position)
            .bind(s.events)
            .bind(&s.sha256)
            .bind(s.archived_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stream's events `from..=through` as stored (upcast, values still sealed).
    async fn stream_as_stored(
        &self,
        stream_id: Uuid,
        from: u64,
        through: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND sequence >= $2 \
             AND sequence <= $3 ORDER BY sequence"
        );
        let rows: Vec<EventRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(stream_id)
            .bind(from as i64)
            .bind(through as i64)
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| self.shared.upcast(event_from_row(row)))
            .collect())
    }
}
