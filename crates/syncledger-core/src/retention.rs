//! Scheduled archiving's decisions (`[retention]`, docs/operations.md "Retention"), pure: what a
//! run archives and when the next one starts. `syncledger_engine::retention` runs them.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The first run waits at most this long after start, so a process restarted more often than
/// its interval still archives.
pub const FIRST_RUN_AFTER: Duration = Duration::from_secs(60);
/// The first retry after a failed run; each further failure doubles it, up to the interval.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// A run at `now` archives the events recorded before this time.
pub fn archive_before(now: DateTime<Utc>, after_days: u32) -> DateTime<Utc> {
    now - chrono::Duration::days(i64::from(after_days))
}

/// How long after start the first run waits.
pub fn first_delay(interval: Duration) -> Duration {
    interval.min(FIRST_RUN_AFTER)
}

/// How long after a run the next one waits: the interval after a success; after the
/// `failures`-th failure in a row, [`RETRY_AFTER`] doubled for each earlier one, never past
/// the interval.
pub fn next_delay(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let doubled = RETRY_AFTER.saturating_mul(1u32 << (failures - 1).min(16));
    doubled.min(interval)
}

#[cfg(test)]
mod tests;
