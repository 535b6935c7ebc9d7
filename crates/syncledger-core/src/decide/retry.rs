//! Retry or give up: the one retry policy, for failed writes and failed work alike.
//!
//! 1. A failure that retrying cannot mend (a refusal, an invalid answer) is given up at once.
//! 2. So is one whose attempts reached `max_attempts`.
//! 3. Otherwise the next attempt waits an exponential backoff with full jitter (`base * 2^n`,
//!    capped at `max`, never under half of `base`), never sooner than the system's
//!    `Retry-After`, never later than `max_retry_after`. The wait is recorded as a time in the
//!    log; no job sleeps through it.
//!
//! The jitter is an input (a number in `[0, 1]` the caller draws), so the choice stays pure.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    GiveUp,
}

impl RetryPolicy {
    /// After attempt number `attempt` failed at `now`.
    pub fn after_failure(
        &self,
        attempt: u32,
        transient: bool,
        retry_after: Option<Duration>,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> AfterFailure {
        if !transient || attempt >= self.max_attempts {
            return AfterFailure::GiveUp;
        }
        AfterFailure::RetryAt(later_by(now, self.wait(attempt, retry_after, jitter)))
    }

    /// When a record whose write was refused with `412` for the `refusals`-th time in a row is
    /// fetched again: at once after the first refusal (someone edited it between the fetch and
    /// the write), then after the same growing wait as a failed attempt, so a record that keeps
    /// changing under the ledger backs off instead of looping. Never a give-up: a refusal is
    /// not a failure and does not count against `max_attempts`.
    pub fn after_refusal(
        &self,
        refusals: u32,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        (refusals > 1).then(|| later_by(now, self.wait(refusals - 1, None, jitter)))
    }

    /// Step 3's wait after attempt `attempt` failed: the backoff, never sooner than the
    /// system's `Retry-After`, never later than `max_retry_after`.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        self.backoff(attempt, jitter)
            .max(retry_after.unwrap_or_default())
            .min(self.max_retry_after)
    }

    /// The wait before attempt `attempt + 1`, for a `jitter` in `[0, 1]`.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        cap.mul_f64(jitter.clamp(0.0, 1.0)).max(self.base / 2)
    }
}

/// `now + wait`, saturating instead of overflowing.
pub fn later_by(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
