//! Turning the checked tree into typed sections, one tenant and one entity at a time.

use super::{Config, Problem, ServerConfig, schema};

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
    match server {
        Some(server) if problems.is_empty() => Ok(Config {
            server,
            tenants,
            entities,
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
            message.trim(),
        ),
        None => Problem::new(base, text.trim()),
    }
}
