use super::*;

/// The contract's example (§3), verbatim apart from the owners comment.
pub(crate) const EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:8080"
database_url = "sqlite://syncledger.db"   # or postgres://user@host/db
workers = 8                               # concurrent sync jobs in this process
admin_token = "change-me"                 # GraphQL mutations and all tenants' data

[[tenants]]
id = "acme"
api_token = "acme-read-token"             # GraphQL queries, this tenant's data only
[tenants.systems.crm]
base_url = "http://127.0.0.1:9001"
webhook_secret = "crm-secret"
headers = { Authorization = "Bearer abc" }
[tenants.systems.erp]
base_url = "http://127.0.0.1:9002"
webhook_secret = "erp-secret"

[[entities]]
name = "customer"                 # the canonical entity type
match_keys = ["email"]            # links existing records and recognises round-trip creates
on_delete = "propagate"           # or "unlink" (default)
conflict = "last_observed"        # or "owner" with per-field owners below
[entities.systems.crm]
collection = "contacts"
fields = { name = "full_name", email = "email", phone = "phone" }   # canonical = system path
[entities.systems.erp]
collection = "customers"
fields = { name = "name", email = "email_address", phone = "phones[0]" }
required = ["email"]              # not created in erp until the canonical email is present
# owners = { phone = "crm" }      # with conflict = "owner"
"#;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The problems of an invalid configuration, as their `path: message` lines.
fn problems(text: &str, vars: Vec<(String, String)>) -> Vec<String> {
    match Config::from_toml_str(text, vars) {
        Err(ConfigError::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

#[test]
fn the_contracts_example_loads_with_its_values_and_defaults() {
    let config = Config::from_toml_str(EXAMPLE, no_env()).unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8080");
    assert_eq!(config.server.workers, 8);
    assert_eq!(config.server.admin_token.expose(), "change-me");
    assert_eq!(config.server.log_format, LogFormat::Human);
    assert_eq!(config.server.webhook_body_limit, 1024 * 1024);
    assert_eq!(
        config.server.round_trip_ttl(),
        chrono::Duration::seconds(600)
    );
    let acme = config.tenant("acme").unwrap();
    assert_eq!(acme.api_token.expose(), "acme-read-token");
    let crm = acme.system("crm").unwrap();
    assert_eq!(crm.headers["Authorization"].expose(), "Bearer abc");
    assert!(config.tenant("other").is_none());
    let customer = config.entity_for("erp", "customers").unwrap();
    assert_eq!(customer.name, "customer");
    assert_eq!(
        (customer.on_delete, customer.conflict),
        (OnDelete::Propagate, ConflictPolicy::LastObserved)
    );
    let erp = customer.system("erp").unwrap();
    assert_eq!(erp.fields["phone"].as_str(), "phones[0]");
    assert_eq!(erp.required, vec!["email".to_string()]);
    assert!(config.entity_for("erp", "contacts").is_none());
    assert!(config.entity_for("crm", "contacts").is_some());
}

#[test]
fn a_minimal_file_gets_every_default() {
    let text = r#"
        server.admin_token = "x"
        [[tenants]]
        id = "acme"
        api_token = "t"
        systems.crm = { base_url = "http://crm", webhook_secret = "s" }
        systems.erp = { base_url = "https://erp", webhook_secret = "s" }
        [[entities]]
        name = "customer"
        systems.crm = { collection = "contacts", fields = { email = "email" } }
        systems.erp = { collection = "customers", fields = { email = "mail" } }
    "#;
    let config = Config::from_toml_str(text, no_env()).unwrap();
    let server = ServerConfig {
        admin_token: Secret::new("x"),
        ..ServerConfig::default()
    };
    assert_eq!(config.server, server);
    assert_eq!(
        (
            server.listen.as_str(),
            server.database_url.as_str(),
            server.workers
        ),
        ("127.0.0.1:8080", "sqlite://syncledger.db", 8)
    );
    assert_eq!(
        (
            server.log_format,
            server.webhook_body_limit,
            server.round_trip_ttl_secs
        ),
        (LogFormat::Human, 1 << 20, 600)
    );
    let customer = &config.entities[0];
    assert_eq!(
        (customer.on_delete, customer.conflict),
        (OnDelete::Unlink, ConflictPolicy::LastObserved)
    );
    assert!(customer.match_keys.is_empty() && customer.owners.is_empty());
    assert!(customer.systems["erp"].required.is_empty());
    assert!(config.tenants[0].systems["crm"].headers.is_empty());
}

#[test]
fn secrets_never_print_nor_serialize() {
    let config = Config::from_toml_str(EXAMPLE, no_env()).unwrap();
    let debug = format!("{config:?}");
    let json = serde_json::to_string(&config).unwrap();
    for secret in [
        "change-me",
        "acme-read-token",
        "crm-secret",
        "erp-secret",
        "Bearer abc",
    ] {
        assert!(!debug.contains(secret), "{secret} in Debug");
        assert!(!json.contains(secret), "{secret} in JSON");
    }
    assert!(debug.contains("***") && json.contains("\"***\""));
    assert_eq!(Secret::new("s3cret").to_string(), "***");
}

#[test]
fn environment_variables_override_values_by_their_key_path() {
    let vars = env(&[
        (
            "SYNCLEDGER_SERVER__DATABASE_URL",
            "postgres://postgres@127.0.0.1/sync",
        ),
        ("SYNCLEDGER_SERVER__WORKERS", "16"),
        ("SYNCLEDGER_SERVER__ADMIN_TOKEN", "12345"),
        ("SYNCLEDGER_SERVER__LOG_FORMAT", "json"),
        ("SYNCLEDGER_TENANTS__ACME__API_TOKEN", "from-env"),
        (
            "SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__WEBHOOK_SECRET",
            "crm-env",
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
        "12345",
        "a token of digits stays a string"
    );
    assert_eq!(config.server.log_format, LogFormat::Json);
    let acme = config.tenant("acme").unwrap();
    assert_eq!(acme.api_token.expose(), "from-env");
    let crm = acme.system("crm").unwrap();
    assert_eq!(crm.webhook_secret.expose(), "crm-env");
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
    let text = EXAMPLE.replace("admin_token = \"change-me\"", "");
    let missing = problems(&text, no_env());
    assert_eq!(
        missing,
        vec!["server.admin_token: must be set (in the file or as SYNCLEDGER_SERVER__ADMIN_TOKEN)"]
    );
    let config =
        Config::from_toml_str(&text, env(&[("SYNCLEDGER_SERVER__ADMIN_TOKEN", "t")])).unwrap();
    assert_eq!(config.server.admin_token.expose(), "t");
}

#[test]
fn tenant_and_entity_names_match_with_dashes_as_underscores() {
    let text = EXAMPLE.replace("id = \"acme\"", "id = \"acme-eu\"");
    let vars = env(&[("SYNCLEDGER_TENANTS__ACME_EU__API_TOKEN", "eu")]);
    let config = Config::from_toml_str(&text, vars).unwrap();
    assert_eq!(config.tenant("acme-eu").unwrap().api_token.expose(), "eu");
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
             admin_token, log_format, webhook_body_limit, round_trip_ttl_secs)",
            "SYNCLEDGER_SERVER__WORKERS: expected a whole number, got \"many\"",
            "SYNCLEDGER_TENANTS__ACME__SYSTEMS__MARKETING__BASE_URL: no system \"marketing\" in the file",
            "SYNCLEDGER_TENANTS__GLOBEX__API_TOKEN: no tenant with id \"globex\"",
        ]
    );
}

#[test]
fn unknown_keys_are_all_reported_with_their_paths() {
    let text = EXAMPLE
        .replace("workers = 8", "workers = 8\nwrokers = 9")
        .replace(
            "base_url = \"http://127.0.0.1:9002\"",
            "base_url = \"http://127.0.0.1:9002\"\nbase_ur = 1",
        )
        .replace(
            "required = [\"email\"]",
            "required = [\"email\"]\nowners = { phone = \"crm\" }",
        );
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "entities[customer].systems.erp.owners: unknown key (expected one of: collection, fields, required); \
             owners belong to the entity: write `owners = {...}` under [[entities]], before its \
             [entities.systems.*] tables",
            "server.wrokers: unknown key (expected one of: listen, database_url, workers, admin_token, \
             log_format, webhook_body_limit, round_trip_ttl_secs)",
            "tenants[acme].systems.erp.base_ur: unknown key (expected one of: base_url, webhook_secret, headers)",
        ]
    );
}

