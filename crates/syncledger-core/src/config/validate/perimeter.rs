//! The HTTP server's own bounds: connections, timeouts, the shutdown deadline.

use super::super::{Problem, ServerConfig};

/// Far past any sensible connection cap; keeps the reserve arithmetic in range.
const MAX_CONNECTIONS: usize = 1_000_000;
/// An hour: past any client that is not stalling on purpose.
const MAX_TIMEOUT_SECS: u64 = 3600;

pub(super) fn problems(server: &ServerConfig, out: &mut Vec<Problem>) {
    if !(1..=MAX_CONNECTIONS).contains(&server.max_connections) {
        out.push(Problem::new(
            "server.max_connections",
            format!("must be between 1 and {MAX_CONNECTIONS}"),
        ));
    }
    for (key, secs) in [
        (
            "server.header_read_timeout_secs",
            server.header_read_timeout_secs,
        ),
        (
            "server.body_read_timeout_secs",
            server.body_read_timeout_secs,
        ),
        ("server.ws_init_timeout_secs", server.ws_init_timeout_secs),
        ("server.shutdown_timeout_secs", server.shutdown_timeout_secs),
    ] {
        if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
            out.push(Problem::new(
                key,
                format!("must be between 1 and {MAX_TIMEOUT_SECS} seconds"),
            ));
        }
    }
}
