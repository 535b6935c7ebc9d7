use super::*;

/// The contract's example (§3), verbatim apart from the owners comment.
pub(crate) const EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:8080"
database_url = "sqlite://syncledger.db"   # or postgres://user@host/db
workers = 8                               # concurrent sync jobs in this process
admin_token = "change-me-to-a-long-secret" # GraphQL mutations and all tenants' data

[[tenants]]
id = "acme"
api_token = "acme-read-token-0123"        # GraphQL queries, this tenant's data only
[tenants.systems.crm]
base_url = "http://127.0.0.1:9001"
webhook_secret = "crm-webhook-secret-01"
headers = { Authorization = "Bearer abc" }
[tenants.systems.erp]
base_url = "http://127.0.0.1:9002"
webhook_secret = "erp-webhook-secret-01"
rate_limit = { requests_per_second = 10, burst = 20, max_in_flight = 4 }   # optional: the system's quota

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
    assert_eq!(
        config.server.admin_token.expose(),
        "change-me-to-a-long-secret"
    );
    assert_eq!(config.server.log_format, LogFormat::Human);
    assert_eq!(config.server.webhook_body_limit, 1024 * 1024);
    assert_eq!(
        config.server.round_trip_ttl(),
        chrono::Duration::seconds(600)
    );
    let acme = config.tenant("acme").unwrap();
    assert_eq!(acme.api_token.expose(), "acme-read-token-0123");
    let crm = acme.system("crm").unwrap();
    assert_eq!(crm.headers["Authorization"].expose(), "Bearer abc");
    assert_eq!(crm.rate_limit, None);
    assert_eq!(
        acme.system("erp").unwrap().rate_limit,
        Some(RateLimitConfig {
            requests_per_second: 10.0,
            burst: 20,
            max_in_flight: Some(4)
        })
    );
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
        server.admin_token = "x-long-enough-admin"
        [[tenants]]
        id = "acme"
        api_token = "t-long-enough-tenant"
        systems.crm = { base_url = "http://crm", webhook_secret = "s-long-enough-webhook" }
        systems.erp = { base_url = "https://erp", webhook_secret = "s-long-enough-webhook" }
        [[entities]]
        name = "customer"
        systems.crm = { collection = "contacts", fields = { email = "email" } }
        systems.erp = { collection = "customers", fields = { email = "mail" } }
    "#;
    let config = Config::from_toml_str(text, no_env()).unwrap();
    let server = ServerConfig {
        admin_token: Secret::new("x-long-enough-admin"),
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
            server.round_trip_ttl_secs,
            server.lease_ttl_secs
        ),
        (LogFormat::Human, 1 << 20, 600, 30)
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
        "change-me-to-a-long-secret",
        "acme-read-token-0123",
        "crm-webhook-secret-01",
        "erp-webhook-secret-01",
        "Bearer abc",
    ] {
        assert!(!debug.contains(secret), "{secret} in Debug");
        assert!(!json.contains(secret), "{secret} in JSON");
    }
    assert!(debug.contains("***") && json.contains("\"***\""));
    assert_eq!(Secret::new("s3cret").to_string(), "***");
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
             admin_token_file, master_key, master_key_file, seal, log_format, webhook_body_limit, round_trip_ttl_secs, lease_ttl_secs, \
             max_record_id_bytes, max_retry_after_secs, max_response_bytes, max_attempts, allow_shared_base_url, \
             max_connections, header_read_timeout_secs, body_read_timeout_secs, ws_init_timeout_secs, \
             shutdown_timeout_secs)",
            "tenants[acme].systems.erp.base_ur: unknown key (expected one of: base_url, webhook_secret, \
             webhook_secret_file, headers, headers_file, rate_limit)",
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
            "server.workers: invalid type: string, expected usize",
            "tenants[acme].systems.crm.base_url: invalid type: integer, expected a string",
            "entities[customer].on_delete: unknown variant, expected `propagate` or `unlink`",
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
    assert!(matches!(error, ConfigError::Parse { .. }), "{error:?}");
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
fn the_key_layout_and_the_types_name_the_same_keys() {
    use super::schema::{self, Node};

    /// Every key the layout expects under `node` that `value` lacks.
    fn absent(value: &toml::Value, node: &Node, path: &str, out: &mut Vec<String>) {
        match (node, value) {
            (Node::Table(fields), toml::Value::Table(table)) => {
                for (key, child) in fields.iter() {
                    match table.get(*key) {
                        Some(v) => absent(v, child, &schema::join(path, key), out),
                        None => out.push(schema::join(path, key)),
                    }
                }
            }
            (Node::ById { item, .. }, toml::Value::Array(items)) => {
                items.iter().for_each(|v| absent(v, item, path, out))
            }
            (Node::Map { item, .. }, toml::Value::Table(table)) => {
                table.values().for_each(|v| absent(v, item, path, out))
            }
            _ => {}
        }
    }

    let text = EXAMPLE
        .replace(
            "conflict = \"last_observed\"",
            "conflict = \"owner\"\nowners = { phone = \"crm\" }",
        )
        .replace(
            "headers = { Authorization = \"Bearer abc\" }",
            "headers = { Authorization = \"Bearer abc\" }\n\
             rate_limit = { requests_per_second = 5, burst = 1, max_in_flight = 1 }",
        )
        + "\n[retention]\narchive_after_days = 90\narchive_dir = \"/var/lib/syncledger/archive\"\n\
           partition_width = 65536\n";
    let config = Config::from_toml_str(&text, no_env()).unwrap();
    let tree = toml::Table::try_from(&config).unwrap();
    let mut unknown = Vec::new();
    schema::check_keys(&tree, &mut unknown);
    assert_eq!(
        unknown,
        vec![],
        "keys the types write that the layout does not know"
    );
    let mut missing = Vec::new();
    absent(&toml::Value::Table(tree), &schema::ROOT, "", &mut missing);
    // `*_file` keys are read into their secrets and removed while loading (see `files`).
    missing.retain(|key| !key.ends_with("_file"));
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "keys the layout knows that the types do not write"
    );
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

#[path = "tests_env.rs"]
mod env;
#[path = "tests_fuzz.rs"]
mod fuzz;
#[path = "tests_secrets.rs"]
mod secrets;
#[path = "tests_validate.rs"]
mod validate;
