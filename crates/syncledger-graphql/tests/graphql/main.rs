//! The GraphQL API end to end: a SQLite store on a temporary file with the product's
//! projections, histories appended the way the engine appends them, and the axum router driven
//! in process (or over a real socket for graphql-ws).

mod recorder;
mod support;

mod auth;
mod http;
mod mutations;
mod queries;
mod replay;
mod schema_file;
mod status;
mod subscription;
mod why;
