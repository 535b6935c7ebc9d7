//! The configuration: one TOML file, overridable value by value from the environment.
//!
//! Loading runs in five steps, each reporting every problem it finds rather than the first:
//! the TOML is parsed into a tree; `SYNCLEDGER_...` variables are applied to that tree (see
//! [`env`] for the naming scheme); the tree's keys are checked against the known layout, so a
//! typo is reported with its full key path; secrets named by `*_file` keys are read (see
//! [`files`]); then the tree is deserialized into [`Config`] and [`Config::validate`] checks what
//! types cannot (addresses, references between sections, token strength).
//!
//! Secrets are held in [`Secret`], which prints and serializes as `***`: only
//! [`Secret::expose`] reveals one, so a secret cannot reach a log or an API by accident. No error
//! of this module quotes a value from the file or the environment: each names the key (or the
//! variable, or the line and column of a syntax error) and the problem, because the value on a
//! line that does not parse may well be a token.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::mapping::FieldPath;

pub mod env;
mod error;
pub mod files;
mod load;
mod proposal;
mod retention;
mod schema;
mod secret;
mod shared_url;
mod validate;

pub use error::{ConfigError, Problem};
pub use proposal::{Located, ProposalError};
pub use retention::RetentionConfig;
pub use secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    #[serde(default)]
    pub entities: Vec<EntityConfig>,
    /// Scheduled archiving inside `serve` (docs/operations.md, "Retention"); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The socket address the HTTP server binds.
    pub listen: String,
    /// `sqlite:...` or `postgres://...` / `postgresql://...`.
    pub database_url: String,
    /// Concurrent sync jobs in this process.
    pub workers: usize,
    /// GraphQL mutations and every tenant's data. No default: it must be set.
    pub admin_token: Secret,
    /// The key that wraps every data key (docs/privacy.md): 64 hex digits, usually given as
    /// `master_key_file`. Required on PostgreSQL for values to be sealed; on SQLite, when
    /// empty, `<database>.key` beside the database file is read or created.
    pub master_key: Secret,
    /// Whether values are sealed (docs/privacy.md). `false` is the explicit opt-out: values are
    /// stored in clear and nothing can be erased. With `true` (the default) PostgreSQL refuses
    /// to start without a master key, so a forgotten key never means values in clear.
    pub seal: bool,
    pub log_format: LogFormat,
    /// Largest accepted webhook body, in bytes.
    pub webhook_body_limit: usize,
    /// How long the context of the sync's own writes is used to recognise their echoes.
    pub round_trip_ttl_secs: u64,
    /// How long a process owns an entity it works before another process may take it over
    /// (renewed while a job runs; after `kill -9` the entity waits at most this long).
    pub lease_ttl_secs: u64,
    /// Longest record id accepted, in bytes: a webhook naming a longer one is refused (400) and
    /// a connected system answering with one is a dead letter.
    pub max_record_id_bytes: usize,
    /// The longest `Retry-After` a connected system may ask for; longer waits are cut to this,
    /// the pause a `429` puts on the whole system included.
    pub max_retry_after_secs: u64,
    /// The longest answer read from a connected system, in bytes; a longer one is refused
    /// (the work goes to dead letters with "answer over ...").
    pub max_response_bytes: usize,
    /// Attempts of one write (or one failed work item) before it goes to dead letters. The
    /// connector sends each request once; this is the one retry budget.
    pub max_attempts: u32,
    /// Whether two tenants may reach one system `base_url` (normally a mistake: each tenant's
    /// writes would be the other's webhooks). Refused at start unless this is true.
    pub allow_shared_base_url: bool,
    /// Open HTTP connections (WebSockets included) served at once; past it a small reserve
    /// answers `/healthz` and refuses the rest with 503 (see `syncledger-api`'s `server`).
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (an idle connection too).
    pub header_read_timeout_secs: u64,
    /// How long a client may take to send a request's body, from its headers on.
    pub body_read_timeout_secs: u64,
    /// How long a WebSocket may stay open without an accepted `connection_init` (then `4408`).
    pub ws_init_timeout_secs: u64,
    /// After SIGTERM, how long connections and work in flight may take before the process exits.
    pub shutdown_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://syncledger.db".into(),
            workers: 8,
            admin_token: Secret::default(),
            master_key: Secret::default(),
            seal: true,
            log_format: LogFormat::Human,
            webhook_body_limit: 1024 * 1024,
            round_trip_ttl_secs: 600,
            lease_ttl_secs: 30,
            max_record_id_bytes: 1024,
            max_retry_after_secs: 3600,
            max_response_bytes: 4 * 1024 * 1024,
            max_attempts: 10,
            allow_shared_base_url: false,
            max_connections: 512,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            ws_init_timeout_secs: 10,
            shutdown_timeout_secs: 30,
        }
    }
}

