//! What a well-typed configuration can still get wrong, found all at once.
//!
//! Every [`Problem`] names the key path the way a user reads the file (`tenants[acme]`,
//! `entities[customer].systems.erp.required`) and says what is wrong. Values are not quoted in
//! a message (a misplaced token would be printed with it), only the keys that hold them; ids and
//! names, which are part of the key paths anyway, are the exception.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use super::{Config, Problem, RetentionConfig, ServerConfig, TenantConfig};

mod entities;
mod perimeter;

pub(super) fn problems(config: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    server(&config.server, &mut out);
    if let Some(retention) = &config.retention {
        retention_problems(retention, &mut out);
    }
    tenants(config, &mut out);
    super::shared_url::problems(config, &mut out);
    entities::entities(config, &mut out);
    out
}

/// Ids, names and system names appear in URLs and in environment variable names.
fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Echoes arrive within seconds or minutes; a year is far past any use and keeps times in range.
const MAX_TTL_SECS: u64 = 365 * 24 * 3600;

const SLUG_RULE: &str = "use only a-z, 0-9, _ and -";

fn server(server: &ServerConfig, out: &mut Vec<Problem>) {
    if server.listen.parse::<SocketAddr>().is_err() {
        out.push(Problem::new(
            "server.listen",
            "is not a socket address like \"127.0.0.1:8080\"",
        ));
    }
    let url = server.database_url.as_str();
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        out.push(Problem::new(
            "server.database_url",
            "must start with sqlite:, postgres:// or postgresql://",
        ));
    }
    if server.workers == 0 {
        out.push(Problem::new("server.workers", "must be at least 1"));
    }
    if server.admin_token.is_empty() {
        out.push(Problem::new(
            "server.admin_token",
            "must be set (in the file, as SYNCLEDGER_SERVER__ADMIN_TOKEN, or from a file with \
             admin_token_file)",
        ));
    } else {
        token_strength(&server.admin_token, "server.admin_token", out);
    }
    if server.webhook_body_limit == 0 {
        out.push(Problem::new(
            "server.webhook_body_limit",
            "must be at least 1 byte",
        ));
    }
    if server.round_trip_ttl_secs == 0 || server.round_trip_ttl_secs > MAX_TTL_SECS {
        out.push(Problem::new(
            "server.round_trip_ttl_secs",
            format!("must be between 1 second and {MAX_TTL_SECS} (a year)"),
        ));
    }
    if !(1..=MAX_RECORD_ID_BYTES).contains(&server.max_record_id_bytes) {
        out.push(Problem::new(
            "server.max_record_id_bytes",
            format!("must be between 1 and {MAX_RECORD_ID_BYTES}"),
        ));
    }
    if server.max_retry_after_secs == 0 {
        out.push(Problem::new(
            "server.max_retry_after_secs",
            "must be at least 1 second",
        ));
    }
    if !(MIN_RESPONSE_BYTES..=MAX_RESPONSE_BYTES).contains(&server.max_response_bytes) {
        out.push(Problem::new(
            "server.max_response_bytes",
            format!(
                "must be between {MIN_RESPONSE_BYTES} (1 KiB) and {MAX_RESPONSE_BYTES} (1 GiB)"
            ),
        ));
    }
    if !(1..=MAX_ATTEMPTS).contains(&server.max_attempts) {
        out.push(Problem::new(
            "server.max_attempts",
            format!("must be between 1 and {MAX_ATTEMPTS}"),
        ));
    }
    if server.lease_ttl_secs < MIN_LEASE_TTL_SECS || server.lease_ttl_secs > MAX_LEASE_TTL_SECS {
        out.push(Problem::new(
            "server.lease_ttl_secs",
            format!("must be between {MIN_LEASE_TTL_SECS} and {MAX_LEASE_TTL_SECS} seconds"),
        ));
    }
    perimeter::problems(server, out);
}

