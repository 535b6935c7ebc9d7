//! Environment overrides: addressing by key path, typing of values, errors naming the variable.

use super::{EXAMPLE, env, no_env, problems};
use crate::config::{Config, LogFormat};

#[test]
fn environment_variables_override_values_by_their_key_path() {
    let vars = env(&[
        (
            "SYNCLEDGER_SERVER__DATABASE_URL",
            "postgres://postgres@127.0.0.1/sync",
        ),
        ("SYNCLEDGER_SERVER__WORKERS", "16"),
        ("SYNCLEDGER_SERVER__ADMIN_TOKEN", "1234567890123456"),
        ("SYNCLEDGER_SERVER__LOG_FORMAT", "json"),
        ("SYNCLEDGER_TENANTS__ACME__API_TOKEN", "from-env-0123456789"),
        (
            "SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__WEBHOOK_SECRET",
            "crm-env-webhook-secret",
        ),
        (
            "SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__HEADERS__AUTHORIZATION",
            "Bearer env",
        ),
        (
            "SYNCLEDGER_TENANTS__ACME__SYSTEMS__ERP__HEADERS__X_API_KEY",
            "k",
        ),
        ("SYNCLEDGER_ENTITIES__CUSTOMER__MATCH_KEYS", "email, name"),
        (
            "SYNCLEDGER_ENTITIES__CUSTOMER__SYSTEMS__ERP__REQUIRED",
            "[\"email\", \"name\"]",
        ),
        (
            "SYNCLEDGER_ENTITIES__CUSTOMER__SYSTEMS__CRM__FIELDS__PHONE",
            "contact.phones[0]",
        ),
        ("SYNCLEDGER_CONFIG", "not an override"),
        ("PATH", "/usr/bin"),
    ]);
    let config = Config::from_toml_str(EXAMPLE, vars).unwrap();
    assert_eq!(
        config.server.database_url,
        "postgres://postgres@127.0.0.1/sync"
    );
    assert_eq!(config.server.workers, 16);
    assert_eq!(
        config.server.admin_token.expose(),
        "1234567890123456",
        "a token of digits stays a string"
    );
    assert_eq!(config.server.log_format, LogFormat::Json);
    let acme = config.tenant("acme").unwrap();
    assert_eq!(acme.api_token.expose(), "from-env-0123456789");
    let crm = acme.system("crm").unwrap();
    assert_eq!(crm.webhook_secret.expose(), "crm-env-webhook-secret");
    assert_eq!(
        crm.headers.len(),
        1,
        "the existing header is matched case-insensitively"
    );
    assert_eq!(crm.headers["Authorization"].expose(), "Bearer env");
    assert_eq!(
        acme.system("erp").unwrap().headers["x-api-key"].expose(),
        "k"
    );
    let customer = config.entity("customer").unwrap();
    assert_eq!(customer.match_keys, vec!["email", "name"]);
    assert_eq!(
        customer.system("erp").unwrap().required,
        vec!["email", "name"]
    );
    assert_eq!(
        customer.system("crm").unwrap().fields["phone"].as_str(),
        "contact.phones[0]"
    );
}

#[test]
fn the_environment_can_supply_a_secret_the_file_leaves_out() {
    let text = EXAMPLE.replace("admin_token = \"change-me-to-a-long-secret\"", "");
    let missing = problems(&text, no_env());
    assert_eq!(
        missing,
        vec![
            "server.admin_token: must be set (in the file, as SYNCLEDGER_SERVER__ADMIN_TOKEN, or from a file with admin_token_file)"
        ]
    );
    let config = Config::from_toml_str(
        &text,
        env(&[("SYNCLEDGER_SERVER__ADMIN_TOKEN", "t-long-enough-admin")]),
    )
    .unwrap();
    assert_eq!(config.server.admin_token.expose(), "t-long-enough-admin");
}

#[test]
fn tenant_and_entity_names_match_with_dashes_as_underscores() {
    let text = EXAMPLE.replace("id = \"acme\"", "id = \"acme-eu\"");
    let vars = env(&[(
        "SYNCLEDGER_TENANTS__ACME_EU__API_TOKEN",
        "eu-long-enough-token",
    )]);
    let config = Config::from_toml_str(&text, vars).unwrap();
    assert_eq!(
        config.tenant("acme-eu").unwrap().api_token.expose(),
        "eu-long-enough-token"
    );
}

#[test]
fn an_override_that_names_nothing_is_an_error_naming_the_variable() {
    let vars = env(&[
        ("SYNCLEDGER_TENANTS__GLOBEX__API_TOKEN", "x"),
        (
            "SYNCLEDGER_TENANTS__ACME__SYSTEMS__MARKETING__BASE_URL",
            "http://x",
        ),
        ("SYNCLEDGER_SERVER__WORKER", "3"),
        ("SYNCLEDGER_SERVER__WORKERS", "many"),
        ("SYNCLEDGER_SERVER_LISTEN", "0.0.0.0:1"),
        ("SYNCLEDGER_ENTITIES__ORDER__NAME", "x"),
        ("SYNCLEDGER_SERVER", "x"),
    ]);
    assert_eq!(
        problems(EXAMPLE, vars),
        vec![
            "SYNCLEDGER_ENTITIES__ORDER__NAME: no entity with name \"order\"",
            "SYNCLEDGER_SERVER: separate the key path's segments with `__`, e.g. SYNCLEDGER_SERVER__WORKERS",
            "SYNCLEDGER_SERVER_LISTEN: separate the key path's segments with `__`, e.g. SYNCLEDGER_SERVER__WORKERS",
            "SYNCLEDGER_SERVER__WORKER: unknown key `worker` (expected one of: listen, database_url, workers, \
             admin_token, admin_token_file, master_key, master_key_file, seal, log_format, webhook_body_limit, round_trip_ttl_secs, \
             lease_ttl_secs, max_record_id_bytes, max_retry_after_secs, max_response_bytes, max_attempts, \
             allow_shared_base_url, max_connections, header_read_timeout_secs, body_read_timeout_secs, \
             ws_init_timeout_secs, shutdown_timeout_secs)",
            "SYNCLEDGER_SERVER__WORKERS: expected a whole number",
            "SYNCLEDGER_TENANTS__ACME__SYSTEMS__MARKETING__BASE_URL: no system \"marketing\" in the file",
            "SYNCLEDGER_TENANTS__GLOBEX__API_TOKEN: no tenant with id \"globex\"",
        ]
    );
}
