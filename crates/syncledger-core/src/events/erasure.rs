//! A person's erasure (GDPR Art. 17): the entity's data keys were destroyed, so every value its
//! history held now opens as erased. The event carries no value of its own (docs/privacy.md).

use serde::{Deserialize, Serialize};

/// The entity's data keys were destroyed and its value-bearing projection rows deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityErased {
    /// Why, as the person who asked gave it (never a value of the entity).
    pub reason: String,
    /// Who asked (the token's owner, never the token).
    pub by: String,
}
