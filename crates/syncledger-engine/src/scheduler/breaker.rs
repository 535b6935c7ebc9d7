//! The scheduler's brakes for a connected world that is down: one per system of each tenant,
//! and one for the store.
//!
//! When every job of a system fails because it is unavailable, starting more of them only
//! spins: each claims a lease, reads a stream, fails its fetch and gives the lease back, and on
//! a backlog of a million entities that load competes with the intake exactly when the
//! webhooks pile up (the seed's fourth failure). And one tenant's outage must not pause
//! another's work: faults are isolated per (tenant, system), each place with its own brake.
//! For each:
//!
//! 1. A job that fails because the place is unavailable counts against that place (a store
//!    outage against the store's brake); a job that ends well resets the brakes of the places
//!    its work named, and the store's.
//! 2. When as many jobs in a row as there are workers failed there (a whole round), that place
//!    gets no new job for a pause: 1 s, doubling with each further failed round, at most 30 s.
//!    Failures of jobs started before the brake came on change nothing more.
//! 3. After the pause, one probe job at a time: its success lifts the brake, its failure pauses
//!    the place again for the next, doubled, pause.
//!
//! Work of every other place keeps its workers meanwhile (`fair`). Pure: the clock is an
//! argument.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::fair::Place;

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

    /// Steps 1 to 3: a job failed transiently at `now`.
    pub fn failed(&mut self, now: Instant) {
        match self.paused_until {
            // Step 2: a job started before the brake came on.
            Some(until) if now < until => return,
            // Step 3: the probe failed.
            Some(_) => self.failed_in_a_row = self.round,
            None => self.failed_in_a_row += 1,
        }
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

    /// Steps 2 and 3: whether a new job may start at `now` while `running` jobs of this place
    /// run.
    pub fn may_start(&self, now: Instant, running: usize) -> bool {
        match self.paused_until {
            None => true,
            Some(until) => now >= until && running == 0,
        }
    }

    /// Whether the brake holds at `now` (its pause not over yet).
    pub fn holds(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|until| now < until)
    }

    /// Whether it is as if new: nothing counted, no pause.
    fn is_idle(&self) -> bool {
        self.failed_in_a_row == 0 && self.paused_until.is_none()
    }
}

/// A brake per (tenant, system), made on a place's first failure, and the store's.
#[derive(Debug)]
pub(crate) struct Brakes {
    workers: usize,
    places: HashMap<Place, Breaker>,
    store: Breaker,
}

impl Brakes {
    pub fn new(workers: usize) -> Self {
        Brakes {
            workers,
            places: HashMap::new(),
            store: Breaker::new(workers),
        }
    }

    /// Step 1: a job failed at `now` because `place` was unavailable (`None`: the store).
    pub fn failed(&mut self, place: Option<&Place>, now: Instant) {
        match place {
            Some(place) => self
                .places
                .entry(place.clone())
                .or_insert_with(|| Breaker::new(self.workers))
                .failed(now),
            None => self.store.failed(now),
        }
    }

    /// Step 1: a job whose work named `places` ended well.
    pub fn succeeded(&mut self, places: impl Iterator<Item = Place>) {
        self.store.succeeded();
        for place in places {
            if let Some(brake) = self.places.get_mut(&place) {
                brake.succeeded();
            }
        }
        self.places.retain(|_, brake| !brake.is_idle());
    }

    /// Whether a job of `place` may start at `now` while `running` of its jobs run (the store's
    /// brake counts every job as its own).
    pub fn admits(
        &self,
        place: &Place,
        running: usize,
        now: Instant,
        running_total: usize,
    ) -> bool {
        self.store.may_start(now, running_total)
            && self
                .places
                .get(place)
                .is_none_or(|brake| brake.may_start(now, running))
    }

    /// Whether the brake of `place` (or the store's) holds at `now`.
    pub fn holds(&self, place: &Place, now: Instant) -> bool {
        self.store.holds(now) || self.places.get(place).is_some_and(|b| b.holds(now))
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
        assert!(b.may_start(now, 0));
        b.succeeded();
        for _ in 0..3 {
            b.failed(now);
        }
        assert!(
            b.may_start(now, 3),
            "a success in between restarts the count"
        );
    }

    #[test]
    fn step2_a_round_of_failures_pauses_starts_for_a_doubling_pause_up_to_30_s() {
        let now = Instant::now();
        let mut b = Breaker::new(2);
        b.failed(now);
        b.failed(now);
        let mut paused = Vec::new();
        let mut at = now;
        for _ in 0..8 {
            let until = b.paused_until.expect("paused");
            paused.push((until - at).as_secs());
            assert!(!b.may_start(at, 0));
            assert!(!b.may_start(until - Duration::from_millis(1), 0));
            // A job started before the brake came on fails meanwhile: nothing more.
            b.failed(until - Duration::from_millis(1));
            assert_eq!(b.paused_until, Some(until));
            assert!(b.may_start(until, 0));
            at = until;
            b.failed(at);
        }
        assert_eq!(paused, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn step3_after_the_pause_one_probe_at_a_time_and_its_success_lifts_the_brake() {
        let now = Instant::now();
        let mut b = Breaker::new(1);
        b.failed(now);
        let after = now + FIRST_PAUSE;
        assert!(b.may_start(after, 0), "the probe");
        assert!(!b.may_start(after, 1), "one probe at a time");
        b.succeeded();
        assert!(b.may_start(after, 5));
        b.failed(after);
        assert_eq!(
            b.paused_until,
            Some(after + FIRST_PAUSE),
            "the pause is 1 s again"
        );
    }

    #[test]
    fn step1_a_places_failures_brake_that_place_only() {
        // Given eight workers, when globex's CRM fails a round of jobs,
        let now = Instant::now();
        let mut brakes = Brakes::new(8);
        let (globex_crm, globex_erp, acme_crm) = (
            Place::new("globex", "crm"),
            Place::new("globex", "erp"),
            Place::new("acme", "crm"),
        );
        for _ in 0..8 {
            brakes.failed(Some(&globex_crm), now);
        }
        // then globex's CRM is held, and acme's CRM and globex's ERP are not.
        assert!(brakes.holds(&globex_crm, now));
        assert!(!brakes.admits(&globex_crm, 0, now, 0));
        assert!(brakes.admits(&acme_crm, 7, now, 7));
        assert!(brakes.admits(&globex_erp, 7, now, 7));
        // A success of acme's work does not lift globex's brake; globex's own probe does.
        brakes.succeeded([acme_crm].into_iter());
        assert!(brakes.holds(&globex_crm, now));
        let later = now + FIRST_PAUSE;
        assert!(brakes.admits(&globex_crm, 0, later, 3));
        assert!(!brakes.admits(&globex_crm, 1, later, 3));
        brakes.succeeded([globex_crm.clone()].into_iter());
        assert!(brakes.admits(&globex_crm, 4, later, 4));
        assert!(brakes.places.is_empty(), "idle brakes are forgotten");
    }

    #[test]
    fn step1_a_store_outage_brakes_every_place() {
        let now = Instant::now();
        let mut brakes = Brakes::new(2);
        brakes.failed(None, now);
        brakes.failed(None, now);
        let acme = Place::new("acme", "crm");
        assert!(brakes.holds(&acme, now));
        assert!(!brakes.admits(&acme, 0, now, 0));
        assert!(brakes.admits(&acme, 0, now + FIRST_PAUSE, 0), "one probe");
        assert!(!brakes.admits(&acme, 0, now + FIRST_PAUSE, 1));
    }
}
