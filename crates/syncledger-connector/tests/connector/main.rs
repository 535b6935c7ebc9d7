//! All integration tests of the connector crate in one binary (one link, shared helpers).

mod hostile_ids;
mod http_crud;
mod http_failures;
mod rate_limits;
mod secrets;
mod sender;
mod signatures;
mod sim_conditions;
mod sim_feed;
mod support;
