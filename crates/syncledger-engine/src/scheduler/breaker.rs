//! The scheduler's brake for a connected world that is down.
//!
//! When every job fails because a system (or the store) is unavailable, starting more jobs only
//! spins: each claims a lease, reads a stream, fails its fetch and gives the lease back, and on a
//! backlog of a million entities that load competes with the intake exactly when the webhooks
//! pile up (the seed's fourth failure). So:
//!
//! 1. A job that fails transiently counts; a job that ends well resets the count and the pause.
//! 2. When as many jobs in a row as there are workers failed (a whole round), no new job starts
//!    for a pause: 1 s, doubling with each further failed round, at most 30 s.
//! 3. After the pause, jobs start again; the first ones are the probe: one success lifts the
//!    brake. Work for a healthy system keeps succeeding, so one system down never stops the
//!    other's work for long.
//!
//! Pure: the clock is an argument.

use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct Breaker {
    /// Failed jobs in a row that trip the brake: one round of workers.
    round: usize,
    failed_in_a_row: usize,
    pause: Duration,
    paused_until: Option<Instant>,
}

impl Breaker {
    pub fn new(workers: usize) -> Self {
        Self {
            round: workers.max(1),
            failed_in_a_row: 0,
            pause: FIRST_PAUSE,
            paused_until: None,
        }
    }

    /// Step 1 and 2: a job failed transiently at `now`.
    pub fn failed(&mut self, now: Instant) {
        self.failed_in_a_row += 1;
        if self.failed_in_a_row >= self.round {
            self.paused_until = Some(now + self.pause);
            self.pause = (self.pause * 2).min(LONGEST_PAUSE);
            self.failed_in_a_row = 0;
        }
    }

    /// Step 1: a job ended well.
    pub fn succeeded(&mut self) {
        self.failed_in_a_row = 0;
        self.pause = FIRST_PAUSE;
        self.paused_until = None;
    }

    /// Step 3: whether new jobs may start at `now`.
    pub fn may_start(&self, now: Instant) -> bool {
        self.paused_until.is_none_or(|until| now >= until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step1_fewer_failures_than_a_round_do_not_brake() {
        let now = Instant::now();
        let mut b = Breaker::new(4);
        for _ in 0..3 {
            b.failed(now);
        }
        assert!(b.may_start(now));
        b.succeeded();
        for _ in 0..3 {
            b.failed(now);
        }
        assert!(b.may_start(now), "a success in between restarts the count");
    }

    #[test]
    fn step2_a_round_of_failures_pauses_starts_for_a_doubling_pause_up_to_30_s() {
        let now = Instant::now();
        let mut b = Breaker::new(2);
        let mut expected = Vec::new();
        let mut paused = Vec::new();
        let mut at = now;
        for _ in 0..8 {
            b.failed(at);
            b.failed(at);
            let until = b.paused_until.expect("paused");
            paused.push(until - at);
            expected.push(match paused.len() {
                1 => 1,
                2 => 2,
                3 => 4,
                4 => 8,
                5 => 16,
                _ => 30,
            });
            assert!(!b.may_start(at));
            assert!(!b.may_start(until - Duration::from_millis(1)));
            assert!(b.may_start(until));
            at = until;
        }
        let secs: Vec<u64> = paused.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, expected);
    }

    #[test]
    fn step3_one_success_after_the_pause_lifts_the_brake_and_resets_the_pause() {
        let now = Instant::now();
        let mut b = Breaker::new(1);
        b.failed(now);
        b.failed(now + FIRST_PAUSE);
        assert!(!b.may_start(now + FIRST_PAUSE));
        b.succeeded();
        assert!(b.may_start(now + FIRST_PAUSE));
        b.failed(now + FIRST_PAUSE);
        assert_eq!(
            b.paused_until,
            Some(now + FIRST_PAUSE * 2),
            "the pause is 1 s again"
        );
    }
}
