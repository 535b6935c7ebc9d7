//! Black-box tests of the real `syncledger` binary.
//!
//! Every test starts the built executable (`CARGO_BIN_EXE_syncledger`) as a child process, against
//! two simulated systems served over real HTTP on port 0, and talks to it only the way a user
//! would: signed webhooks in, `/healthz`, `/readyz` and `/metrics`, signals, exit statuses, and
//! what the connected systems end up holding. Nothing here reaches into the service's crates, so
//! these tests hold the product to CONTRACT.md rather than to its current wiring.
//!
//! Each test owns its ports, temporary folder and database. Scenarios that touch storage are
//! written once and run on SQLite (a temporary file) and on PostgreSQL (a fresh database from
//! `#[sqlx::test]`, so `DATABASE_URL` must name a server, as README.md's test command does).
//!
//! - `harness`: the simulated systems, the configuration file, waiting and settling.
//! - `service`: one `syncledger serve` process: start, signals, HTTP helpers.
//! - `metrics`: reading the Prometheus text of `/metrics`.
//! - `webhooks`: the status matrix of CONTRACT §2; a rejection records nothing.
//! - `races`: G1 and G2 end to end.
//! - `crash`: G4 across `kill -9`.
//! - `leases`: after `kill -9` only the jobs in flight wait for their leases.
//! - `shutdown`: SIGTERM.
//! - `graphql`: the API's wiring in the binary: tokens, audit trail, subscriptions.
//! - `ops`: health, readiness and the metric names of CONTRACT §9.
//! - `outage`: the database down and back: 503, readiness, recovery (PostgreSQL).
//! - `quota`: two processes with half a system's `rate_limit` each stay within the whole quota.
//! - `commands`: `demo --exit`, `migrate`, `rebuild --all`.
//! - `bringup`: the initial sync on existing records across `kill -9`, and how it shows.
//! - `browser`: headless Chromium over WebDriver, for the console's tests.
//! - `console`, `console_access`, `console_round2`, `console_round3`, `console_conflicts`,
//!   `console_bench`: the audit console in a real browser: find, conflicts,
//!   entity, timeline, why, dead-letter retry, live; tenant scoping; nothing loaded from
//!   elsewhere; the entity page's first render on a large log (ignored: a measurement).
//! - `security`: the perimeter (issue 20): hostile requests, secrets in errors and logs, limits,
//!   headers, the checks at start.
//! - `two_processes`: two processes on one PostgreSQL, random work and `kill -9`, a fixed seed
//!   set: no record linked twice, no duplicate (issue 27).
//! - `isolation`: one tenant's CRM down with its backlog queued holds up no other tenant; a
//!   300 MB answer ends as a dead letter and the process stays up (issue 27).
//! - `perimeter`: issue 27's perimeter findings: every WebSocket message bounded (both
//!   protocols), header and body timeouts, the connection cap and `/healthz` past it, the
//!   WebSocket init timeout, the shutdown deadline, a 413 a write-first client can read.
//! - `archive`: `[retention]` archiving every second while webhooks flow: nothing lost or
//!   doubled, histories whole with `--archive`, an erased person's archive reads as erased, the
//!   console's note (issue 32); prints the webhook 202 latency with and without archiving.
//! - `console_erasure`: the console's erasure, offered to the admin only, confirmed with the
//!   person's linked records named, and its receipt.
//! - `erasure`: a person erased (issue 29): nothing of theirs in the database or the log, the
//!   history's shape, `whyField`, the link still working, replay silent.
//! - `replay`: same-build `replayDecisions` is silent over a seeded random run with webhooks
//!   late, duplicated and out of order (issue 17).
//! - `what_if`: `replayDecisions(..., config:)` and `syncledger what-if` name exactly the
//!   decisions a proposal changes, and write nothing (issue 30; issue 28's policy replay).

mod browser;
mod harness;
mod metrics;
mod service;

mod archive;
mod bringup;
mod commands;
mod conflicts;
mod console;
mod console_access;
mod console_bench;
mod console_conflicts;
mod console_erasure;
mod console_round2;
mod console_round3;
mod crash;
mod erasure;
mod graphql;
mod isolation;
mod leases;
mod ops;
mod outage;
mod perimeter;
mod quota;
mod races;
mod replay;
mod security;
mod shutdown;
mod two_processes;
mod webhooks;
mod what_if;
