//! Which due entities get the free workers: shared fairly between tenants, then between each
//! tenant's systems, and none for a (tenant, system) whose brake holds.
//!
//! One tenant's backlog must never become every tenant's wait: a tenant whose CRM is down with
//! a million webhooks queued, or whose jobs hang on a system that never answers, keeps its
//! share of the workers and no more. So each free worker is given by this rule:
//!
//! 1. **Held work waits.** An entity whose due rows name a (tenant, system) whose brake holds
//!    (`breaker::Brakes`) gets no worker; once its pause is over, that brake lets one probe job
//!    run at a time.
//! 2. **Tenants take turns.** The worker goes to the tenant with work waiting that has the
//!    fewest jobs running; between equals, to the one served longest ago. A tenant with a
//!    million queued items gets one turn like a tenant with ten.
//! 3. **Within a tenant, systems take turns** the same way: the entity goes to the system (the
//!    one its oldest due row names) with the fewest of the tenant's jobs running, then the one
//!    served longest ago, and within a system the oldest due entity goes first.
//!
//! Pure: what is due, what runs and what the brakes admit are arguments; the turns served are
//! this type's state.

use std::collections::HashMap;

use uuid::Uuid;

/// One entity's due work, as the scheduler read it from the pending queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Due {
    pub entity: Uuid,
    pub tenant: String,
    /// The systems its due rows name, its oldest row's first: the records to fetch, the
    /// writes' targets.
    pub systems: Vec<String>,
}

/// A system of a tenant: where faults are isolated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Place {
    pub tenant: String,
    pub system: String,
}

impl Place {
    pub fn new(tenant: &str, system: &str) -> Self {
        Place {
            tenant: tenant.to_owned(),
            system: system.to_owned(),
        }
    }
}

impl Due {
    /// The (tenant, system) places its work touches.
    pub fn places(&self) -> impl Iterator<Item = Place> + '_ {
        self.systems.iter().map(|s| Place::new(&self.tenant, s))
    }
}

/// The tenant's queue an entity waits in (rule 3): its oldest due row's system.
type Lane = (String, Option<String>);

fn lane_key(d: &Due) -> Lane {
    (d.tenant.clone(), d.systems.first().cloned())
}

/// Jobs running (or just picked) per tenant, per lane and per place.
#[derive(Default)]
struct Load {
    tenants: HashMap<String, usize>,
    lanes: HashMap<Lane, usize>,
    places: HashMap<Place, usize>,
}

impl Load {
    fn add(&mut self, d: &Due) {
        *self.tenants.entry(d.tenant.clone()).or_insert(0) += 1;
        *self.lanes.entry(lane_key(d)).or_insert(0) += 1;
        for place in d.places() {
            *self.places.entry(place).or_insert(0) += 1;
        }
    }

    fn of(&self, place: &Place) -> usize {
        self.places.get(place).copied().unwrap_or(0)
    }
}

/// Who goes first, smallest first: the tenant's running jobs, its last turn, the lane's running
/// jobs, its last turn, the place in the queue.
type Rank = (usize, u64, usize, u64, usize);

/// The turns served so far (rules 2 and 3).
#[derive(Debug, Default)]
pub(crate) struct Turns {
    turn: u64,
    tenants: HashMap<String, u64>,
    lanes: HashMap<Lane, u64>,
}

