//! `syncledger erase --entity ID --reason TEXT` (CONTRACT §8): the erasure of `eraseEntity`
//! from the command line, its receipt printed (docs/privacy.md).

use syncledger_store::{Store, StoreError};
use uuid::Uuid;

/// Longest reason kept (as `eraseEntity`).
const MAX_REASON_CHARS: usize = 500;

pub async fn run(store: &Store, entity: Uuid, reason: &str, json: bool) -> anyhow::Result<()> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        anyhow::bail!("--reason: 1 to {MAX_REASON_CHARS} characters");
    }
    // Who asked: the account running the command (a person at a terminal), never a secret.
    let by = match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_string(),
    };
    let receipt = match store.erase_entity(entity, reason, &by).await {
        Err(StoreError::NotFound) => anyhow::bail!("no entity {entity}"),
        Err(StoreError::InvalidInput(why)) => anyhow::bail!("{why}"),
        other => other?,
    };
    if json {
        let doc = serde_json::json!({
            "entityId": receipt.entity_id, "erasedAt": receipt.erased_at,
            "reason": receipt.reason, "verified": receipt.verified, "residue": receipt.residue,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("entity     {}", receipt.entity_id);
        println!(
            "erased at  {}",
            receipt.erased_at.format("%Y-%m-%d %H:%M:%S%.3f UTC")
        );
        println!("reason     {}", receipt.reason);
        println!("verified   {}", if receipt.verified { "yes" } else { "no" });
        let residue = match receipt.residue.is_empty() {
            true => "none".to_string(),
            false => receipt.residue.join(", "),
        };
        println!("residue    {residue}");
    }
    if !receipt.verified {
        anyhow::bail!(
            "values of the entity remain in: {}",
            receipt.residue.join(", ")
        );
    }
    Ok(())
}