/// A hundred years: anything longer is a mistake (a value in hours or seconds).
const MAX_ARCHIVE_AFTER_DAYS: u32 = 36_500;
/// A week between runs at most: the archive's backlog grows with the wait.
const MAX_RETENTION_INTERVAL_SECS: u64 = 7 * 24 * 3600;
/// Fewer positions per partition would make a table per few events.
const MIN_PARTITION_WIDTH: u64 = 16;
/// Past 2^40 positions a partition is the whole log of any deployment.
const MAX_PARTITION_WIDTH: u64 = 1 << 40;

fn retention_problems(retention: &RetentionConfig, out: &mut Vec<Problem>) {
    match retention.archive_after_days {
        None if retention.enabled => out.push(Problem::new(
            "retention.archive_after_days",
            "must be set: events recorded more than this many days before a run are archived \
             (or set retention.enabled = false)",
        )),
        Some(days) if days > MAX_ARCHIVE_AFTER_DAYS => out.push(Problem::new(
            "retention.archive_after_days",
            format!("must be at most {MAX_ARCHIVE_AFTER_DAYS} (days, not hours or seconds)"),
        )),
        _ => {}
    }
    let dir = std::path::Path::new(&retention.archive_dir);
    if retention.archive_dir.trim().is_empty() {
        if retention.enabled {
            out.push(Problem::new(
                "retention.archive_dir",
                "must be set: the directory archive segments are written to",
            ));
        }
    } else if !dir.is_absolute() {
        out.push(Problem::new(
            "retention.archive_dir",
            "must be an absolute path (serve may be started from any directory)",
        ));
    }
    if retention
        .partition_width
        .is_some_and(|w| !(MIN_PARTITION_WIDTH..=MAX_PARTITION_WIDTH).contains(&w))
    {
        out.push(Problem::new(
            "retention.partition_width",
            format!("must be between {MIN_PARTITION_WIDTH} and {MAX_PARTITION_WIDTH} (2^40)"),
        ));
    }
    if !(1..=MAX_RETENTION_INTERVAL_SECS).contains(&retention.interval_secs) {
        out.push(Problem::new(
            "retention.interval_secs",
            format!("must be between 1 and {MAX_RETENTION_INTERVAL_SECS} (a week)"),
        ));
    }
}

/// Ids travel in URLs and the log; 64 KiB is far beyond any system's ids.
const MAX_RECORD_ID_BYTES: usize = 65_536;
/// An answer's body is at least a record: less than 1 KiB would refuse ordinary answers.
const MIN_RESPONSE_BYTES: usize = 1024;
/// Every answer is held in memory while it is read: 1 GiB is far past any record or page.
const MAX_RESPONSE_BYTES: usize = 1 << 30;
/// The largest retry budget: at the longest backoff, a write is tried for days before it is given up.
const MAX_ATTEMPTS: u32 = 100;

/// Fewer characters than this and a token can be guessed or brute-forced over the API.
pub const MIN_TOKEN_CHARS: usize = 16;

fn token_strength(token: &super::Secret, path: &str, out: &mut Vec<Problem>) {
    secret_strength(token, path, "a token", out)
}

/// The one rule for every secret (`what`: "a token", "a webhook secret"): at least
/// [`MIN_TOKEN_CHARS`] characters, not all of them blank.
fn secret_strength(secret: &super::Secret, path: &str, what: &str, out: &mut Vec<Problem>) {
    let length = secret.expose().chars().count();
    let hint = "generate one with `openssl rand -hex 32`";
    if length < MIN_TOKEN_CHARS {
        out.push(Problem::new(
            path,
            format!(
                "is too short ({length} characters): {what} needs at least {MIN_TOKEN_CHARS}; \
                 {hint}"
            ),
        ));
    } else if secret.expose().trim().is_empty() {
        out.push(Problem::new(path, format!("is only blanks; {hint}")));
    }
}

/// A lease is renewed every third of its TTL: shorter than this and renewals crowd the store.
const MIN_LEASE_TTL_SECS: u64 = 3;
/// A day: longer only makes a dead process's entities wait longer.
const MAX_LEASE_TTL_SECS: u64 = 86_400;

