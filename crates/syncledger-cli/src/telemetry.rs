//! Logs through `tracing`, human or JSON, on stderr; `RUST_LOG` filters.
//!
//! Three things hold whatever `RUST_LOG` says, because logs end up in files, pipes and log
//! collectors that other people read:
//!
//! - Colour codes only on a terminal: stderr redirected to a file or a pipe gets plain text.
//! - Control characters in logged values are escaped (`\n`, `\u{1b}`): a record id, a header or
//!   any other value from outside cannot start a forged log line or drive a terminal. (The JSON
//!   format escapes them by itself.)
//! - Libraries that log what goes over the wire are capped at [`WIRE_CAP`]: tungstenite logs
//!   every WebSocket frame and message at `trace` (a graphql-ws `connection_init` carries the
//!   bearer token) and close reasons at `debug`. Their targets are listed in [`WIRE_TARGETS`];
//!   this cap is a separate filter, so no `RUST_LOG` directive can lift it.

use std::fmt;
use std::io::IsTerminal;

use syncledger_core::config::LogFormat;
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::FilterFn;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Targets (and their children) that log payloads: WebSocket frames and messages.
pub const WIRE_TARGETS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];
/// The most those targets may log.
pub const WIRE_CAP: Level = Level::INFO;

/// `default_filter` applies when `RUST_LOG` is not set.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let registry = tracing_subscriber::registry()
        .with(FilterFn::new(|meta| allowed(meta.target(), *meta.level())))
        .with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Human => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .fmt_fields(EscapedFields::default())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}

/// Whether an event of `target` at `level` may be logged at all.
pub fn allowed(target: &str, level: Level) -> bool {
    let wire = WIRE_TARGETS.iter().any(|wire| {
        target
            .strip_prefix(wire)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    !wire || level <= WIRE_CAP
}

/// The default human field format, with control characters escaped.
#[derive(Default)]
pub struct EscapedFields {
    inner: DefaultFields,
}

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut raw = String::new();
        self.inner.format_fields(Writer::new(&mut raw), fields)?;
        writer.write_str(&escape_controls(&raw))
    }
}

/// `text` with every control character written as an escape (`\n`, `\t`, `\u{1b}`).
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(escape_controls("c-1"), "c-1");
        assert_eq!(
            escape_controls("id\n2026-12-04 INFO forged\u{1b}[31m\t"),
            "id\\n2026-12-04 INFO forged\\u{1b}[31m\\t"
        );
        assert_eq!(escape_controls("Zoë"), "Zoë");
    }

    #[test]
    fn wire_libraries_are_capped_whatever_the_filter() {
        assert!(!allowed("tungstenite::protocol", Level::TRACE));
        assert!(!allowed("tungstenite", Level::DEBUG));
        assert!(!allowed("tokio_tungstenite::compat", Level::TRACE));
        assert!(allowed("tungstenite::protocol", Level::INFO));
        assert!(allowed("syncledger_api", Level::TRACE));
        assert!(allowed("tungstenite_fork", Level::TRACE));
    }
}
