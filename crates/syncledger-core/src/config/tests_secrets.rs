//! Secrets in the configuration: never in an error, readable from files, strong enough; and the
//! server keys that bound what connected systems may send.

use super::{EXAMPLE, env, no_env, problems};
use crate::config::{Config, ConfigError};

const SECRET: &str = "s3cr3t-0123456789-do-not-print";

fn example_with(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "{from}");
    EXAMPLE.replace(from, to)
}

#[test]
fn a_syntax_error_on_a_secret_line_gives_the_position_not_the_line() {
    let text = example_with(
        "admin_token = \"change-me-to-a-long-secret\"",
        &format!("admin_token = \"{SECRET}\" garbage"),
    );
    let error = Config::from_toml_str(&text, no_env()).unwrap_err();
    let shown = error.to_string();
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("garbage"), "{shown}");
    match error {
        ConfigError::Parse { line, column, .. } => assert_eq!((line, column), (6, 48)),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn a_secret_of_the_wrong_type_is_not_quoted() {
    let text = example_with(
        "admin_token = \"change-me-to-a-long-secret\"",
        "admin_token = 98765432109876543",
    );
    let shown = problems(&text, no_env()).join("\n");
    assert!(!shown.contains("98765432109876543"), "{shown}");
    assert!(shown.contains("server.admin_token"), "{shown}");
}

#[test]
fn values_from_the_environment_are_not_quoted() {
    let vars = env(&[
        ("SYNCLEDGER_SERVER__WORKERS", SECRET),
        ("SYNCLEDGER_SERVER__LOG_FORMAT", SECRET),
        ("SYNCLEDGER_SERVER__LISTEN", SECRET),
        ("SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__BASE_URL", SECRET),
    ]);
    let shown = match Config::from_toml_str(EXAMPLE, vars) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("invalid values were accepted"),
    };
    assert!(!shown.contains(SECRET), "{shown}");
}

#[test]
fn short_tokens_are_refused_with_their_keys() {
    let text = example_with(
        "admin_token = \"change-me-to-a-long-secret\"",
        "admin_token = \"a\"",
    )
    .replace("acme-read-token-0123", "acme-0123456789");
    let found = problems(&text, no_env());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("server.admin_token: is too short (1 characters)"));
    assert!(found[1].starts_with("tenants[acme].api_token: is too short (15 characters)"));
    assert!(!found.join("\n").contains("acme-0123456789"));
}

/// A folder of secret files, removed when dropped.
struct Dir(std::path::PathBuf);

