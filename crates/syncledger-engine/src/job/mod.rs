//! The job room: one entity's work, from its folded stream to its writes' outcomes.
//!
//! [`run`] is the room's one door (the scheduler's, and the start-up recovery's): it works one
//! entity as far as its work is due now, catching a panic, and records a failure of the work
//! against it (`failures`). Inside, [`process::Job`] is the state machine over the entity's
//! `EntityState`, one step at a time:
//!
//! 1. `gather`: fetch the record from its origin and look up what the decision needs;
//! 2. the core's pure `decide` chooses, and `process` records the inputs and the decision;
//! 3. `hold`: a create towards a system an initial sync has not listed yet waits instead;
//! 4. `writes`: perform the requested writes and settle a write whose outcome was lost (G4), by
//!    the core's recovery steps; `outcome` records what each attempt came to (the core's
//!    `after_attempt`), and `failures` what a failed job came to (the same function).
//!
//! A person's retry of a dead letter is a work item like any other: the core's `decide` decides
//! it (`decide::dead_letter`). Every step reads as: gather, call the core, append what it
//! returned. No step builds a decision's events itself (`engine` tests, `decisions::*`).
//!
//! The modules depend one way: `process` on the steps, the steps on `env` (what a job is
//! given, and how it appends), nothing back.

mod env;
mod failures;
mod gather;
mod hold;
mod outcome;
mod process;
mod writes;

pub(crate) use env::Env;
pub(crate) use failures::run;
