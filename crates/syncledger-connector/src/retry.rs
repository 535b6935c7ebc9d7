//! Retrying transient failures inside the connector, within a small budget.
//!
//! Full-jitter exponential backoff: before retry `n` the connector sleeps a uniformly random time
//! in `[0, min(max_delay, base * 2^(n-1)))`, which spreads a crowd of workers that failed together
//! instead of having them hammer the system in lockstep. A `Retry-After` from the system wins over
//! the backoff: the connector waits exactly that long, never less. When the system asks for more
//! than `max_delay`, the connector stops and hands the error (with its `retry_after`) back, so the
//! engine can reschedule the work rather than hold a worker asleep.
//!
//! After `max_attempts` the last transient error is returned as is. Permanent and invalid answers
//! are never retried. The sleeping is a [`Sleeper`] and the jitter a seedable RNG, so tests run
//! the whole schedule instantly and deterministically.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ConnectorError;

/// How many times to try and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles for each further retry.
    pub base: Duration,
    /// No single wait is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry: the caller handles every failure itself.
    pub fn no_retry() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The backoff ceiling before retry `retry` (1-based): `min(max_delay, base * 2^(retry-1))`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.max_delay)
    }

    /// How long to wait after attempt `attempt` (1-based) failed with `error`, or `None` to give
    /// up and return `error`. `unit` is the jitter draw, in `[0, 1)`.
    pub fn next_delay(&self, attempt: u32, error: &ConnectorError, unit: f64) -> Option<Duration> {
        if !error.is_transient() || attempt >= self.max_attempts {
            return None;
        }
        match error.retry_after() {
            Some(asked) if asked > self.max_delay => None,
            Some(asked) => Some(asked),
            None => Some(self.ceiling(attempt).mul_f64(unit.clamp(0.0, 1.0))),
        }
    }
}

/// Waits between attempts. Injected so tests neither sleep nor assert on the wall clock.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Sleeps on the tokio timer: the production sleeper.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Returns at once and remembers every wait it was asked for, in order.
#[derive(Debug, Clone, Default)]
pub struct RecordingSleeper {
    waits: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    pub fn new() -> Self {
        Self::default()
    }

    /// The waits asked for so far.
    pub fn waits(&self) -> Vec<Duration> {
        lock(&self.waits).clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        lock(&self.waits).push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// Runs calls under a [`RetryPolicy`]: the retry loop shared by every connector.
pub(crate) struct Retrier {
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    jitter: Mutex<StdRng>,
}

impl Retrier {
    pub fn new(policy: RetryPolicy, sleeper: Arc<dyn Sleeper>, seed: Option<u64>) -> Self {
        let rng = seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64);
        Retrier {
            policy,
            sleeper,
            jitter: Mutex::new(rng),
        }
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Calls `call` until it succeeds, fails for good, or the budget is spent. `method` and
    /// `path` are only for the log; they never hold header values.
    pub async fn run<'f, T>(
        &self,
        method: &str,
        path: &str,
        mut call: impl FnMut() -> BoxFuture<'f, Result<T, ConnectorError>>,
    ) -> Result<T, ConnectorError> {
        let mut attempt = 1;
        loop {
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let unit = lock(&self.jitter).random::<f64>();
            let Some(delay) = self.policy.next_delay(attempt, &error, unit) else {
                tracing::warn!(
                    method,
                    path,
                    attempt,
                    status = error.status(),
                    transient = error.is_transient(),
                    "connector call failed"
                );
                return Err(error);
            };
            tracing::info!(
                method,
                path,
                attempt,
                status = error.status(),
                delay_ms = delay.as_millis() as u64,
                "transient failure, retrying"
            );
            self.sleeper.sleep(delay).await;
            attempt += 1;
        }
    }
}

/// A poisoned lock only means another thread panicked mid-push; the data is still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient(retry_after: Option<u64>) -> ConnectorError {
        ConnectorError::Transient {
            status: Some(503),
            body: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        base: Duration::from_millis(100),
        max_delay: Duration::from_millis(350),
    };

    #[test]
    fn the_ceiling_doubles_up_to_max_delay() {
        let ceilings: Vec<_> = (1..=4).map(|n| POLICY.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 350, 350]);
    }

    #[test]
    fn full_jitter_scales_the_ceiling() {
        let err = transient(None);
        assert_eq!(POLICY.next_delay(2, &err, 0.0), Some(Duration::ZERO));
        assert_eq!(
            POLICY.next_delay(2, &err, 0.5),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn the_budget_and_permanent_errors_stop_retries() {
        assert_eq!(POLICY.next_delay(5, &transient(None), 0.5), None);
        let permanent = ConnectorError::Permanent {
            status: 400,
            body: String::new(),
        };
        assert_eq!(POLICY.next_delay(1, &permanent, 0.5), None);
    }

    #[test]
    fn retry_after_is_waited_exactly_unless_longer_than_max_delay() {
        let policy = RetryPolicy {
            max_delay: Duration::from_secs(5),
            ..POLICY
        };
        assert_eq!(
            policy.next_delay(1, &transient(Some(2)), 0.0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(policy.next_delay(1, &transient(Some(60)), 0.0), None);
    }
}
