//! Secrets read from files: `admin_token_file`, `api_token_file`, `webhook_secret_file` and
//! `headers_file = { Header = "/path" }`, each beside the key it fills.
//!
//! Containers hand secrets over as files (`/run/secrets/...`), and a file keeps a token out of
//! the configuration file, the process environment and `ps`. Each `*_file` key (or its
//! `SYNCLEDGER_..._FILE` variable) names a file whose content, without its trailing line break,
//! becomes the secret; the `*_file` key is then gone from the tree, so the rest of the loader
//! sees a plain secret. Setting both forms in the file is an error; a variable replaces either
//! form ([`super::env`]). A file that cannot be read, or is empty, is a problem naming the key
//! and the path, never the content.

use super::Problem;

/// Secret keys that may be given as a file.
const SECRETS: [&str; 4] = ["admin_token", "api_token", "webhook_secret", "master_key"];
const SUFFIX: &str = "_file";

/// The other form of a secret key: `admin_token` <-> `admin_token_file`.
pub(super) fn partner(key: &str) -> Option<String> {
    match key.strip_suffix(SUFFIX) {
        Some(stem) if SECRETS.contains(&stem) || stem == "headers" => Some(stem.to_string()),
        Some(_) => None,
        None if SECRETS.contains(&key) || key == "headers" => Some(format!("{key}{SUFFIX}")),
        None => None,
    }
}

/// Replaces every `*_file` key of `tree` by the secret its file holds.
pub(super) fn read_secrets(tree: &mut toml::Table, problems: &mut Vec<Problem>) {
    if let Some(toml::Value::Table(server)) = tree.get_mut("server") {
        resolve(server, "admin_token", "server", problems);
        resolve(server, "master_key", "server", problems);
    }
    if let Some(toml::Value::Array(tenants)) = tree.get_mut("tenants") {
        for (index, tenant) in tenants.iter_mut().enumerate() {
            let label = super::schema::item_label(tenant, "id", index);
            let path = format!("tenants[{label}]");
            let Some(tenant) = tenant.as_table_mut() else {
                continue;
            };
            resolve(tenant, "api_token", &path, problems);
            let Some(toml::Value::Table(systems)) = tenant.get_mut("systems") else {
                continue;
            };
            for (name, system) in systems.iter_mut() {
                let path = format!("{path}.systems.{name}");
                if let Some(system) = system.as_table_mut() {
                    resolve(system, "webhook_secret", &path, problems);
                    headers(system, &path, problems);
                }
            }
        }
    }
}

/// `table[key]` from the file named by `table[key_file]`, if that is set.
fn resolve(table: &mut toml::Table, key: &str, path: &str, problems: &mut Vec<Problem>) {
    let file_key = format!("{key}{SUFFIX}");
    let Some(named) = table.remove(&file_key) else {
        return;
    };
    let here = format!("{path}.{file_key}");
    if table.contains_key(key) {
        problems.push(Problem::new(
            here,
            format!("set either {key} or {file_key}, not both"),
        ));
        return;
    }
    if let Some(secret) = read(&named, &here, problems) {
        table.insert(key.to_string(), toml::Value::String(secret));
    }
}

/// `headers_file = { Name = "/path" }`: each header's value from its file.
fn headers(system: &mut toml::Table, path: &str, problems: &mut Vec<Problem>) {
    let Some(named) = system.remove("headers_file") else {
        return;
    };
    let Some(named) = named.as_table() else {
        problems.push(Problem::new(
            format!("{path}.headers_file"),
            "must be a table of header = \"/path\"",
        ));
        return;
    };
    let headers = system
        .entry("headers")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(headers) = headers.as_table_mut() else {
        return;
    };
    for (name, file) in named {
        let here = format!("{path}.headers_file.{name}");
        if headers.keys().any(|h| h.eq_ignore_ascii_case(name)) {
            problems.push(Problem::new(
                here,
                format!("header {name} is also set in headers; set it once"),
            ));
        } else if let Some(value) = read(file, &here, problems) {
            headers.insert(name.clone(), toml::Value::String(value));
        }
    }
}

/// The content of the file `named` gives, without its trailing line break.
fn read(named: &toml::Value, here: &str, problems: &mut Vec<Problem>) -> Option<String> {
    let Some(file) = named.as_str().filter(|f| !f.trim().is_empty()) else {
        problems.push(Problem::new(here, "must be the path of a file"));
        return None;
    };
    match std::fs::read_to_string(file) {
        Ok(content) => {
            let secret = content.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                problems.push(Problem::new(here, format!("the file {file} is empty")));
                return None;
            }
            Some(secret.to_string())
        }
        Err(error) => {
            problems.push(Problem::new(
                here,
                format!("cannot read the file {file}: {error}"),
            ));
            None
        }
    }
}
