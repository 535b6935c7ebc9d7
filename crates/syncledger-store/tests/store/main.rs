//! The store's behaviour, written once per scenario and run against both backends: SQLite on a
//! temporary file, PostgreSQL on a fresh database per test (`#[sqlx::test]`, `DATABASE_URL` from
//! the environment or the crate's `.env`).

mod harness;

use syncledger_test_support::both;

mod append;
mod archive;
mod archive_erasure;
mod archive_rebuild;
mod checkpoint;
mod claims;
mod counts;
mod erasure_props;
mod fixtures;
mod group;
mod indexes;
mod leases;
mod order;
mod projections;
mod properties;
mod queries;
mod reads;
mod rebuild;
mod scan;
mod seal_old;
mod sealing;
mod upcasting;
mod upgrade;
mod versions;
mod wakeups;
