//! Turning text into a tree and the checked tree into typed sections, one tenant and one entity
//! at a time; and the messages of both without the values that caused them.

use super::{Config, ConfigError, Problem, ServerConfig, schema};

/// A TOML syntax error as its position and the parser's complaint. The `toml` crate's own
/// `Display` quotes the offending line, which may hold a token: it is never used.
pub(super) fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let at = error.span().map_or(0, |span| span.start).min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let first = error.message().lines().next().unwrap_or("invalid TOML");
    ConfigError::Parse {
        line,
        column,
        message: without_values(first),
    }
}

/// A deserializer's message without the value it found: `invalid type: string "tok", expected
/// usize` becomes `invalid type: string, expected usize`. What follows `expected` comes from
/// the types and stays.
pub(super) fn without_values(message: &str) -> String {
    // serde's own wordings quote what was found; every other message is this crate's own.
    let quotes_input = [
        "invalid type",
        "invalid value",
        "unknown variant",
        "invalid length",
    ]
    .iter()
    .any(|start| message.starts_with(start));
    if !quotes_input {
        return message.to_string();
    }
    let (head, tail) = match message.find(", expected") {
        Some(at) => message.split_at(at),
        None => (message, ""),
    };
    let mut out = String::with_capacity(message.len());
    let mut chars = head.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' | '\'' => {
                let mut escaped = false;
                for d in chars.by_ref() {
                    if d == c && !escaped {
                        break;
                    }
                    escaped = d == '\\' && !escaped;
                }
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    let head = out.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{head}{tail}")
}

/// Deserializes the server, each tenant and each entity on its own, so that every value of the
/// wrong type is reported, under the path of the tenant or entity it belongs to.
pub(super) fn typed(mut tree: toml::Table) -> Result<Config, Vec<Problem>> {
    let mut problems = Vec::new();
    let server = match tree.remove("server") {
        Some(value) => value
            .try_into()
            .map_err(|e| problems.push(type_problem("server", e)))
            .ok(),
        None => Some(ServerConfig::default()),
    };
    let tenants = items(tree.remove("tenants"), "tenants", "id", &mut problems);
    let entities = items(tree.remove("entities"), "entities", "name", &mut problems);
    let retention = tree.remove("retention").and_then(|value| {
        value
            .try_into()
            .map_err(|e| problems.push(type_problem("retention", e)))
            .ok()
    });
    match server {
        Some(server) if problems.is_empty() => Ok(Config {
            server,
            tenants,
            entities,
            retention,
        }),
        _ => Err(problems),
    }
}

fn items<T: serde::de::DeserializeOwned>(
    value: Option<toml::Value>,
    section: &str,
    id_key: &str,
    problems: &mut Vec<Problem>,
) -> Vec<T> {
    let entries = match value {
        None => return Vec::new(),
        Some(toml::Value::Array(entries)) => entries,
        Some(_) => {
            problems.push(Problem::new(
                section,
                format!("must be an array of tables ([[{section}]])"),
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let path = format!("{section}[{}]", schema::item_label(&entry, id_key, index));
        match entry.try_into() {
            Ok(item) => out.push(item),
            Err(error) => problems.push(type_problem(&path, error)),
        }
    }
    out
}

/// serde's message, with the key path it ends with (`in `a.b``) moved into the problem's path.
fn type_problem(base: &str, error: toml::de::Error) -> Problem {
    let text = error.to_string();
    match text.trim_end().rsplit_once("\nin `") {
        Some((message, keys)) => Problem::new(
            schema::join(base, keys.trim_end_matches('`')),
            without_values(message.trim()),
        ),
        None => Problem::new(base, without_values(text.trim())),
    }
}
