//! Validation: every problem is found at once, each with its key path.

use super::{EXAMPLE, no_env, problems};
use crate::config::Config;

#[test]
fn a_required_field_that_is_not_mapped_is_named_with_its_path() {
    let text = EXAMPLE.replace("required = [\"email\"]", "required = [\"emial\"]");
    assert_eq!(
        problems(&text, no_env()),
        vec!["entities[customer].systems.erp.required: \"emial\" is not a mapped field"]
    );
}

#[test]
fn every_server_and_tenant_problem_is_reported_at_once() {
    let text = EXAMPLE
        .replace("127.0.0.1:8080", "localhost")
        .replace("sqlite://syncledger.db", "mysql://db")
        .replace(
            "workers = 8",
            "workers = 0\nround_trip_ttl_secs = 0\nwebhook_body_limit = 0\nlease_ttl_secs = 1",
        )
        .replace("id = \"acme\"", "id = \"Acme\"")
        .replace(
            "api_token = \"acme-read-token-0123\"",
            "api_token = \"change-me-to-a-long-secret\"",
        )
        .replace("http://127.0.0.1:9001", "ftp://crm")
        .replace(
            "webhook_secret = \"erp-webhook-secret-01\"",
            "webhook_secret = \"\"",
        )
        .replace(
            "requests_per_second = 10, burst = 20, max_in_flight = 4",
            "requests_per_second = 0, burst = 0, max_in_flight = 0",
        )
        .replace(
            "headers = { Authorization = \"Bearer abc\" }",
            "headers = { \"Bad Header\" = \"a\\nb\" }",
        );
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "server.listen: is not a socket address like \"127.0.0.1:8080\"",
            "server.database_url: must start with sqlite:, postgres:// or postgresql://",
            "server.workers: must be at least 1",
            "server.webhook_body_limit: must be at least 1 byte",
            "server.round_trip_ttl_secs: must be between 1 second and 31536000 (a year)",
            "server.lease_ttl_secs: must be between 3 and 86400 seconds",
            "tenants[Acme].id: \"Acme\": use only a-z, 0-9, _ and -",
            "tenants[Acme].api_token: same as server.admin_token; every token must differ",
            "tenants[Acme].systems.crm.base_url: is not an http:// or https:// URL",
            "tenants[Acme].systems.crm.headers: \"Bad Header\" is not a valid header name",
            "tenants[Acme].systems.crm.headers.Bad Header: the value holds a control character (a line break?)",
            "tenants[Acme].systems.erp.rate_limit.requests_per_second: must be a number above 0",
            "tenants[Acme].systems.erp.rate_limit.burst: must be at least 1",
            "tenants[Acme].systems.erp.rate_limit.max_in_flight: must be at least 1 (leave it out for no cap)",
            "tenants[Acme].systems.erp.webhook_secret: must be set",
        ]
    );
}

#[test]
fn duplicate_tenants_and_tenants_without_systems_are_reported() {
    let extra = "\n[[tenants]]\nid = \"acme\"\napi_token = \"other-long-enough-token\"\n\n[[tenants]]\nid = \"globex\"\napi_token = \"other-long-enough-token\"\n";
    let text = EXAMPLE.replace("\n[[entities]]", &format!("{extra}\n[[entities]]"));
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "tenants[acme].id: another tenant has the same id",
            "tenants[acme].systems: a tenant needs at least one system",
            "tenants[globex].api_token: same as tenants[acme].api_token; every token must differ",
            "tenants[globex].systems: a tenant needs at least one system",
        ]
    );
}

#[test]
fn every_entity_problem_is_reported_at_once() {
    let text = EXAMPLE
        .replace(
            "match_keys = [\"email\"]",
            "match_keys = [\"email\", \"name\", \"email\", \"vat\"]",
        )
        .replace(
            "conflict = \"last_observed\"",
            "conflict = \"owner\"\nowners = { phone = \"xrm\", fax = \"crm\" }",
        )
        .replace(
            "name = \"full_name\"",
            "name = \"contact\", id = \"id\", mail = \"contact.email\"",
        )
        .replace("collection = \"customers\"", "collection = \"cust omers\"");
    let second = "\n[[entities]]\nname = \"customer\"\n[entities.systems.crm]\ncollection = \"contacts\"\nfields = {}\n\
                  [entities.systems.pos]\ncollection = \"buyers\"\nfields = { name = \"name\" }\n";
    let text = format!("{text}{second}");
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "entities[customer].systems.crm.fields.id: `id` is the record's identity, assigned by the system; \
             map another key",
            "entities[customer].systems.crm.fields.name: \"contact\" overlaps fields.mail (\"contact.email\"): \
             writing one would change the other",
            "entities[customer].systems.erp.collection: must be a non-empty name without spaces",
            "entities[customer].match_keys: \"email\" is listed twice",
            "entities[customer].match_keys: \"vat\" is not a mapped field of system \"crm\"",
            "entities[customer].match_keys: \"vat\" is not a mapped field of system \"erp\"",
            "entities[customer].owners.fax: \"fax\" is not a mapped field",
            "entities[customer].owners.fax: \"crm\" does not map \"fax\"",
            "entities[customer].owners.phone: \"xrm\" is not a system of this entity (crm, erp)",
            "entities[customer].name: another entity has the same name",
            "entities[customer].systems.crm.collection: \"contacts\" already holds entity \"customer\" in system \"crm\"",
            "entities[customer].systems.crm.fields: maps no fields",
            "entities[customer].systems.pos: no tenant has a system \"pos\"",
        ]
    );
}