impl ServerConfig {
    pub fn round_trip_ttl(&self) -> chrono::Duration {
        // Validation bounds the value; the clamp keeps an unvalidated one from panicking.
        chrono::Duration::seconds(self.round_trip_ttl_secs.min(i64::MAX as u64 / 1000) as i64)
    }

    pub fn max_retry_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.max_retry_after_secs)
    }

    pub fn header_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn body_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.body_read_timeout_secs)
    }

    pub fn ws_init_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ws_init_timeout_secs)
    }

    pub fn shutdown_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_timeout_secs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub id: String,
    /// GraphQL queries over this tenant's data only.
    #[serde(default)]
    pub api_token: Secret,
    #[serde(default)]
    pub systems: BTreeMap<String, SystemConfig>,
}

impl TenantConfig {
    pub fn system(&self, name: &str) -> Option<&SystemConfig> {
        self.systems.get(name)
    }
}

/// One connected system, as one tenant reaches it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    pub base_url: String,
    /// The HMAC-SHA256 key of this system's webhooks for this tenant.
    #[serde(default)]
    pub webhook_secret: Secret,
    /// Sent with every outbound request (e.g. `Authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// The system's quota: every request this process makes to it stays within it.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

/// `rate_limit = { requests_per_second = 10, burst = 20, max_in_flight = 4 }` (CONTRACT §3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub requests_per_second: f64,
    /// Requests that may start at once after a quiet spell; 1 when absent.
    #[serde(default = "one")]
    pub burst: u32,
    /// Requests open at the same time; unbounded when absent.
    #[serde(default)]
    pub max_in_flight: Option<u32>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityConfig {
    /// The canonical entity type.
    pub name: String,
    /// Canonical fields that identify a record across systems (linking, round-trip creates).
    #[serde(default)]
    pub match_keys: Vec<String>,
    #[serde(default)]
    pub on_delete: OnDelete,
    #[serde(default)]
    pub conflict: ConflictPolicy,
    /// Canonical field -> the system whose value wins (with `conflict = "owner"`).
    #[serde(default)]
    pub owners: BTreeMap<String, String>,
    pub systems: BTreeMap<String, EntitySystemConfig>,
}

impl EntityConfig {
    pub fn system(&self, name: &str) -> Option<&EntitySystemConfig> {
        self.systems.get(name)
    }
}

/// What a deleted record does to its linked records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Delete the linked records too.
    Propagate,
    /// Forget the link; the other records stay.
    #[default]
    Unlink,
}

/// Which value wins when both sides changed a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// The change observed last wins.
    #[default]
    LastObserved,
    /// The field's owner system wins (see [`EntityConfig::owners`]).
    Owner,
    /// Nobody yet: the field is held in both systems, each keeping its value, until a person
    /// resolves the conflict (`resolveConflict`); the entity's other fields keep syncing.
    Review,
}

impl ConflictPolicy {
    /// The policy's name, as configured and recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictPolicy::LastObserved => "last_observed",
            ConflictPolicy::Owner => "owner",
            ConflictPolicy::Review => "review",
        }
    }
}

/// How one system stores an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySystemConfig {
    pub collection: String,
    /// Canonical field -> where this system keeps it.
    pub fields: BTreeMap<String, FieldPath>,
    /// Canonical fields that must have a value before a record is created in this system.
    #[serde(default)]
    pub required: Vec<String>,
}

impl Config {
    /// Reads the file, applies the process environment's overrides, and validates.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // vars() would panic on a variable that is not UTF-8; none of ours can be one.
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Config::from_toml_str(&text, vars)
    }

    /// Parses `text`, applies the overrides found in `env` and validates.
    pub fn from_toml_str(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut tree: toml::Table = text.parse().map_err(|e| load::syntax_error(text, &e))?;
        let mut problems = env::apply_overrides(&mut tree, env);
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        schema::check_keys(&tree, &mut problems);
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        files::read_secrets(&mut tree, &mut problems);
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        let config = load::typed(tree).map_err(ConfigError::Invalid)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks everything the types cannot; every problem found is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = validate::problems(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    pub fn tenant(&self, id: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.id == id)
    }

    pub fn entity(&self, name: &str) -> Option<&EntityConfig> {
        self.entities.iter().find(|e| e.name == name)
    }

    /// The entity a system's collection holds (validation makes it unique).
    pub fn entity_for(&self, system: &str, collection: &str) -> Option<&EntityConfig> {
        self.entities
            .iter()
            .find(|e| e.system(system).is_some_and(|s| s.collection == collection))
    }
}

#[cfg(test)]
mod tests;
