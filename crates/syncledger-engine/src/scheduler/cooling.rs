//! Entities whose job failed because something it depends on is down, left alone for a while.
//!
//! 1. Each failure in a row of one entity's job lengthens its cool-down: the one retry policy's
//!    wait (`decide::retry`, exponential with full jitter), never under 2 s, never sooner than
//!    the system's `Retry-After`, never longer than `max_retry_after`. So a record one system
//!    keeps failing is asked for less and less often, as CONTRACT §1 asks of every retry.
//! 2. A job of the entity that ends well forgets its failures.
//!
//! The clock and the jitter are arguments, so the rule is tested without waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use syncledger_core::decide::retry::RetryPolicy;
use uuid::Uuid;

/// The shortest cool-down.
pub(crate) const COOL_DOWN: Duration = Duration::from_secs(2);

pub(crate) struct Cooling {
    policy: RetryPolicy,
    until: HashMap<Uuid, Instant>,
    failures: HashMap<Uuid, u32>,
}

impl Cooling {
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            until: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    /// Step 1: the job of `entity` failed at `now`; returns how long it is left alone.
    pub fn failed(
        &mut self,
        entity: Uuid,
        retry_after: Option<Duration>,
        now: Instant,
        jitter: f64,
    ) -> Duration {
        let failures = self.failures.entry(entity).or_default();
        *failures += 1;
        let wait = self
            .policy
            .wait(*failures, retry_after, jitter)
            .max(COOL_DOWN);
        self.until.insert(entity, now + wait);
        wait
    }

    /// Step 2.
    pub fn succeeded(&mut self, entity: Uuid) {
        self.failures.remove(&entity);
        self.until.remove(&entity);
    }

    /// Lets go of the entities whose cool-down is over at `now`.
    pub fn release(&mut self, now: Instant) {
        self.until.retain(|_, until| *until > now);
    }

    pub fn contains(&self, entity: &Uuid) -> bool {
        self.until.contains_key(entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cooling() -> Cooling {
        Cooling::new(RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(500),
            max: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(3600),
        })
    }

    #[test]
    fn step1_each_failure_in_a_row_doubles_the_cool_down_from_2_s_up_to_the_policys_max() {
        let (mut c, now, id) = (cooling(), Instant::now(), Uuid::from_u128(1));
        let waits: Vec<u64> = (0..12)
            .map(|_| c.failed(id, None, now, 1.0).as_secs())
            .collect();
        assert_eq!(waits, [2, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert!(c.contains(&id));
        c.release(now + Duration::from_secs(299));
        assert!(c.contains(&id));
        c.release(now + Duration::from_secs(300));
        assert!(!c.contains(&id));
    }

    #[test]
    fn step1_a_retry_after_is_honoured_and_the_jitter_never_goes_under_2_s() {
        let (mut c, now, id) = (cooling(), Instant::now(), Uuid::from_u128(1));
        assert_eq!(
            c.failed(id, Some(Duration::from_secs(30)), now, 1.0)
                .as_secs(),
            30
        );
        for _ in 0..3 {
            assert!(c.failed(id, None, now, 0.0) >= COOL_DOWN);
        }
    }

    #[test]
    fn step2_a_success_forgets_the_failures_of_that_entity_only() {
        let (mut c, now) = (cooling(), Instant::now());
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        for _ in 0..4 {
            c.failed(a, None, now, 1.0);
            c.failed(b, None, now, 1.0);
        }
        c.succeeded(a);
        assert!(!c.contains(&a));
        assert_eq!(c.failed(a, None, now, 1.0).as_secs(), 2, "a starts again");
        assert_eq!(
            c.failed(b, None, now, 1.0).as_secs(),
            16,
            "b keeps counting"
        );
    }
}
