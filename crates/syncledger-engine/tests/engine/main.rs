//! The sync engine's guarantees (CONTRACT §6, G1–G9), each proved by a scenario that forces the
//! interleaving it is about, plus a seeded simulation that mixes user edits, late, duplicated and
//! reordered webhooks, faults and crashes, and checks convergence after every run.
//!
//! Scenarios that touch the store's concurrency run on SQLite and PostgreSQL (`both!`).
//! `SIM_SEED=<n> cargo test -p syncledger-engine sim_` replays one simulation seed.

mod db;

use syncledger_test_support::both;
mod faulty;
mod fixture_log;
mod gates;
mod harness;
mod observe;

mod archived;
mod bringup;
mod coalescing;
mod conflicts;
mod decisions;
mod failures;
mod fairness;
mod g1_same_direction;
mod g2_claims;
mod g2_round_trip_creates;
mod g3_round_trip_updates;
mod g4_crashes;
mod g5_to_g7;
mod g8_live;
mod g9_ordering;
mod invariants;
mod job_failures;
mod rooms;
mod sim;
mod webhooks;
