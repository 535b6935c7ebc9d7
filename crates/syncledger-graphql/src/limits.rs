//! Bounds on everything that reaches the GraphQL parser, checked before it runs.
//!
//! The parser descends recursively into selection sets, argument values, list types and
//! directives. Its own limits (`limit_depth`) apply *after* parsing, so a document nested a few
//! thousand levels deep exhausts a worker thread's stack while being parsed, and a stack overflow
//! aborts the whole process: it is not a panic and cannot be caught. So the recursion is made
//! impossible instead: [`check`] runs a linear scan over the text (no recursion, no allocation)
//! and refuses a query longer than [`MAX_QUERY_BYTES`] or with brackets (`{`, `[`, `(`) nested
//! deeper than [`MAX_NESTING`], skipping string literals and comments as the parser does.
//!
//! The scan errs on the side of counting: a bracket it cannot place is counted, so its depth is
//! never below the depth the parser would reach. Every transport (GET, POST, the WebSocket's
//! `subscribe`) calls it on the raw query before anything else reads the document.
//! `tests/limits.rs` runs the deepest and the longest documents the limits let through on a
//! thread with the default 2 MiB stack, so a change that makes the parser hungrier fails there.
//!
//! The other limits of the transports live here too, so `docs/security.md` has one list.

/// Longest query text accepted, in bytes. GraphiQL's introspection query is about 2 KiB.
pub const MAX_QUERY_BYTES: usize = 32 * 1024;
/// Deepest nesting of `{`, `[` and `(` accepted. Selections are limited to
/// [`crate::MAX_DEPTH`] levels anyway; the rest is room for arguments and input values.
pub const MAX_NESTING: usize = 64;
/// Largest `POST /graphql` body, in bytes (variables included).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Largest WebSocket message, in bytes.
pub const MAX_WS_MESSAGE_BYTES: usize = 256 * 1024;
/// Subscriptions one WebSocket connection may hold at once.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 16;
/// WebSocket connections one token may hold open at once.
pub const MAX_CONNECTIONS_PER_TOKEN: usize = 8;

/// A request body that did not arrive in time (`server.body_read_timeout_secs`): the error the
/// server's body reader gives, so every handler can answer it with 408.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeout(pub std::time::Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {:?}", self.0)
    }
}

impl std::error::Error for BodyTimeout {}

/// Why a request body could not be taken whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than the limit: 413.
    TooLarge,
    /// Not all there within the read deadline: 408, and the connection closes.
    TimedOut,
    /// Cut off or badly framed: 400.
    Broken,
}

/// The body whole, read only up to `limit` bytes.
pub async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, BodyError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut whole = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            let inner = err.into_inner();
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
            while let Some(error) = cause {
                if error.is::<BodyTimeout>() {
                    return BodyError::TimedOut;
                }
                cause = error.source();
            }
            BodyError::Broken
        })?;
        if whole.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        whole.extend_from_slice(&chunk);
    }
    Ok(whole.into())
}

/// Why a request is refused before it reaches the parser or the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    QueryTooLarge,
    QueryTooDeep,
    BodyTooLarge { limit: usize },
    TooManySubscriptions,
    TooManyConnections,
}

impl Refusal {
    /// The stable `extensions.code` a client sees.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::QueryTooLarge => "QUERY_TOO_LARGE",
            Refusal::QueryTooDeep => "QUERY_TOO_DEEP",
            Refusal::BodyTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Refusal::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
            Refusal::TooManyConnections => "TOO_MANY_CONNECTIONS",
        }
    }

    pub fn message(self) -> String {
        match self {
            Refusal::QueryTooLarge => format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
            Refusal::QueryTooDeep => {
                format!("the query nests brackets deeper than {MAX_NESTING} levels")
            }
            Refusal::BodyTooLarge { limit } => format!("the body is larger than {limit} bytes"),
            Refusal::TooManySubscriptions => {
                format!("at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection")
            }
            Refusal::TooManyConnections => {
                format!("at most {MAX_CONNECTIONS_PER_TOKEN} WebSocket connections per token")
            }
        }
    }

    /// The error in the GraphQL response shape: `{"message", "extensions": {"code"}}`.
    pub fn error(self) -> serde_json::Value {
        serde_json::json!({"message": self.message(), "extensions": {"code": self.code()}})
    }
}

