//! `[retention]`: scheduled archiving inside `serve` (docs/configuration.md).

use serde::{Deserialize, Serialize};

/// `[retention]`: `serve` archives old events on a schedule (docs/log.md, "Archiving";
/// docs/operations.md, "Retention").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Whether the schedule runs (`false` keeps the section and pauses it).
    pub enabled: bool,
    /// Events recorded more than this many days before a run are archived by it (0: every
    /// event recorded before the run but the newest). Required.
    pub archive_after_days: Option<u32>,
    /// Where segments go: an absolute directory, created when missing; every run of this
    /// database must use the same one. Required.
    pub archive_dir: String,
    /// Seconds between runs; the first runs `min(interval, 60 s)` after start.
    pub interval_secs: u64,
    /// PostgreSQL: positions per partition of the log from the next partition on (archiving
    /// removes whole partitions only). Default: the database's (1,048,576 when created).
    pub partition_width: Option<u64>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            enabled: true,
            archive_after_days: None,
            archive_dir: String::new(),
            interval_secs: 3600,
            partition_width: None,
        }
    }
}

impl RetentionConfig {
    pub fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.interval_secs)
    }
}
