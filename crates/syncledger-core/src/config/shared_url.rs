//! Two tenants whose systems share a `base_url`: refused unless `server.allow_shared_base_url`.
//!
//! The ledger tells its own writes from a system's changes by the webhooks that system sends
//! back. When two tenants reach the same system, each tenant's writes arrive as the other
//! tenant's webhooks too, and the two tenants sync each other's records: almost always a copied
//! configuration, rarely a deliberate set-up. So it is refused at start, naming both places,
//! unless the operator says it is meant. URLs are compared normalised, so `HTTP://Crm:80/api/`
//! and `http://crm/api` are one system.

use std::collections::BTreeMap;

use super::validate::tenant_path;
use super::{Config, Problem};

pub(super) fn problems(config: &Config, out: &mut Vec<Problem>) {
    if config.server.allow_shared_base_url {
        return;
    }
    // Normalised base_url -> the first tenant and system that reach it.
    let mut reached: BTreeMap<String, (String, &str)> = BTreeMap::new();
    for (index, tenant) in config.tenants.iter().enumerate() {
        let path = tenant_path(tenant, index);
        for (name, system) in &tenant.systems {
            let Some(url) = normalised_url(&system.base_url) else {
                continue;
            };
            match reached.get(&url) {
                Some((other, other_system)) if *other != path => out.push(Problem::new(
                    format!("{path}.systems.{name}.base_url"),
                    format!(
                        "the same as {other}.systems.{other_system}.base_url: each tenant's \
                         writes would come back as the other's webhooks; give each tenant its \
                         own system, or set server.allow_shared_base_url = true"
                    ),
                )),
                Some(_) => {}
                None => {
                    reached.insert(url, (path.clone(), name));
                }
            }
        }
    }
}

/// A base URL as compared for sharing: scheme and host lower-cased, the default port made
/// explicit, no user info, query or fragment, the path without its trailing `/`. `None` when it
/// is not an http(s) URL (reported on its own).
pub(super) fn normalised_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let host_port = authority
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let (host, port) = match host_port.rsplit_once(':') {
        // `[::1]` has colons of its own: a port follows the closing bracket.
        Some((host, port)) if !port.contains(']') => (host.to_string(), port.parse::<u16>().ok()?),
        _ => (host_port.clone(), default_port),
    };
    if host.is_empty() {
        return None;
    }
    Some(format!(
        "{scheme}://{host}:{port}{}",
        path.trim_end_matches('/')
    ))
}