#[test]
fn an_entity_needs_two_systems_and_the_owner_policy_needs_owners() {
    // The example up to its erp mapping: the entity is left with the crm system only.
    let crm_only = &EXAMPLE[..EXAMPLE.find("[entities.systems.erp]").unwrap()];
    let text = crm_only.replace("conflict = \"last_observed\"", "conflict = \"owner\"");
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "entities[customer].systems: an entity syncs between at least two systems, found 1",
            "entities[customer].conflict: \"owner\" needs owners = { field = \"system\", ... } on the entity",
        ]
    );
    let text = EXAMPLE.replace(
        "conflict = \"last_observed\"",
        "owners = { phone = \"crm\" }",
    );
    assert_eq!(
        problems(&text, no_env()),
        vec!["entities[customer].owners: owners only apply with conflict = \"owner\""]
    );
}

#[test]
fn the_error_lists_every_problem_on_its_own_line() {
    let text = EXAMPLE
        .replace("workers = 8", "workers = 0")
        .replace("required = [\"email\"]", "required = [\"x\"]");
    let error = Config::from_toml_str(&text, no_env())
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "invalid configuration:\n  - server.workers: must be at least 1\n  - \
         entities[customer].systems.erp.required: \"x\" is not a mapped field"
    );
}

#[test]
fn the_servers_connection_bounds_have_defaults_overrides_and_ranges() {
    let config = Config::from_toml_str(EXAMPLE, no_env()).unwrap();
    let server = &config.server;
    assert_eq!(
        (
            server.max_connections,
            server.header_read_timeout_secs,
            server.body_read_timeout_secs,
            server.ws_init_timeout_secs,
            server.shutdown_timeout_secs
        ),
        (512, 10, 30, 10, 30)
    );
    let vars = super::env(&[
        ("SYNCLEDGER_SERVER__MAX_CONNECTIONS", "64"),
        ("SYNCLEDGER_SERVER__SHUTDOWN_TIMEOUT_SECS", "2"),
    ]);
    let config = Config::from_toml_str(EXAMPLE, vars).unwrap();
    assert_eq!(config.server.max_connections, 64);
    assert_eq!(config.server.shutdown_timeout().as_secs(), 2);
    let text = EXAMPLE.replace(
        "workers = 8",
        "max_connections = 0\nheader_read_timeout_secs = 0\nbody_read_timeout_secs = 3601\n\
         ws_init_timeout_secs = 0\nshutdown_timeout_secs = 0",
    );
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "server.max_connections: must be between 1 and 1000000",
            "server.header_read_timeout_secs: must be between 1 and 3600 seconds",
            "server.body_read_timeout_secs: must be between 1 and 3600 seconds",
            "server.ws_init_timeout_secs: must be between 1 and 3600 seconds",
            "server.shutdown_timeout_secs: must be between 1 and 3600 seconds",
        ]
    );
}

#[test]
fn retention_loads_with_its_defaults_and_from_the_environment() {
    let text = format!(
        "{EXAMPLE}\n[retention]\narchive_after_days = 90\narchive_dir = \"/var/lib/syncledger/archive\"\n"
    );
    let config = Config::from_toml_str(&text, no_env()).unwrap();
    let retention = config.retention.unwrap();
    assert_eq!(retention.archive_after_days, Some(90));
    assert_eq!(retention.archive_dir, "/var/lib/syncledger/archive");
    assert_eq!(retention.interval_secs, 3600);
    assert!(retention.enabled);
    assert_eq!(
        Config::from_toml_str(EXAMPLE, no_env()).unwrap().retention,
        None
    );

    let vars = super::env(&[
        ("SYNCLEDGER_RETENTION__ARCHIVE_AFTER_DAYS", "30"),
        ("SYNCLEDGER_RETENTION__INTERVAL_SECS", "600"),
    ]);
    let retention = Config::from_toml_str(&text, vars)
        .unwrap()
        .retention
        .unwrap();
    assert_eq!(
        (retention.archive_after_days, retention.interval_secs),
        (Some(30), 600)
    );
}

#[test]
fn every_retention_problem_is_reported_at_once() {
    let text = format!(
        "{EXAMPLE}\n[retention]\narchive_dir = \"archive\"\ninterval_secs = 0\npartition_width = 8\n"
    );
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "retention.archive_after_days: must be set: events recorded more than this many days \
             before a run are archived (or set retention.enabled = false)",
            "retention.archive_dir: must be an absolute path (serve may be started from any \
             directory)",
            "retention.partition_width: must be between 16 and 1099511627776 (2^40)",
            "retention.interval_secs: must be between 1 and 604800 (a week)",
        ]
    );
    let text = format!("{EXAMPLE}\n[retention]\narchive_after_days = 100000\n");
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "retention.archive_after_days: must be at most 36500 (days, not hours or seconds)",
            "retention.archive_dir: must be set: the directory archive segments are written to",
        ]
    );
    // Types and unknown keys are named with their path, as everywhere else.
    let text = format!("{EXAMPLE}\n[retention]\narchive_after_days = -1\n");
    let found = problems(&text, no_env());
    assert!(
        found[0].starts_with("retention.archive_after_days"),
        "{found:?}"
    );
    let text = format!("{EXAMPLE}\n[retention]\narchive_dri = \"/a\"\n");
    let found = problems(&text, no_env());
    assert!(
        found[0].starts_with("retention.archive_dri: unknown key"),
        "{found:?}"
    );
    // Paused, it needs nothing else.
    let text = format!("{EXAMPLE}\n[retention]\nenabled = false\n");
    assert!(Config::from_toml_str(&text, no_env()).is_ok());
}