fn tempdir() -> Dir {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("syncledger-secrets-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&path).unwrap();
    Dir(path)
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn secret_file(dir: &Dir, name: &str, content: &str) -> String {
    let path = dir.0.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

#[test]
fn secrets_come_from_files_named_by_file_keys_and_env_variables() {
    let dir = tempdir();
    let admin = secret_file(&dir, "admin", "admin-from-a-file-0123\n");
    let crm = secret_file(&dir, "crm", "crm-webhook-secret-01-from-a-file\r\n");
    let auth = secret_file(&dir, "auth", "Bearer from-a-file");
    let text = example_with(
        "admin_token = \"change-me-to-a-long-secret\"",
        &format!("admin_token_file = \"{admin}\""),
    )
    .replace(
        "headers = { Authorization = \"Bearer abc\" }",
        &format!("headers_file = {{ Authorization = \"{auth}\" }}"),
    );
    let tenant = secret_file(&dir, "tenant", "acme-token-from-a-file");
    let vars = env(&[
        ("SYNCLEDGER_TENANTS__ACME__API_TOKEN_FILE", tenant.as_str()),
        (
            "SYNCLEDGER_TENANTS__ACME__SYSTEMS__CRM__WEBHOOK_SECRET_FILE",
            crm.as_str(),
        ),
    ]);
    let config = Config::from_toml_str(&text, vars).unwrap();
    assert_eq!(config.server.admin_token.expose(), "admin-from-a-file-0123");
    let acme = config.tenant("acme").unwrap();
    assert_eq!(acme.api_token.expose(), "acme-token-from-a-file");
    let crm = acme.system("crm").unwrap();
    assert_eq!(
        crm.webhook_secret.expose(),
        "crm-webhook-secret-01-from-a-file"
    );
    assert_eq!(crm.headers["Authorization"].expose(), "Bearer from-a-file");
}

#[test]
fn a_secret_file_that_cannot_be_read_names_the_key_and_the_path() {
    let text = example_with(
        "admin_token = \"change-me-to-a-long-secret\"",
        "admin_token_file = \"/nonexistent/admin-token\"",
    );
    let found = problems(&text, no_env());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "server.admin_token_file: cannot read the file /nonexistent/admin-token: "
        ),
        "{found:?}"
    );
}

#[test]
fn a_secret_given_twice_in_the_file_is_refused() {
    let dir = tempdir();
    let admin = secret_file(&dir, "admin", "admin-from-a-file-0123");
    let text = example_with(
        "admin_token = \"change-me-to-a-long-secret\"",
        &format!("admin_token = \"change-me-to-a-long-secret\"\nadmin_token_file = \"{admin}\""),
    );
    assert_eq!(
        problems(&text, no_env()),
        vec!["server.admin_token_file: set either admin_token or admin_token_file, not both"]
    );
}

const SECOND_TENANT: &str = r#"
[[tenants]]
id = "globex"
api_token = "globex-token-0123456"
[tenants.systems.crm]
base_url = "http://127.0.0.1:9001/"
webhook_secret = "g-crm-webhook-secret-01"
[tenants.systems.erp]
base_url = "http://127.0.0.1:9012"
webhook_secret = "g-erp-webhook-secret-01"
"#;

fn two_tenants() -> String {
    let at = EXAMPLE.find("[[entities]]").unwrap();
    format!("{}{SECOND_TENANT}\n{}", &EXAMPLE[..at], &EXAMPLE[at..])
}

#[test]
fn two_tenants_on_one_base_url_are_refused_naming_both() {
    assert_eq!(
        problems(&two_tenants(), no_env()),
        vec![
            "tenants[globex].systems.crm.base_url: the same as tenants[acme].systems.crm.base_url: \
             each tenant's writes would come back as the other's webhooks; give each tenant its \
             own system, or set server.allow_shared_base_url = true"
        ]
    );
}

#[test]
fn a_shared_base_url_is_accepted_when_allowed() {
    let text = two_tenants().replace("[server]\n", "[server]\nallow_shared_base_url = true\n");
    Config::from_toml_str(&text, no_env()).unwrap();
    let vars = env(&[("SYNCLEDGER_SERVER__ALLOW_SHARED_BASE_URL", "true")]);
    Config::from_toml_str(&two_tenants(), vars).unwrap();
}

#[test]
fn base_urls_compare_by_scheme_host_port_and_path() {
    use crate::config::shared_url::normalised_url as n;
    assert_eq!(n("HTTP://Crm.Example:80/api/"), n("http://crm.example/api"));
    assert_eq!(
        n("https://user:pw@crm.example"),
        n("https://crm.example:443/")
    );
    assert_ne!(n("http://crm.example"), n("https://crm.example"));
    assert_ne!(n("http://crm.example/a"), n("http://crm.example/b"));
    assert_ne!(n("http://[::1]:9001"), n("http://[::1]:9002"));
    assert_eq!(n("http://[::1]"), Some("http://[::1]:80".into()));
    assert_eq!(n("ftp://crm.example"), None);
}

#[test]
fn record_id_and_retry_after_bounds_are_checked() {
    let text = EXAMPLE.replace(
        "[server]\n",
        "[server]\nmax_record_id_bytes = 0\nmax_retry_after_secs = 0\nmax_attempts = 0\n",
    );
    assert_eq!(
        problems(&text, no_env()),
        vec![
            "server.max_record_id_bytes: must be between 1 and 65536",
            "server.max_retry_after_secs: must be at least 1 second",
            "server.max_attempts: must be between 1 and 100",
        ]
    );
    let text = EXAMPLE.replace("[server]\n", "[server]\nmax_attempts = 101\n");
    assert_eq!(
        problems(&text, no_env()),
        vec!["server.max_attempts: must be between 1 and 100"]
    );
    let text = EXAMPLE.replace("[server]\n", "[server]\nmax_record_id_bytes = 65537\n");
    assert_eq!(
        problems(&text, no_env()),
        vec!["server.max_record_id_bytes: must be between 1 and 65536"]
    );
}

#[test]
fn weak_webhook_secrets_are_refused_with_the_token_rule_and_the_hint() {
    for weak in ["a", "   ", "password", "fifteen-chars-x"] {
        let text = example_with(
            "webhook_secret = \"crm-webhook-secret-01\"",
            &format!("webhook_secret = \"{weak}\""),
        );
        let found = problems(&text, no_env());
        let length = weak.chars().count();
        assert_eq!(
            found,
            [format!(
                "tenants[acme].systems.crm.webhook_secret: is too short ({length} characters): a \
                 webhook secret needs at least 16; generate one with `openssl rand -hex 32`"
            )],
            "{weak:?}"
        );
    }
    let blanks = example_with(
        "webhook_secret = \"erp-webhook-secret-01\"",
        &format!("webhook_secret = \"{}\"", " ".repeat(20)),
    );
    assert_eq!(
        problems(&blanks, no_env()),
        [
            "tenants[acme].systems.erp.webhook_secret: is only blanks; generate one with \
          `openssl rand -hex 32`"
        ]
    );
    let sixteen = example_with(
        "webhook_secret = \"crm-webhook-secret-01\"",
        "webhook_secret = \"0123456789abcdef\"",
    );
    assert!(Config::from_toml_str(&sixteen, no_env()).is_ok());
}

#[test]
fn an_unknown_key_that_may_be_a_secret_is_masked_and_a_typo_is_shown() {
    // A secret pasted where a key goes (a line break lost between key and value, say).
    let text = example_with(
        "workers = 8",
        &format!("workers = 8\n\"{SECRET}\" = 1\nwrokers = 2"),
    );
    let found = problems(&text, no_env());
    let shown = found.join("\n");
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("server.<unknown key of 30 characters, not shown>: unknown key"),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("server.wrokers: unknown key"),
        "{found:?}"
    );
}
