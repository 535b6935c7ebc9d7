//! A connected system's quota, honoured by every request this process makes to it.
//!
//! Real CRM and ERP APIs allow a handful to a hundred requests a second per connection, and
//! answer `429` beyond that. A sync that ignores the quota gets throttled, and its retries make
//! the throttling worse. So each system has one [`Budget`], shared by every worker (fetches,
//! writes, listings alike):
//!
//! 1. **Rate**: a token bucket holding at most `burst` tokens, refilled at `requests_per_second`.
//!    A request takes a token or waits for the next one. In any window of `t` seconds at most
//!    `burst + requests_per_second * t` requests start: the property the tests check.
//! 2. **Concurrency**: at most `max_in_flight` requests are open at once.
//! 3. **Pause**: a `429` with `Retry-After` pauses the whole budget, not one job: every request
//!    to that system waits until the pause ends. A request that would wait longer than
//!    [`Budget::max_wait`] does not wait at all: it fails as transient with the remaining time as
//!    its `retry_after`, so the engine reschedules the work instead of holding a worker asleep.
//!
//! Time comes from tokio's clock, so the tests run the schedule on a paused clock, exactly.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The longest pause a `429` can cause, whatever its `Retry-After` (the connector cuts it to
/// `server.max_retry_after_secs` before; this is the last guard).
pub const LONGEST_PAUSE: Duration = Duration::from_secs(24 * 60 * 60);

use crate::ConnectorError;

/// A system's quota (CONTRACT §3, `rate_limit = { ... }`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests_per_second: f64,
    /// Requests that may start at once after a quiet spell (at least 1).
    #[serde(default = "one")]
    pub burst: u32,
    /// Requests open at the same time; none when absent.
    #[serde(default)]
    pub max_in_flight: Option<u32>,
}

fn one() -> u32 {
    1
}

/// The shared budget of one system (see the module doc).
#[derive(Debug)]
pub struct Budget {
    limit: Option<RateLimit>,
    label: String,
    state: Mutex<State>,
    in_flight: Option<std::sync::Arc<Semaphore>>,
    max_wait: Duration,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    refilled: Instant,
    paused_until: Option<Instant>,
}

/// Held while a request is open; frees its `max_in_flight` slot when dropped.
#[derive(Debug)]
pub struct Permit {
    _slot: Option<OwnedSemaphorePermit>,
}

impl Budget {
    /// A budget for `limit` (`None`: no quota, only `429` pauses). A request waits at most
    /// `max_wait` for its turn.
    pub fn new(limit: Option<RateLimit>, max_wait: Duration) -> Budget {
        Budget::labelled(limit, max_wait, String::new())
    }

    /// [`Budget::new`], its waits counted under `system = label` in the metrics.
    pub fn labelled(limit: Option<RateLimit>, max_wait: Duration, label: String) -> Budget {
        let burst = limit.map_or(1, |l| l.burst.max(1));
        Budget {
            limit,
            label,
            state: Mutex::new(State {
                tokens: f64::from(burst),
                refilled: Instant::now(),
                paused_until: None,
            }),
            in_flight: limit
                .and_then(|l| l.max_in_flight)
                .map(|n| std::sync::Arc::new(Semaphore::new(n.max(1) as usize))),
            max_wait,
        }
    }

    /// The longest a request waits for its turn before it fails as transient instead.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Waits for this request's turn: the pause, a token, then a slot; a pause that began
    /// while it waited for the slot is waited out too.
    pub async fn acquire(&self) -> Result<Permit, ConnectorError> {
        let started = Instant::now();
        loop {
            let permit = self.acquire_once(started).await?;
            if self.paused_for(Instant::now()).is_none() {
                return Ok(permit);
            }
        }
    }

    /// How long the budget stays paused after `now`, if it is.
    fn paused_for(&self, now: Instant) -> Option<Duration> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .paused_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    async fn acquire_once(&self, started: Instant) -> Result<Permit, ConnectorError> {
        loop {
            let wait = self.take_token(Instant::now());
            let Some(wait) = wait else { break };
            let waited = started.elapsed();
            if waited + wait > self.max_wait {
                self.count_throttled(waited);
                return Err(ConnectorError::Transient {
                    status: None,
                    body: format!("the system's request budget is exhausted for {wait:?}"),
                    retry_after: Some(wait.max(Duration::from_secs(1))),
                });
            }
            tokio::time::sleep(wait).await;
        }
        let slot = match &self.in_flight {
            Some(slots) => {
                let left = self.max_wait.saturating_sub(started.elapsed());
                match tokio::time::timeout(left, slots.clone().acquire_owned()).await {
                    Ok(Ok(slot)) => Some(slot),
                    _ => {
                        return Err(ConnectorError::Transient {
                            status: None,
                            body: "every request slot of the system stayed busy".into(),
                            retry_after: Some(Duration::from_secs(1)),
                        });
                    }
                }
            }
            None => None,
        };
        self.count_throttled(started.elapsed());
        Ok(Permit { _slot: slot })
    }