#[test]
fn owners_at_the_entity_level_are_accepted_with_the_owner_policy() {
    let text = EXAMPLE.replace(
        "conflict = \"last_observed\"",
        "conflict = \"owner\"\nowners = { phone = \"crm\" }",
    );
    let config = Config::from_toml_str(&text, no_env()).unwrap();
    let customer = config.entity("customer").unwrap();
    assert_eq!(customer.conflict, ConflictPolicy::Owner);
    assert_eq!(customer.owners["phone"], "crm");
}

#[test]
fn values_of_the_wrong_type_are_all_reported_under_their_tenant_or_entity() {
    let text = EXAMPLE
        .replace("workers = 8", "workers = \"eight\"")
        .replace("on_delete = \"propagate\"", "on_delete = \"cascade\"")
        .replace("base_url = \"http://127.0.0.1:9001\"", "base_url = 9001");
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "server.workers: invalid type: string \"eight\", expected usize",
            "tenants[acme].systems.crm.base_url: invalid type: integer `9001`, expected a string",
            "entities[customer].on_delete: unknown variant `cascade`, expected `propagate` or `unlink`",
        ]
    );
    let text = EXAMPLE.replace("\"phones[0]\"", "\"phones[1]\"");
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "entities[customer].systems.erp.fields.phone: invalid field path \"phones[1]\": only the first \
             element `[0]` can be mapped, not `[1]`"
        ]
    );
}

