//! Standing conditions of the simulated system: until changed, they hold for every request.
//!
//! Scripted faults ([`super::Fault`]) are met once each, in order; a backlog benchmark needs the
//! opposite: a system that is down for minutes (every request answered `503`, nothing applied)
//! and then comes back, one that answers every call only after a fixed latency, and a request
//! log that does not grow by a million entries. Requests are counted ([`SimSystem::requests`])
//! in every case, so a caller can tell the calls the outage refused from the ones it served.

use std::time::Duration;

use super::SimSystem;
use crate::lock;

/// The conditions a request meets before anything else.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    /// While set, every request is answered with this status and nothing is applied.
    pub down: Option<u16>,
    /// How long every request waits before it is handled.
    pub latency: Duration,
    /// Whether requests are kept in [`SimSystem::request_log`] (on by default).
    pub unlogged: bool,
}

impl SimSystem {
    /// Takes the whole system down (`Some(503)`: every request is refused with that status and
    /// nothing is applied) or brings it back (`None`). Simulated users can still change records
    /// meanwhile, and their webhooks still go to the outbox.
    pub fn set_down(&self, status: Option<u16>) {
        lock(&self.state).conditions.down = status;
    }

    /// Every request waits `latency` before it is handled (zero by default).
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.state).conditions.latency = latency;
    }

    /// Stops (or resumes) keeping requests in the request log; the counts go on. For long runs
    /// whose log would otherwise hold every request.
    pub fn keep_request_log(&self, keep: bool) {
        lock(&self.state).conditions.unlogged = !keep;
    }
}