/// Refuses a query text the parser must not see: see the module documentation.
pub fn check(query: &str) -> Result<(), Refusal> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(Refusal::QueryTooLarge);
    }
    if nesting(query.as_bytes()) > MAX_NESTING {
        return Err(Refusal::QueryTooDeep);
    }
    Ok(())
}

/// The deepest bracket nesting of a GraphQL document, strings and comments skipped. Stops
/// counting once past [`MAX_NESTING`].
fn nesting(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < text.len() && deepest <= MAX_NESTING {
        match text[i] {
            b'#' => i = line_end(text, i),
            b'"' if text[i..].starts_with(b"\"\"\"") => i = block_string_end(text, i + 3),
            b'"' => i = string_end(text, i + 1),
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    deepest
}

/// Past a comment: comments end at a line terminator (`\n` or `\r`).
fn line_end(text: &[u8], from: usize) -> usize {
    text[from..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(text.len(), |p| from + p + 1)
}

/// Past a `"..."` string that starts at `from` (after its quote). A string cannot span lines:
/// at a line break the parser fails, and the scan goes on counting, which only errs high.
fn string_end(text: &[u8], mut i: usize) -> usize {
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    text.len()
}

/// Past a `"""..."""` block string whose content starts at `from`; `\"""` does not close it.
fn block_string_end(text: &[u8], mut i: usize) -> usize {
    while i < text.len() {
        if text[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if text[i..].starts_with(b"\"\"\"") {
            return i + 3;
        } else {
            i += 1;
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_of_every_kind_count() {
        assert_eq!(nesting(b"{ a(x: [{y: 1}]) }"), 4);
        assert_eq!(nesting(b"query($v: [[Int]]) { a }"), 3);
        assert_eq!(nesting(b"{ a } { b { c } }"), 2);
    }

    #[test]
    fn strings_and_comments_do_not_count() {
        assert_eq!(nesting(br#"{ a(x: "{{{{[[[(((") }"#), 2);
        assert_eq!(nesting(br#"{ a(x: "\"{{{") }"#), 2);
        assert_eq!(nesting(b"{ a # {{{{{{\n }"), 1);
        assert_eq!(nesting(br#"{ a(x: """ {{{ \""" {{{ """) }"#), 2);
    }

    #[test]
    fn an_unterminated_string_ends_at_the_line_and_counting_goes_on() {
        assert_eq!(nesting(b"{ a(x: \"abc\n{{{ }"), 5);
    }

    #[test]
    fn closers_without_openers_do_not_make_room() {
        assert_eq!(nesting(b")))))) {{{"), 3);
    }

    #[test]
    fn the_limits_refuse_with_their_codes() {
        let deep = format!("{{ a(x: {}1{}) }}", "[".repeat(100), "]".repeat(100));
        assert_eq!(check(&deep), Err(Refusal::QueryTooDeep));
        assert_eq!(Refusal::QueryTooDeep.code(), "QUERY_TOO_DEEP");
        let long = format!("{{ a{} }}", " ".repeat(MAX_QUERY_BYTES));
        assert_eq!(check(&long), Err(Refusal::QueryTooLarge));
        let just = format!("{}{}", "{".repeat(MAX_NESTING), "}".repeat(MAX_NESTING));
        assert_eq!(check(&just), Ok(()));
        let over = format!(
            "{}{}",
            "{".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING + 1)
        );
        assert_eq!(check(&over), Err(Refusal::QueryTooDeep));
    }
}
