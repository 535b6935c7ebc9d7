//! Reading an archive back (docs/log.md, "Archiving"): the segments a rebuild replays before
//! the live log, and one stream's archived events for `history --archive`. Every segment is
//! checked against what the database recorded and against its checksum first.

use syncledger_core::log::RecordedEvent;
use uuid::Uuid;

use super::Inner;
use crate::StoreError;
use crate::archive::segment::{self, Manifest, SegmentInfo};

/// The recorded segments of an archive directory, checked against the database, for a rebuild
/// to replay before the live log.
pub(crate) struct ArchiveReplay {
    dir: std::path::PathBuf,
    segments: Vec<SegmentInfo>,
}

/// One segment to replay.
pub(crate) struct ArchivedBatch<'a> {
    dir: &'a std::path::Path,
    info: &'a SegmentInfo,
}

impl ArchivedBatch<'_> {
    /// The segment's events, read back and checked.
    pub(crate) fn read(&self) -> Result<Vec<RecordedEvent>, StoreError> {
        Ok(segment::read(self.dir, self.info)?.0)
    }
}

impl ArchiveReplay {
    /// The last position the archive covers.
    pub(crate) fn through(&self) -> i64 {
        self.segments.last().map_or(0, |s| s.to_position)
    }

    pub(crate) fn events(&self) -> u64 {
        self.segments.iter().map(|s| s.events as u64).sum()
    }

    pub(crate) fn segments(&self) -> impl Iterator<Item = ArchivedBatch<'_>> {
        self.segments.iter().map(|info| ArchivedBatch {
            dir: &self.dir,
            info,
        })
    }
}

impl Inner {
    /// What a rebuild replays first: nothing when nothing was archived; the segments of `dir`
    /// (every one the database recorded, every checksum right) when something was. A rebuild
    /// of an archived log without its archive is refused: it would lose what the archived
    /// events gave.
    pub(crate) async fn archive_to_replay(
        &self,
        dir: Option<&std::path::Path>,
    ) -> Result<Option<ArchiveReplay>, StoreError> {
        let recorded = self.archived_segments().await?;
        let Some(dir) = dir else {
            return match recorded.last() {
                None => Ok(None),
                Some(last) => Err(StoreError::InvalidInput(format!(
                    "the log's events through position {} are archived (segments 0001-{:04}): \
                     rebuild from the archive (--from-archive DIR)",
                    last.to_position, last.segment
                ))),
            };
        };
        let dir = segment::absolute(dir);
        let manifest = Manifest::load(&dir)?;
        if let Some(missing) = recorded.iter().find(|s| !manifest.segments.contains(s)) {
            return Err(StoreError::InvalidInput(format!(
                "archive segment {:04} of this database is not in {}",
                missing.segment,
                dir.display()
            )));
        }
        manifest.check(&dir)?;
        Ok(Some(ArchiveReplay {
            dir,
            segments: recorded,
        }))
    }
}

impl Inner {
    /// The archived events of `stream_id` (its first `version`), read from the segments of
    /// `dir` (checked against the database and their checksums), upcast and opened like any
    /// read.
    pub(crate) async fn read_archived_stream(
        &self,
        dir: &std::path::Path,
        stream_id: Uuid,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let Some(archived) = self.stream_archive(stream_id).await? else {
            return Ok(Vec::new());
        };
        let Some(replay) = self.archive_to_replay(Some(dir)).await? else {
            return Ok(Vec::new());
        };
        let mut events = Vec::new();
        for batch in replay.segments() {
            if batch.info.segment > archived.segment {
                break;
            }
            events.extend(
                batch
                    .read()?
                    .into_iter()
                    .filter(|e| e.stream_id == stream_id)
                    .map(|e| self.shared.upcast(e)),
            );
        }
        // Segments hold values sealed as they were stored: they open with the entity's keys,
        // and an erased entity's read as erased (`null`) with no segment rewritten.
        self.open_events(&mut events).await?;
        Ok(events)
    }
}
