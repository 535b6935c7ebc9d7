//! syncledger's GraphQL API: the history of every synced record and why it is what it is,
//! replays, and the sync's operational state.
//!
//! The API only reads the log and the projections, and only ever appends what a person asked for;
//! it never talks to a connected system. Every answer for one entity comes from that entity's own
//! stream, so the cost of a history page does not grow with the log.
//!
//! - [`http`]: the axum routes (`/graphql`, GraphiQL, `/graphql/ws`) and GraphQL-over-HTTP;
//!   `ws`: the WebSocket's gate; `graphiql`: the page and its Content-Security-Policy.
//! - [`limits`]: what every transport checks before the parser runs (length, nesting, sizes,
//!   subscriptions and connections); docs/security.md explains why.
//! - [`auth`]: bearer tokens to callers, tenant scoping.
//! - [`query`], [`mutation`], [`subscription`]: the three roots.
//! - [`entity`]: `Entity` with `history` and `whyField`; [`why`]: the causal chain behind a field.
//! - [`types`], [`rows`]: the shapes of events and projection rows; [`status`]: `syncStatus`,
//!   with [`systems`]: its per-system write outcomes; [`ops_history`]: `opsHistory`, its minutes.
//! - [`viewer`]: who the token is and what it sees; [`find`]: entities by a match-key value.
//!   Both exist for clients such as the audit console (`/console`).
//! - [`replay`]: the IO around the pure replay core; [`paging`]: keyset Relay connections.
//! - [`context`]: what the API holds of the ledger; [`error`]: the one error type and the codes
//!   every error carries.
#![forbid(unsafe_code)]

use async_graphql::{Schema, SchemaBuilder};

pub mod auth;
pub mod conflicts;
pub mod context;
pub mod entity;
pub mod erase;
pub mod error;
pub mod find;
mod graphiql;
pub mod http;
pub mod initial_sync;
pub mod limits;
pub mod mutation;
pub mod ops_history;
pub mod paging;
pub mod query;
pub mod replay;
pub mod rows;
pub mod status;
pub mod subscription;
pub mod summary;
pub mod systems;
pub mod types;
pub mod viewer;
pub mod what_if;
pub mod why;
mod ws;

pub use auth::{Auth, Caller};
pub use context::ApiContext;
pub use error::ApiError;

/// The schema type: built by [`schema`], printed by [`sdl`].
pub type SyncSchema = Schema<query::Query, mutation::Mutation, subscription::SubscriptionRoot>;

/// Deepest selection accepted. The schema itself nests about 8 levels; the rest is headroom for
/// the introspection query GraphiQL sends (about 13).
pub const MAX_DEPTH: usize = 16;
/// Most expensive selection accepted; a list's items each cost what their selection costs, so
/// `history(first: 200)` with a dozen fields fits, and a page of pages does not.
pub const MAX_COMPLEXITY: usize = 5_000;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, subscription::SubscriptionRoot> {
    Schema::build(
        query::Query,
        mutation::Mutation,
        subscription::SubscriptionRoot,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(error::ErrorCodes)
}

/// The executable schema over an [`ApiContext`] (the server builds one from its `Ledger` with
/// `syncledger_api::graphql_context`). A request must carry its
/// [`Caller`] as request data (`request.data(caller)`); [`routes`] does that from the bearer token.
pub fn schema(ledger: impl Into<ApiContext>) -> SyncSchema {
    builder().data(ledger.into()).finish()
}

/// The schema in SDL, as committed at `api/schema.graphql` (`syncledger export-schema`).
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// `POST`/`GET /graphql` and `/graphql/ws` over an [`ApiContext`], with their state applied:
/// `.merge` it into the server's router.
pub fn routes(ledger: impl Into<ApiContext>) -> axum::Router {
    http::routes(ledger.into())
}
