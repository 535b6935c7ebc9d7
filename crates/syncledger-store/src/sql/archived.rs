//! What the database knows of its archive: the segments it recorded, each cut stream's snapshot
//! (opened with its entity's key), the live database's size, and PostgreSQL's partition width.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Inner, dialect};
use crate::StoreError;
use crate::archive::StreamArchive;
use crate::archive::segment::SegmentInfo;
use crate::seal::DataKey;

type SegmentRow = (i64, String, i64, i64, i64, String, DateTime<Utc>);
type ArchiveRow = (
    Uuid,
    i64,
    i64,
    DateTime<Utc>,
    Option<Json<Value>>,
    Option<Vec<u8>>,
);

impl Inner {
    /// Every segment the database recorded, in order.
    pub(crate) async fn archived_segments(&self) -> Result<Vec<SegmentInfo>, StoreError> {
        let rows: Vec<SegmentRow> = sqlx::query_as(
            "SELECT segment, file, from_position, to_position, events, sha256, archived_at \
             FROM archived_segments ORDER BY segment",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SegmentInfo {
                segment: r.0,
                file: r.1,
                from_position: r.2,
                to_position: r.3,
                events: r.4,
                sha256: r.5,
                archived_at: r.6,
            })
            .collect())
    }

    /// Where the stream's first events went, if any were archived, its snapshot opened.
    pub(crate) async fn stream_archive(
        &self,
        stream_id: Uuid,
    ) -> Result<Option<StreamArchive>, StoreError> {
        Ok(self.stream_archive_keyed(stream_id).await?.0)
    }

    /// [`Inner::stream_archive`], and the key that opened its snapshot. A snapshot whose key
    /// is destroyed reads as none.
    pub(crate) async fn stream_archive_keyed(
        &self,
        stream_id: Uuid,
    ) -> Result<(Option<StreamArchive>, Option<(Uuid, DataKey)>), StoreError> {
        let Some(mut archive) = self.stream_archive_as_stored(stream_id).await? else {
            return Ok((None, None));
        };
        let mut key = None;
        if let Some(state) = archive.state.as_mut() {
            key = self.open_doc(state).await?;
        }
        if archive.state.as_ref().is_some_and(Value::is_null) {
            archive.state = None;
        }
        Ok((Some(archive), key))
    }

    /// The stream's archive row as stored (its snapshot sealed).
    pub(crate) async fn stream_archive_as_stored(
        &self,
        stream_id: Uuid,
    ) -> Result<Option<StreamArchive>, StoreError> {
        let row: Option<ArchiveRow> = sqlx::query_as(
            "SELECT stream_id, version, segment, archived_at, state, packed FROM stream_archives \
             WHERE stream_id = $1",
        )
        .bind(stream_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|r| StreamArchive {
            stream_id: r.0,
            version: r.1 as u64,
            segment: r.2,
            archived_at: r.3,
            // Packed snapshots are stored as bytes; in memory they are the `$z1` document.
            state: r
                .5
                .as_deref()
                .map(crate::seal::packed_doc)
                .or(r.4.map(|j| j.0)),
        }))
    }

    /// The live database's size in bytes.
    pub(crate) async fn database_bytes(&self) -> Result<i64, StoreError> {
        Ok(dialect::database_bytes(&self.read).await?)
    }

    pub(crate) async fn apply_partition_width(&self, width: i64) -> Result<bool, StoreError> {
        if dialect::BACKEND != "postgres" {
            return Ok(false);
        }
        let current: Option<i64> =
            sqlx::query_scalar("SELECT value FROM log_settings WHERE key = 'partition_width'")
                .fetch_optional(&self.read)
                .await?;
        if current == Some(width) {
            return Ok(false);
        }
        self.set_partition_width(width).await?;
        Ok(true)
    }

    pub(crate) async fn set_partition_width(&self, width: i64) -> Result<(), StoreError> {
        if width < 1 {
            return Err(StoreError::InvalidInput(
                "a partition width must be positive".into(),
            ));
        }
        dialect::set_partition_width(&self.write, width).await?;
        Ok(dialect::ensure_partitions(&self.write).await?)
    }
}
