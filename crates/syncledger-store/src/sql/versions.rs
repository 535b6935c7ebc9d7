//! Projection versions ([`Projection::version`]): when a build changes the form of a
//! projection's rows (keeps fewer of them, keys them otherwise), the rows an earlier build wrote
//! must not stay behind. The store records, per projection, the version its rows are in
//! (`store_settings`, `projection_version/{name}`; absent: 1, rows from before versions were
//! recorded). [`Inner::settle_versions`] runs in every migration, in its transaction and under
//! the log-order lock: a projection whose rows are in another version is emptied and its
//! checkpoint set back to 0 (the migration then rebuilds an inline one; a catch-up one folds the
//! log again), and its version is recorded. Like the digest form (`digests`), it is the same
//! path a rebuild takes, so the rows that result are the handler's fold of the log.
//!
//! [`Projection::version`]: syncledger_core::projection::Projection::version

use sqlx::AssertSqlSafe;

use super::{Conn, Inner};
use crate::StoreError;

/// The `store_settings` entry of a projection's version: this prefix and its name.
const SETTING: &str = "projection_version/";

impl Inner {
    /// Empties each projection whose rows another version wrote and sets its checkpoint back to
    /// 0; records the version of each whose version changed.
    pub(crate) async fn settle_versions(&self, tx: &mut Conn) -> Result<(), StoreError> {
        for projection in self.shared.registry.all() {
            let name = projection.name();
            let setting = format!("{SETTING}{name}");
            let stored: Option<String> =
                sqlx::query_scalar("SELECT value FROM store_settings WHERE name = $1")
                    .bind(&setting)
                    .fetch_optional(&mut *tx)
                    .await?;
            let stored = stored.and_then(|v| v.parse::<u32>().ok()).unwrap_or(1);
            let wanted = projection.version();
            if stored == wanted {
                continue;
            }
            let emptied = sqlx::query(AssertSqlSafe(format!("DELETE FROM {name}")))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE projection_checkpoints SET position = 0 WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO store_settings (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(&setting)
            .bind(wanted.to_string())
            .execute(&mut *tx)
            .await?;
            if emptied > 0 {
                tracing::info!(
                    projection = name,
                    from = stored,
                    to = wanted,
                    rows = emptied,
                    "projection rows change form; the projection is folded again"
                );
            }
        }
        Ok(())
    }
}
