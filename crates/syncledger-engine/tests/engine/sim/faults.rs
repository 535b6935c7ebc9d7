//! Faults the run injects: transient failures of the next write, and crashes of the process in
//! the middle of one. Transient faults stay under the retry budget per system and operation.

use rand::Rng;
use rand::seq::IndexedRandom;
use syncledger_sim::{Fault, Op};

use super::driver::{FAULT_BUDGET, Sim};
use crate::faulty::Crash;
use crate::harness::{CRM, ERP};

impl Sim {
    pub(super) fn inject_fault(&mut self) -> String {
        let system = if self.rng.random_bool(0.5) { CRM } else { ERP };
        let op = *[Op::Create, Op::Update, Op::Delete]
            .choose(&mut self.rng)
            .expect("an op");
        let used = self.faults.entry((system, op as u8)).or_default();
        if *used >= FAULT_BUDGET {
            return format!("fault: {system} {op:?} budget spent");
        }
        *used += 1;
        let fault = match self.rng.random_range(0..4) {
            0 => Fault::Status(500, "internal error".into()),
            1 => Fault::Status(503, "unavailable".into()),
            2 => Fault::RetryAfter(0),
            _ => Fault::LostResponse,
        };
        let line = format!("fault: next {system} {op:?} meets {fault:?}");
        self.w.sim(system).fail_next(op, fault);
        line
    }

    pub(super) fn arm_crash(&mut self) -> String {
        let system = if self.rng.random_bool(0.5) { CRM } else { ERP };
        let how = if self.rng.random_bool(0.5) {
            Crash::AfterApply
        } else {
            Crash::BeforeCall
        };
        let conn = if system == CRM {
            &self.w.crm_conn
        } else {
            &self.w.erp_conn
        };
        conn.crash_next_write(how);
        format!("crash armed: next {system} write, {how:?}")
    }

    /// Changes have stopped: deliver everything and work until nothing is due, repeatedly (a
    /// write makes a webhook, which makes work).
    pub async fn quiesce(&mut self) -> Result<(), String> {
        for round in 0..40 {
            let delivered = self.deliver_all().await;
            let due = self.due().await;
            if delivered == 0 && due.is_empty() {
                self.note(format!("quiet after {round} rounds"));
                return Ok(());
            }
            for entity in due {
                let line = self.work(entity).await;
                self.note(format!("  q{round}: {line}"));
            }
        }
        Err("still busy after 40 rounds of delivering and working".into())
    }

    pub fn disarm(&self) {
        self.w.crm_conn.disarm();
        self.w.erp_conn.disarm();
    }
}
