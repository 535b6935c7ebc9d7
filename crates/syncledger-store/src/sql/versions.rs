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
//! Except once the log's first events are archived: the live log alone would then fold only
//! part of the history, as a plain rebuild would (and that is refused). The rows are left in
//! their earlier form, with a warning that names the command that settles them,
//! `syncledger rebuild <name> --from-archive DIR`; every rebuild records the version it wrote
//! ([`record_version`]).
//!
//! [`Projection::version`]: syncledger_core::projection::Projection::version

use sqlx::AssertSqlSafe;

use syncledger_core::projection::Projection;

use super::{Conn, Inner};
use crate::StoreError;

/// The `store_settings` entry of a projection's version: this prefix and its name.
const SETTING: &str = "projection_version/";

impl Inner {
    /// Empties each projection whose rows another version wrote and sets its checkpoint back to
    /// 0; records the version of each whose version changed.
    pub(crate) async fn settle_versions(&self, tx: &mut Conn) -> Result<(), StoreError> {
        let archived: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM archived_segments")
            .fetch_one(&mut *tx)
            .await?;
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
            if archived > 0 {
                tracing::warn!(
                    projection = name,
                    from = stored,
                    to = wanted,
                    "projection rows change form, but the log's first events are archived: the \
                     rows keep their earlier form until `syncledger rebuild {name} --from-archive \
                     DIR` folds the archive and the log again"
                );
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
            record_version(tx, projection.as_ref()).await?;
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

/// Records that `projection`'s rows are in the version this build writes: after emptying them
/// at migrate, and in every rebuild's swap (a rebuild folds the whole history into the new form).
pub(crate) async fn record_version(
    tx: &mut Conn,
    projection: &dyn Projection,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO store_settings (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(format!("{SETTING}{}", projection.name()))
    .bind(projection.version().to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