#[test]
fn a_toml_syntax_error_shows_the_line() {
    let error = Config::from_toml_str("[server\n", no_env()).unwrap_err();
    assert!(matches!(error, ConfigError::Parse(_)), "{error:?}");
    assert!(error.to_string().contains("line 1, column 8"), "{error}");
}

#[test]
fn the_example_in_the_configuration_docs_is_valid() {
    let docs = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ));
    let start = docs.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &docs[start..start + docs[start..].find("```").unwrap()];
    let config = Config::from_toml_str(example, no_env()).unwrap();
    assert_eq!(config.entity("customer").unwrap().owners["phone"], "crm");

    // And so are the documented overrides, applied to it.
    let start = docs.find("```sh\n").unwrap() + "```sh\n".len();
    let vars: Vec<(String, String)> = docs[start..start + docs[start..].find("```").unwrap()]
        .lines()
        .map(|line| {
            let line = line.split("  #").next().unwrap().trim();
            let (name, value) = line.split_once('=').unwrap();
            (
                name.to_string(),
                value.trim_matches(|c| c == '\'' || c == '"').to_string(),
            )
        })
        .collect();
    let config = Config::from_toml_str(example, vars).unwrap();
    assert_eq!(config.server.workers, 16);
    let erp = config.tenant("acme").unwrap().system("erp").unwrap();
    assert!(erp.headers.contains_key("x-api-key"));
}

#[test]
fn load_reads_the_file_and_names_a_missing_one() {
    let path = std::env::temp_dir().join(format!("syncledger-config-{}.toml", std::process::id()));
    std::fs::write(&path, EXAMPLE).unwrap();
    let loaded = Config::load(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.unwrap().tenants[0].id, "acme");
    let missing = Config::load(&path).unwrap_err();
    assert!(
        matches!(&missing, ConfigError::Read { path: p, .. } if *p == path),
        "{missing:?}"
    );
}

#[path = "tests_validate.rs"]
mod validate;
