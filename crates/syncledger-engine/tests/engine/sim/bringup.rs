//! Bring-up in the simulation: the systems already hold records (some the same people on both
//! sides) when the ledger starts, and the initial sync's pages are read one step at a time,
//! interleaved with user edits, deliveries, work, faults and crashes, including crashes while a
//! page is in flight (listed, not recorded).

use rand::Rng;
use serde_json::json;
use syncledger_core::initial_sync::Step;
use syncledger_sim::Op;

use super::driver::Sim;
use crate::harness::{CONTACTS, CRM, CUSTOMERS, TENANT};

const ENTITY: &str = "customer";

impl Sim {
    /// Records made before syncledger ran (their webhooks went nowhere), and the start of the
    /// initial sync recorded, as `serve` does before its workers run.
    pub(super) async fn existing_records(&mut self) {
        let (crm, erp) = (self.rng.random_range(3..=12), self.rng.random_range(3..=12));
        let twins = self.rng.random_range(0..=crm.min(erp));
        for i in 0..crm.max(erp) {
            let email = if i < twins {
                self.next_email += 1;
                Some(format!("p{}@example.com", self.next_email))
            } else {
                None
            };
            if i < crm {
                let email = email.clone().unwrap_or_else(|| self.fresh_email());
                self.w.crm.user_create(
                    CONTACTS,
                    json!({"full_name": format!("Old {i}"), "email": email}),
                );
            }
            if i < erp {
                let email = email.unwrap_or_else(|| self.fresh_email());
                self.w.erp.user_create(
                    CUSTOMERS,
                    json!({"name": format!("Old {i}"), "email_address": email, "phones": ["111"]}),
                );
            }
        }
        self.w.crm.drain_webhooks();
        self.w.erp.drain_webhooks();
        self.w
            .ledger
            .begin_initial_syncs()
            .await
            .expect("begin initial syncs");
        self.note(format!(
            "existing: {crm} crm, {erp} erp records, {twins} the same people"
        ));
    }

    fn fresh_email(&mut self) -> String {
        self.next_email += 1;
        format!("p{}@example.com", self.next_email)
    }

    /// One step of the initial sync; one in four pages dies with the process while in flight.
    pub(super) async fn initial_sync_step(&mut self) -> String {
        let state = self
            .w
            .ledger
            .initial_sync_state(TENANT, ENTITY)
            .await
            .expect("initial sync state");
        let next = state.next_step();
        if let Step::ReadPage { system, cursor } = &next
            && self.rng.random_bool(0.25)
        {
            let sim = if system == CRM {
                &self.w.crm
            } else {
                &self.w.erp
            };
            let mut in_flight = sim.pause_next(Op::List);
            let ledger = self.w.ledger.clone();
            let job = tokio::spawn(async move { ledger.initial_sync_step(TENANT, ENTITY).await });
            in_flight.applied().await;
            job.abort();
            let _ = job.await;
            drop(in_flight);
            let restarted = self.restart().await;
            return format!(
                "initial sync: {system} page at {cursor:?} in flight -> CRASH, {restarted}"
            );
        }
        match self.w.ledger.initial_sync_step(TENANT, ENTITY).await {
            Ok(step) => format!("initial sync: {step:?}"),
            // A page that raced workers' appends too often, or a system down: tried again later.
            Err(e) => format!("initial sync: {next:?} failed ({e})"),
        }
    }

    /// Runs the initial sync to its end (part of quiescence: the start is over).
    pub(super) async fn finish_initial_sync(&mut self) {
        for _ in 0..200 {
            let line = self.initial_sync_step().await;
            self.note(format!("  finish {line}"));
            if line == format!("initial sync: {:?}", Step::Done) {
                return;
            }
        }
        panic!("the initial sync did not finish within 200 steps");
    }
}
