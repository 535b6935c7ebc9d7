//! The archive's files: zstd-compressed segments of JSON lines, one stored event per line, and
//! the manifest that lists them with their checksums (docs/log.md, "Archiving"). Everything
//! here is plain file IO; nothing needs a database, so an archive reads alone.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use syncledger_core::log::RecordedEvent;

use crate::StoreError;

/// The format of the manifest and its segments; a reader refuses any other.
pub const FORMAT: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

/// One segment as the manifest (and the database's `archived_segments`) lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub segment: i64,
    pub file: String,
    /// The positions it covers (inclusive): every event of the log in this range is in it.
    pub from_position: i64,
    pub to_position: i64,
    pub events: i64,
    /// SHA-256 of the compressed file, hex.
    pub sha256: String,
    pub archived_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub segments: Vec<SegmentInfo>,
}

impl Manifest {
    /// The manifest of `dir`; an empty one when the directory has none yet.
    pub fn load(dir: &Path) -> Result<Manifest, StoreError> {
        let path = dir.join(MANIFEST);
        if !path.exists() {
            return Ok(Manifest {
                format: FORMAT,
                segments: Vec::new(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            StoreError::InvalidInput(format!("{}: not an archive manifest: {e}", path.display()))
        })?;
        if manifest.format != FORMAT {
            return Err(StoreError::InvalidInput(format!(
                "{}: archive format {} (this version reads {FORMAT})",
                path.display(),
                manifest.format
            )));
        }
        Ok(manifest)
    }

    /// Writes the manifest atomically: a temporary file, synced, then renamed over the old one.
    pub fn save(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(MANIFEST);
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| StoreError::Backend(format!("manifest: {e}").into()))?;
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(&text).map_err(|e| io(&tmp, e))?;
        file.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }

    /// Reads back every segment and compares its checksum: the first that is missing or
    /// corrupt is an error naming it.
    pub fn check(&self, dir: &Path) -> Result<(), StoreError> {
        for info in &self.segments {
            file_sha256(&dir.join(&info.file)).and_then(|sum| {
                if sum == info.sha256 {
                    Ok(())
                } else {
                    Err(corrupt(info, "its checksum does not match the manifest"))
                }
            })?;
        }
        Ok(())
    }
}

pub fn file_name(segment: i64) -> String {
    format!("segment-{segment:06}.jsonl.zst")
}

/// What writing a segment gave: its checksums, to compare when it is read back.
pub struct Written {
    pub sha256: String,
    pub content_sha256: String,
}

/// Writes `events` (in position order, as stored) to `path`, synced to disk.
pub fn write(path: &Path, events: &[RecordedEvent]) -> Result<Written, StoreError> {
    let file = File::create(path).map_err(|e| io(path, e))?;
    let mut encoder = zstd::Encoder::new(file, 3).map_err(|e| io(path, e))?;
    let mut content = Sha256::new();
    for event in events {
        let mut line = serde_json::to_vec(event)
            .map_err(|e| StoreError::Backend(format!("segment line: {e}").into()))?;
        line.push(b'\n');
        content.update(&line);
        encoder.write_all(&line).map_err(|e| io(path, e))?;
    }
    let file = encoder.finish().map_err(|e| io(path, e))?;
    file.sync_all().map_err(|e| io(path, e))?;
    Ok(Written {
        sha256: file_sha256(path)?,
        content_sha256: hex::encode(content.finalize()),
    })
}

/// Reads a segment back: its file checksum against `info`, then every line. A segment whose
/// checksum, lines, count or positions do not match is refused.
pub fn read(dir: &Path, info: &SegmentInfo) -> Result<(Vec<RecordedEvent>, String), StoreError> {
    let path = dir.join(&info.file);
    if file_sha256(&path)? != info.sha256 {
        return Err(corrupt(info, "its checksum does not match the manifest"));
    }
    let file = File::open(&path).map_err(|e| io(&path, e))?;
    let decoder = zstd::Decoder::new(file).map_err(|e| io(&path, e))?;
    let mut content = Sha256::new();
    let mut events = Vec::with_capacity(info.events.max(0) as usize);
    for line in BufReader::new(decoder).split(b'\n') {
        let line = line.map_err(|_| corrupt(info, "it does not decompress"))?;
        content.update(&line);
        content.update(b"\n");
        let event: RecordedEvent = serde_json::from_slice(&line)
            .map_err(|_| corrupt(info, "a line is not a stored event"))?;
        events.push(event);
    }
    let in_order = events.windows(2).all(|w| w[0].position < w[1].position);
    // The segment covers [from, to]; positions have gaps, so its events lie within.
    let bounds = events
        .first()
        .is_some_and(|e| e.position.0 >= info.from_position)
        && events
            .last()
            .is_some_and(|e| e.position.0 <= info.to_position);
    if events.len() as i64 != info.events || !in_order || !bounds {
        return Err(corrupt(info, "its events do not match the manifest"));
    }
    Ok((events, hex::encode(content.finalize())))
}

fn file_sha256(path: &Path) -> Result<String, StoreError> {
    let mut file = File::open(path).map_err(|e| io(path, e))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| io(path, e))?;
        if n == 0 {
            return Ok(hex::encode(hash.finalize()));
        }
        hash.update(&buf[..n]);
    }
}

fn corrupt(info: &SegmentInfo, why: &str) -> StoreError {
    StoreError::InvalidInput(format!(
        "archive segment {:04} ({}) is corrupt: {why}; nothing was changed",
        info.segment, info.file
    ))
}

fn io(path: &Path, err: std::io::Error) -> StoreError {
    StoreError::InvalidInput(format!("{}: {err}", path.display()))
}

/// The directory's path, made absolute for messages and records.
pub fn absolute(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}
