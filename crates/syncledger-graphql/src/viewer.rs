//! `viewer`: who the token belongs to and the shape of what it may see, so a client (the audit
//! console) can offer the right tenants, systems and controls without a second source of truth.
//!
//! It names tenants, systems, entity types and match keys, never a token, a secret or a URL: a
//! tenant's token learns only its own tenant's names, as everywhere else in the API.

use async_graphql::SimpleObject;
use syncledger_core::config::Config;

use crate::auth::Caller;

/// The caller of the request and what it may see.
#[derive(SimpleObject)]
pub struct Viewer {
    /// Whether the caller is the admin (every tenant, and mutations).
    pub admin: bool,
    /// The tenants the caller sees, each with its connected systems.
    pub tenants: Vec<TenantInfo>,
    /// The entity types synced, with the fields that identify a record across systems.
    pub entity_types: Vec<EntityTypeInfo>,
}

/// A tenant and the systems it connects.
#[derive(SimpleObject)]
pub struct TenantInfo {
    pub id: String,
    pub systems: Vec<String>,
}

/// One canonical entity type.
#[derive(SimpleObject)]
pub struct EntityTypeInfo {
    pub name: String,
    /// The canonical fields `findEntities` searches (e.g. `email`).
    pub match_keys: Vec<String>,
    pub systems: Vec<String>,
}

impl Viewer {
    pub fn of(caller: &Caller, config: &Config) -> Viewer {
        Viewer {
            admin: *caller == Caller::Admin,
            tenants: config
                .tenants
                .iter()
                .filter(|t| caller.sees(&t.id))
                .map(|t| TenantInfo {
                    id: t.id.clone(),
                    systems: t.systems.keys().cloned().collect(),
                })
                .collect(),
            entity_types: config
                .entities
                .iter()
                .map(|e| EntityTypeInfo {
                    name: e.name.clone(),
                    match_keys: e.match_keys.clone(),
                    systems: e.systems.keys().cloned().collect(),
                })
                .collect(),
        }
    }
}
