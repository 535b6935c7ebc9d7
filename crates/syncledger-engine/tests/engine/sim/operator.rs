//! A person at the console during a run, on systems that send ETags: a write the target refuses
//! for good (422) becomes a dead letter, the person retries the open letters now and then (as
//! `retryDeadLetter` does, a `DeadLetterRetried` on the letter's stream), and an edit a user
//! made after the ledger last saw a record is refused with 412 and decided again. Only an
//! operated run draws these steps, so the other runs' seeds replay as before.

use rand::Rng;
use rand::seq::IndexedRandom;
use syncledger_core::config::OnDelete;
use syncledger_core::events::{DeadLetterRetried, SyncEvent};
use syncledger_core::projections::dead_letters::{self, DeadLetter};
use syncledger_sim::{Fault, Op};

use super::driver::{Sim, Trace, short};
use crate::harness::{CRM, ERP};

/// Rounds of "quiesce, retry the open letters" at the end of an operated run.
const LETTER_ROUNDS: usize = 6;

impl Sim {
    /// A run on systems that send ETags, with a person retrying dead letters.
    pub async fn operated(seed: u64, on_delete: OnDelete, bringup: bool, trace: Trace) -> Sim {
        let mut sim = if bringup {
            Sim::bringing_up(seed, on_delete, trace).await
        } else {
            Sim::new(seed, on_delete, trace).await
        };
        sim.operator = true;
        sim.w.crm.set_etags(true);
        sim.w.erp.set_etags(true);
        sim
    }

    pub(super) async fn operator_step(&mut self) -> String {
        if self.rng.random_bool(0.5) {
            self.refuse_next_write()
        } else {
            self.retry_letters().await.1
        }
    }

    fn refuse_next_write(&mut self) -> String {
        let system = if self.rng.random_bool(0.5) { CRM } else { ERP };
        let op = *[Op::Create, Op::Update, Op::Delete]
            .choose(&mut self.rng)
            .expect("an op");
        let fault = Fault::Status(422, "refused (scripted)".into());
        self.w.sim(system).fail_next(op, fault);
        format!("refusal: next {system} {op:?} meets 422")
    }

    /// The person retries every open dead letter that holds something to retry; how many.
    pub async fn retry_letters(&mut self) -> (usize, String) {
        let store = self.w.store();
        store.catch_up_once().await.expect("catch up");
        let rows = store
            .all_rows(dead_letters::NAME)
            .await
            .expect("dead letters");
        let mut retried = Vec::new();
        for row in rows {
            let letter: DeadLetter = serde_json::from_value(row.doc).expect("a dead letter");
            if !letter.letter.request.can_retry() {
                continue;
            }
            let retry = SyncEvent::DeadLetterRetried(DeadLetterRetried {
                by: "operator".into(),
                dead_letter_id: letter.dead_letter_id,
                request: None,
            });
            self.w.ask(letter.entity_id, retry).await;
            retried.push(short(letter.dead_letter_id));
        }
        let line = format!("operator retries letters [{}]", retried.join(", "));
        (retried.len(), line)
    }

    /// Changes have stopped: the person retries what is left until no letter remains (a retry
    /// may meet a refusal still armed, and become a letter again).
    pub async fn retry_until_no_letters(&mut self) -> Result<(), String> {
        for _ in 0..LETTER_ROUNDS {
            self.quiesce().await?;
            let (retried, line) = self.retry_letters().await;
            self.note(line);
            if retried == 0 {
                return Ok(());
            }
        }
        Err(format!(
            "dead letters still open after {LETTER_ROUNDS} rounds of retries"
        ))
    }
}