    fn count_throttled(&self, waited: Duration) {
        if !waited.is_zero() {
            metrics::counter!("syncledger_system_throttled_milliseconds_total", "system" => self.label.clone())
                .increment(waited.as_millis() as u64);
        }
    }

    /// Takes a token at `now`, or says how long to wait for the pause to end or a token to come.
    fn take_token(&self, now: Instant) -> Option<Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = state.paused_until {
            if until > now {
                return Some(until - now);
            }
            state.paused_until = None;
        }
        let limit = self.limit?;
        let rate = limit.requests_per_second;
        let burst = f64::from(limit.burst.max(1));
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * rate).min(burst);
        state.refilled = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            return None;
        }
        Some(Duration::from_secs_f64((1.0 - state.tokens) / rate))
    }

    /// A `429`: no request to this system starts before `now + wait` (`wait` cut to
    /// [`LONGEST_PAUSE`], so no answer can make the clock overflow).
    pub fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait.min(LONGEST_PAUSE);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.paused_until.is_none_or(|at| at < until) {
            state.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Checks every window between two starts against `burst + rate * t`.
    fn assert_within_quota(starts: &[Instant], limit: RateLimit) {
        let mut starts = starts.to_vec();
        starts.sort();
        for (i, first) in starts.iter().enumerate() {
            for (j, last) in starts.iter().enumerate().skip(i) {
                let t = (*last - *first).as_secs_f64();
                let allowed = f64::from(limit.burst) + limit.requests_per_second * t;
                let count = (j - i + 1) as f64;
                assert!(
                    count <= allowed + 1e-6,
                    "{count} requests in {t:.4} s, the quota allows {allowed:.2}"
                );
            }
        }
    }

    async fn starts_of(workers: usize, requests: usize, limit: RateLimit) -> Vec<Instant> {
        let budget = Arc::new(Budget::new(Some(limit), Duration::from_secs(3600)));
        let starts = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..workers {
            let (budget, starts) = (budget.clone(), starts.clone());
            let mine = requests / workers + usize::from(w < requests % workers);
            tasks.spawn(async move {
                for _ in 0..mine {
                    let _permit = budget.acquire().await.unwrap();
                    starts.lock().unwrap().push(Instant::now());
                    tokio::time::sleep(Duration::from_millis(7)).await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Arc::try_unwrap(starts).unwrap().into_inner().unwrap()
    }

    const LIMIT: RateLimit = RateLimit {
        requests_per_second: 50.0,
        burst: 5,
        max_in_flight: Some(4),
    };

    #[tokio::test(start_paused = true)]
    async fn eight_workers_never_exceed_burst_plus_rate_times_t() {
        let starts = starts_of(8, 200, LIMIT).await;
        assert_eq!(starts.len(), 200);
        assert_within_quota(&starts, LIMIT);
        // And the quota is used: 200 requests take about (200 - burst) / rate seconds.
        let span = (*starts.iter().max().unwrap() - *starts.iter().min().unwrap()).as_secs_f64();
        assert!(span < 195.0 / 50.0 + 0.1, "took {span} s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hundred_and_twenty_eight_workers_never_exceed_burst_plus_rate_times_t() {
        let starts = starts_of(128, 300, LIMIT).await;
        assert_eq!(starts.len(), 300);
        assert_within_quota(&starts, LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_max_in_flight_requests_are_open_at_once() {
        let budget = Arc::new(Budget::new(Some(LIMIT), Duration::from_secs(3600)));
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (budget, open, peak) = (budget.clone(), open.clone(), peak.clone());
            tasks.spawn(async move {
                let _permit = budget.acquire().await.unwrap();
                let now = open.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(500)).await;
                open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        while tasks.join_next().await.is_some() {}
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_every_request_to_the_system() {
        let budget = Budget::new(None, Duration::from_secs(60));
        budget.pause(Duration::from_secs(5));
        let before = Instant::now();
        budget.acquire().await.unwrap();
        assert_eq!(before.elapsed(), Duration::from_secs(5));
        // Once the pause is over, no wait.
        let again = Instant::now();
        budget.acquire().await.unwrap();
        assert_eq!(again.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_of_u64_max_seconds_panics_nothing_and_is_cut_to_a_day() {
        let budget = Budget::new(None, Duration::from_secs(5));
        budget.pause(Duration::from_secs(u64::MAX));
        let paused = budget.paused_for(Instant::now()).expect("paused");
        assert_eq!(paused, LONGEST_PAUSE);
        assert!(budget.acquire().await.unwrap_err().is_transient());
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_longer_than_the_longest_wait_fails_at_once_as_transient() {
        let budget = Budget::new(None, Duration::from_secs(10));
        budget.pause(Duration::from_secs(3600));
        let before = Instant::now();
        let refused = budget.acquire().await.unwrap_err();
        assert!(refused.is_transient());
        assert_eq!(refused.retry_after(), Some(Duration::from_secs(3600)));
        assert_eq!(before.elapsed(), Duration::ZERO);
    }
}
