//! Fixtures shared by syncledger's tests and benches, once instead of in every test crate. Used
//! as a dev-dependency only, never published.
//!
//! - [`config`]: the contract's example configuration (CONTRACT §3), [`ExampleConfig`], with
//!   the few keys a test changes.
//! - [`db`]: a fresh database per test: [`TestDb`] (SQLite on a temporary file, or the
//!   PostgreSQL database `#[sqlx::test]` made) and [`ScratchDb`] (a PostgreSQL database of its
//!   own on the server `DATABASE_URL` names, for property tests and benches).
//!
//! Its own tests hold the workspace to a habit of STYLE.md: `tests/file_sizes.rs` fails naming
//! every file of `crates/*/src` longer than 400 lines.
#![forbid(unsafe_code)]

pub mod config;
pub mod db;

pub use config::ExampleConfig;
pub use db::{ScratchDb, TestDb};
