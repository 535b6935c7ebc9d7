//! The HTTP connector against systems served over real HTTP (the simulated system, and fake
//! ones built with axum), and the simulated system's own change feed and webhook sender: all
//! integration tests of this crate in one binary (one link, shared helpers). They live here,
//! where the connector and an HTTP server meet, so the production connector needs no server.

mod answer_limits;
mod etags;
mod hostile_ids;
mod http_crud;
mod http_failures;
mod rate_limits;
mod secrets;
mod sender;
mod sim_conditions;
mod sim_feed;
mod support;
