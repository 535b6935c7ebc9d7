//! The contract's example configuration (CONTRACT §3): tenant `acme` keeps its `customer`
//! records in step between a CRM (`contacts`, ids `c-N`) and an ERP (`customers`), matched on
//! email, the ERP requiring an email before a create.
//!
//! Tests differ only in tokens, URLs, secrets and a few extra keys, so those are fields and the
//! rest is written once here.

use syncledger_core::config::Config;

/// The example, with what a test may change. `ExampleConfig::default()` is a valid
/// configuration whose systems are never called.
#[derive(Debug, Clone)]
pub struct ExampleConfig {
    pub admin_token: String,
    /// Tenant `acme`'s read token.
    pub api_token: String,
    pub crm_url: String,
    pub erp_url: String,
    pub crm_secret: String,
    pub erp_secret: String,
    /// More `[server]` keys, a `key = value` a line (`database_url`, `listen`, `workers`, ...),
    /// written before `admin_token`.
    pub server: String,
    /// More keys of the CRM system of `acme` (`headers = { ... }`).
    pub crm: String,
    /// More keys of the `customer` entity (`on_delete`, `conflict`).
    pub entity: String,
    /// Whether the ERP requires an email before a create (`required = ["email"]`).
    pub erp_requires_email: bool,
    /// TOML after the whole example: another `[[tenants]]`, say.
    pub more: String,
}

impl Default for ExampleConfig {
    fn default() -> Self {
        ExampleConfig {
            admin_token: "test-admin-secret".into(),
            api_token: "acme-read-token-1".into(),
            crm_url: "http://127.0.0.1:9001".into(),
            erp_url: "http://127.0.0.1:9002".into(),
            crm_secret: "crm-webhook-secret-01".into(),
            erp_secret: "erp-webhook-secret-01".into(),
            server: String::new(),
            crm: String::new(),
            entity: String::new(),
            erp_requires_email: true,
            more: String::new(),
        }
    }
}

impl ExampleConfig {
    /// The configuration file's text.
    pub fn toml(&self) -> String {
        let ExampleConfig {
            admin_token,
            api_token,
            crm_url,
            erp_url,
            crm_secret,
            erp_secret,
            server,
            crm,
            entity,
            erp_requires_email,
            more,
        } = self;
        let required = if *erp_requires_email {
            "required = [\"email\"]\n"
        } else {
            ""
        };
        format!(
            r#"[server]
{server}
admin_token = "{admin_token}"

[[tenants]]
id = "acme"
api_token = "{api_token}"
[tenants.systems.crm]
base_url = "{crm_url}"
webhook_secret = "{crm_secret}"
{crm}
[tenants.systems.erp]
base_url = "{erp_url}"
webhook_secret = "{erp_secret}"

[[entities]]
name = "customer"
match_keys = ["email"]
{entity}
[entities.systems.crm]
collection = "contacts"
fields = {{ name = "full_name", email = "email", phone = "phone" }}
[entities.systems.erp]
collection = "customers"
fields = {{ name = "name", email = "email_address", phone = "phones[0]" }}
{required}{more}"#
        )
    }

    /// The parsed configuration, without environment overrides.
    ///
    /// # Panics
    /// When the fields made it invalid: a test bug.
    pub fn parse(&self) -> Config {
        Config::from_toml_str(&self.toml(), std::iter::empty())
            .expect("the contract's example configuration is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_example_is_valid_with_one_tenant_and_one_entity() {
        let config = ExampleConfig::default().parse();
        assert_eq!(config.tenants.len(), 1);
        assert_eq!(config.entities.len(), 1);
        assert_eq!(config.entities[0].name, "customer");
    }

    #[test]
    fn the_extra_keys_land_in_their_tables() {
        let config = ExampleConfig {
            server: "workers = 3".into(),
            entity: r#"on_delete = "propagate""#.into(),
            ..ExampleConfig::default()
        }
        .parse();
        assert_eq!(config.server.workers, 3);
        assert_eq!(
            config.entities[0].on_delete,
            syncledger_core::config::OnDelete::Propagate
        );
    }
}