impl Turns {
    /// Picks up to `free` of `due` (each tenant's entities oldest first) to start, given the
    /// jobs `running` and `admits(place, jobs of that place running)`, the brakes' rule 1.
    pub fn pick(
        &mut self,
        due: &[Due],
        running: &[&Due],
        free: usize,
        admits: impl Fn(&Place, usize) -> bool,
    ) -> Vec<Due> {
        let mut load = Load::default();
        for d in running {
            load.add(d);
        }
        let mut taken = vec![false; due.len()];
        let mut picked = Vec::new();
        while picked.len() < free {
            let mut best: Option<(Rank, usize)> = None;
            for (i, d) in due.iter().enumerate() {
                if taken[i] || !d.places().all(|p| admits(&p, load.of(&p))) {
                    continue;
                }
                let lane = lane_key(d);
                let rank = (
                    load.tenants.get(&d.tenant).copied().unwrap_or(0),
                    self.tenants.get(&d.tenant).copied().unwrap_or(0),
                    load.lanes.get(&lane).copied().unwrap_or(0),
                    self.lanes.get(&lane).copied().unwrap_or(0),
                    i,
                );
                if best.as_ref().is_none_or(|(b, _)| rank < *b) {
                    best = Some((rank, i));
                }
            }
            let Some((_, i)) = best else {
                break;
            };
            let d = &due[i];
            taken[i] = true;
            self.turn += 1;
            self.tenants.insert(d.tenant.clone(), self.turn);
            self.lanes.insert(lane_key(d), self.turn);
            load.add(d);
            picked.push(d.clone());
        }
        picked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(n: u128, tenant: &str, systems: &[&str]) -> Due {
        Due {
            entity: Uuid::from_u128(n),
            tenant: tenant.into(),
            systems: systems.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `count` due entities of `tenant` from `system`, numbered from `from`.
    fn queue(from: u128, count: u128, tenant: &str, system: &str) -> Vec<Due> {
        (from..from + count)
            .map(|n| due(n, tenant, &[system]))
            .collect()
    }

    fn ids(picked: &[Due]) -> Vec<u128> {
        picked.iter().map(|d| d.entity.as_u128()).collect()
    }

    fn all(_: &Place, _: usize) -> bool {
        true
    }

    #[test]
    fn rule2_a_tenant_with_a_long_queue_takes_turns_with_one_with_a_short_one() {
        // Given globex's thousand queued entities read before acme's three,
        let mut backlog = queue(1, 1000, "globex", "crm");
        backlog.extend(queue(5001, 3, "acme", "crm"));
        // when four workers are free, then they alternate between the tenants.
        let picked = Turns::default().pick(&backlog, &[], 4, all);
        assert_eq!(ids(&picked), [1, 5001, 2, 5002]);
    }

    #[test]
    fn rule2_with_one_worker_the_turn_passes_to_the_tenant_served_longest_ago() {
        // Given one worker and two tenants with work waiting,
        let mut backlog = queue(1, 100, "globex", "crm");
        backlog.extend(queue(501, 100, "acme", "crm"));
        let mut turns = Turns::default();
        // when it is given again and again (each job ending before the next pick),
        let mut order = Vec::new();
        for _ in 0..4 {
            let picked = turns.pick(&backlog, &[], 1, all);
            backlog.retain(|d| d.entity != picked[0].entity);
            order.extend(ids(&picked));
        }
        // then the tenants take turns, each oldest first.
        assert_eq!(order, [1, 501, 2, 502]);
    }

    #[test]
    fn rule2_a_tenant_whose_jobs_hang_keeps_only_its_share() {
        // Given globex holding three of four workers with jobs that do not end,
        let hung = queue(1, 3, "globex", "crm");
        let running: Vec<&Due> = hung.iter().collect();
        let mut backlog = queue(4, 100, "globex", "crm");
        backlog.extend(queue(501, 5, "acme", "crm"));
        // when the last worker is free, then acme gets it; and with more workers free, acme
        // catches up with globex's share before globex gets another.
        let mut turns = Turns::default();
        let first = turns.pick(&backlog, &running, 1, all);
        assert_eq!(ids(&first), [501]);
        backlog.retain(|d| d.entity != first[0].entity);
        let running: Vec<&Due> = hung.iter().chain(&first).collect();
        let next = turns.pick(&backlog, &running, 3, all);
        assert_eq!(
            ids(&next),
            [502, 503, 4],
            "acme up to globex's share, then turns"
        );
    }

    #[test]
    fn rule1_an_entity_of_a_braked_place_gets_no_worker_and_the_others_do() {
        // Given globex's CRM braked, and globex's ERP and acme's CRM healthy,
        let mut backlog = queue(1, 50, "globex", "crm");
        backlog.extend(queue(101, 2, "globex", "erp"));
        backlog.extend(queue(201, 2, "acme", "crm"));
        let braked = Place::new("globex", "crm");
        // when eight workers are free, then only the unbraked work starts.
        let picked = Turns::default().pick(&backlog, &[], 8, |p, _| *p != braked);
        assert_eq!(ids(&picked), [101, 201, 102, 202]);
    }

    #[test]
    fn rule1_an_entity_is_held_when_any_system_its_rows_name_is_braked() {
        // Given an acme entity with a trigger from the CRM and a write owed to the ERP,
        let backlog = vec![due(1, "acme", &["crm", "erp"]), due(2, "acme", &["crm"])];
        // when acme's ERP is braked, then only the other entity starts.
        let braked = Place::new("acme", "erp");
        let picked = Turns::default().pick(&backlog, &[], 2, |p, _| *p != braked);
        assert_eq!(ids(&picked), [2]);
    }

    #[test]
    fn rule1_a_brake_past_its_pause_lets_one_probe_run_at_a_time() {
        // Given globex's CRM past its pause (admits while none of its jobs run),
        let backlog = queue(1, 10, "globex", "crm");
        let probe_only = |p: &Place, running: usize| p.system != "crm" || running == 0;
        let mut turns = Turns::default();
        // when four workers are free, then one probe starts,
        let picked = turns.pick(&backlog, &[], 4, probe_only);
        assert_eq!(ids(&picked), [1]);
        // and while it runs, no other.
        let running = vec![&backlog[0]];
        assert!(
            turns
                .pick(&backlog[1..], &running, 3, probe_only)
                .is_empty()
        );
    }

    #[test]
    fn rule3_within_a_tenant_its_systems_take_turns() {
        // Given acme's long CRM queue read before its short ERP one,
        let mut backlog = queue(1, 100, "acme", "crm");
        backlog.extend(queue(201, 2, "acme", "erp"));
        // when three workers are free, then the ERP's work is not left behind the CRM's.
        let picked = Turns::default().pick(&backlog, &[], 3, all);
        assert_eq!(ids(&picked), [1, 201, 2]);
    }

    #[test]
    fn rule3_a_system_whose_jobs_run_yields_to_the_tenants_other_system() {
        // Given two of acme's CRM jobs running,
        let running_work = queue(1, 2, "acme", "crm");
        let running: Vec<&Due> = running_work.iter().collect();
        let mut backlog = queue(3, 100, "acme", "crm");
        backlog.extend(queue(201, 3, "acme", "erp"));
        // when two workers are free, then they go to the ERP's work first.
        let picked = Turns::default().pick(&backlog, &running, 2, all);
        assert_eq!(ids(&picked), [201, 202]);
    }
}
