//! Who is asking: the bearer token turned into a [`Caller`], and what a caller may see.
//!
//! The admin token sees every tenant and alone may run mutations; a tenant's `api_token` sees
//! that tenant only. Tokens are compared in constant time, and on their SHA-256 digests so the
//! comparison does not even reveal a token's length; every configured token is compared, so the
//! time taken does not say which one matched either. An empty configured token matches nothing
//! (an unset `api_token` must not let an empty header in).
//!
//! Visibility is decided in one place, [`Caller::sees`]: a resolver that finds data of a tenant
//! the caller may not see answers exactly as if the data did not exist.

use async_graphql::Context;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use syncledger_core::config::Config;

use crate::error::{ApiError, ApiResult};

/// The authenticated caller of one request or one WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    Admin,
    Tenant(String),
}

impl Caller {
    /// The name recorded as `by` in events a person asks for: the role, never the token.
    pub fn name(&self) -> &str {
        match self {
            Caller::Admin => "admin",
            Caller::Tenant(tenant) => tenant,
        }
    }

    pub fn sees(&self, tenant: &str) -> bool {
        match self {
            Caller::Admin => true,
            Caller::Tenant(own) => own == tenant,
        }
    }

    /// The tenant filter a listing runs with: `None` when the caller asked for a tenant it may
    /// not see (the listing is then empty, as for a tenant that does not exist).
    pub fn scope(&self, requested: Option<String>) -> Option<Option<String>> {
        match (self, requested) {
            (Caller::Admin, requested) => Some(requested),
            (Caller::Tenant(own), None) => Some(Some(own.clone())),
            (Caller::Tenant(own), Some(t)) => (*own == t).then_some(Some(t)),
        }
    }
}

/// The configured tokens, as digests.
#[derive(Clone)]
pub struct Auth {
    admin: Option<[u8; 32]>,
    tenants: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("tenants", &self.tenants.len())
            .finish_non_exhaustive()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn configured(token: &str) -> Option<[u8; 32]> {
    (!token.is_empty()).then(|| digest(token))
}

impl Auth {
    pub fn from_config(config: &Config) -> Self {
        Auth {
            admin: configured(config.server.admin_token.expose()),
            tenants: config
                .tenants
                .iter()
                .filter_map(|t| Some((t.id.clone(), configured(t.api_token.expose())?)))
                .collect(),
        }
    }

    /// The caller a token belongs to, if any.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        if token.is_empty() {
            return None;
        }
        let presented = digest(token);
        let mut found = None;
        if let Some(admin) = &self.admin
            && bool::from(admin.ct_eq(&presented))
        {
            found = Some(Caller::Admin);
        }
        for (tenant, expected) in &self.tenants {
            if bool::from(expected.ct_eq(&presented)) && found.is_none() {
                found = Some(Caller::Tenant(tenant.clone()));
            }
        }
        found
    }

    /// The caller of an `Authorization: Bearer <token>` header value.
    pub fn from_bearer(&self, header: Option<&str>) -> Option<Caller> {
        let value = header?.trim();
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.authenticate(token.trim())
    }
}

/// The caller of the request being resolved: absent means unauthenticated.
pub fn caller<'a>(ctx: &Context<'a>) -> ApiResult<&'a Caller> {
    ctx.data_opt::<Caller>().ok_or(ApiError::Unauthenticated)
}

/// The caller, who must hold the admin token.
pub fn admin<'a>(ctx: &Context<'a>) -> ApiResult<&'a Caller> {
    match caller(ctx)? {
        admin @ Caller::Admin => Ok(admin),
        Caller::Tenant(_) => Err(ApiError::Forbidden),
    }
}

/// The token of a `connection_init` payload: `{"Authorization": "Bearer t"}`,
/// `{"headers": {"Authorization": ...}}` or `{"token": "t"}`.
pub(crate) fn payload_caller(auth: &Auth, payload: &Value) -> Option<Caller> {
    let header = |v: &Value| {
        v.get("Authorization")
            .or_else(|| v.get("authorization"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let Some(value) = header(payload).or_else(|| payload.get("headers").and_then(header)) {
        return auth.from_bearer(Some(&value));
    }
    let token = payload
        .get("token")
        .or_else(|| payload.get("authToken"))
        .and_then(Value::as_str)?;
    auth.authenticate(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syncledger_core::config::{Secret, TenantConfig};

    fn auth() -> Auth {
        let mut config = Config {
            server: Default::default(),
            tenants: vec![],
            entities: vec![],
            retention: None,
        };
        config.server.admin_token = Secret::new("root-token");
        for (id, token) in [("acme", "acme-token"), ("globex", "")] {
            config.tenants.push(TenantConfig {
                id: id.into(),
                api_token: Secret::new(token),
                systems: Default::default(),
            });
        }
        Auth::from_config(&config)
    }

    #[test]
    fn tokens_map_to_their_callers() {
        let auth = auth();
        assert_eq!(
            auth.from_bearer(Some("Bearer root-token")),
            Some(Caller::Admin)
        );
        assert_eq!(
            auth.from_bearer(Some("bearer acme-token")),
            Some(Caller::Tenant("acme".into()))
        );
        assert_eq!(auth.from_bearer(Some("Bearer acme-token2")), None);
        assert_eq!(auth.from_bearer(Some("Basic acme-token")), None);
        assert_eq!(auth.from_bearer(None), None);
    }

    #[test]
    fn an_unset_tenant_token_lets_nobody_in() {
        let auth = auth();
        assert_eq!(auth.from_bearer(Some("Bearer ")), None);
        assert_eq!(auth.authenticate(""), None);
    }

    #[test]
    fn a_tenant_is_scoped_to_itself() {
        let acme = Caller::Tenant("acme".into());
        assert_eq!(acme.scope(None), Some(Some("acme".into())));
        assert_eq!(acme.scope(Some("acme".into())), Some(Some("acme".into())));
        assert_eq!(acme.scope(Some("globex".into())), None);
        assert_eq!(Caller::Admin.scope(None), Some(None));
        assert!(!acme.sees("globex") && Caller::Admin.sees("globex"));
    }
}