pub(super) fn tenant_path(tenant: &TenantConfig, index: usize) -> String {
    if tenant.id.is_empty() {
        format!("tenants[#{}]", index + 1)
    } else {
        format!("tenants[{}]", tenant.id)
    }
}

fn tenants(config: &Config, out: &mut Vec<Problem>) {
    let mut ids = BTreeSet::new();
    // Token -> who holds it, so a shared token is reported without printing it.
    let mut tokens: BTreeMap<&str, String> = BTreeMap::new();
    if !config.server.admin_token.is_empty() {
        tokens.insert(
            config.server.admin_token.expose(),
            "server.admin_token".into(),
        );
    }
    for (index, tenant) in config.tenants.iter().enumerate() {
        let path = tenant_path(tenant, index);
        if !is_slug(&tenant.id) {
            out.push(Problem::new(
                format!("{path}.id"),
                format!("{:?}: {SLUG_RULE}", tenant.id),
            ));
        } else if !ids.insert(tenant.id.as_str()) {
            out.push(Problem::new(
                format!("{path}.id"),
                "another tenant has the same id",
            ));
        }
        let token_path = format!("{path}.api_token");
        if tenant.api_token.is_empty() {
            out.push(Problem::new(&token_path, "must be set"));
        } else if tenant.api_token.expose().chars().count() < MIN_TOKEN_CHARS {
            token_strength(&tenant.api_token, &token_path, out);
        } else if let Some(holder) = tokens.get(tenant.api_token.expose()) {
            out.push(Problem::new(
                &token_path,
                format!("same as {holder}; every token must differ"),
            ));
        } else {
            tokens.insert(tenant.api_token.expose(), token_path);
        }
        if tenant.systems.is_empty() {
            out.push(Problem::new(
                format!("{path}.systems"),
                "a tenant needs at least one system",
            ));
        }
        for (name, system) in &tenant.systems {
            let here = format!("{path}.systems.{name}");
            if !is_slug(name) {
                out.push(Problem::new(
                    &here,
                    format!("system name {name:?}: {SLUG_RULE}"),
                ));
            }
            let url = system.base_url.as_str();
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|host| host.is_empty() || host.starts_with('/')) {
                out.push(Problem::new(
                    format!("{here}.base_url"),
                    "is not an http:// or https:// URL",
                ));
            }
            if let Some(limit) = &system.rate_limit {
                rate_limit(&format!("{here}.rate_limit"), limit, out);
            }
            let secret_path = format!("{here}.webhook_secret");
            if system.webhook_secret.is_empty() {
                out.push(Problem::new(secret_path, "must be set"));
            } else {
                secret_strength(
                    &system.webhook_secret,
                    &secret_path,
                    "a webhook secret",
                    out,
                );
            }
            for (header, value) in &system.headers {
                let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
                if header.is_empty() || !header.chars().all(is_token) {
                    out.push(Problem::new(
                        format!("{here}.headers"),
                        format!("{header:?} is not a valid header name"),
                    ));
                }
                if value.expose().chars().any(|c| c.is_control() && c != '\t') {
                    out.push(Problem::new(
                        format!("{here}.headers.{header}"),
                        "the value holds a control character (a line break?)",
                    ));
                }
            }
        }
    }
}

/// A quota must let requests through: a positive rate, and at least one at a time.
fn rate_limit(path: &str, limit: &super::RateLimitConfig, out: &mut Vec<Problem>) {
    let rate = limit.requests_per_second;
    if !(rate.is_finite() && rate > 0.0) {
        out.push(Problem::new(
            format!("{path}.requests_per_second"),
            "must be a number above 0",
        ));
    }
    if limit.burst == 0 {
        out.push(Problem::new(format!("{path}.burst"), "must be at least 1"));
    }
    if limit.max_in_flight == Some(0) {
        out.push(Problem::new(
            format!("{path}.max_in_flight"),
            "must be at least 1 (leave it out for no cap)",
        ));
    }
}
