//! The GraphQL API end to end: a store with the product's projections, histories appended the way
//! the engine appends them, and the axum router driven in process (or over a real socket for
//! graphql-ws). Every scenario runs twice (`both!` in `support`): on SQLite on a temporary file,
//! and on a fresh PostgreSQL database (`#[sqlx::test]`, `DATABASE_URL` from the environment or the
//! crate's `.env`).

mod recorder;
mod support;

mod archived;
mod auth;
mod console;
mod erasure;
mod fuzz;
mod http;
mod initial_sync;
mod limits;
mod mutations;
mod queries;
mod replay;
mod schema_file;
mod status;
mod subscription;
mod why;
