//! The operations page's per-minute samples (`ops_samples`): operational state, not derived
//! from the log and never rebuilt. A sample is upserted into its tenant's minute keeping the
//! deepest queue seen, the largest running totals as the minute's last and the smallest as its
//! first, so several processes sampling the same database agree whatever order their samples
//! land in.

use super::{Db, Inner};
use crate::StoreError;
use crate::types::OpsSample;

type SampleRow = (String, i64, i64, i64, i64, i64, i64, i64, i64, i64);

fn sample(row: SampleRow) -> OpsSample {
    let (tenant, minute, depth_max, depth_last, intake, ok, failed, intake0, ok0, failed0) = row;
    OpsSample {
        tenant,
        minute,
        depth_max,
        depth_last,
        intake_total: intake,
        writes_ok_total: ok,
        writes_failed_total: failed,
        intake_first: intake0,
        writes_ok_first: ok0,
        writes_failed_first: failed0,
    }
}

/// The columns, in [`SampleRow`] order.
macro_rules! columns {
    () => {
        "tenant, minute, depth_max, depth_last, intake_total, writes_ok_total, writes_failed_total, \
         intake_first, writes_ok_first, writes_failed_first"
    };
}

/// `column = the larger (`">"`) or the smaller (`"<"`) of the stored and the new value`,
/// portable to both backends.
macro_rules! keep {
    ($column:literal, $cmp:literal) => {
        concat!(
            $column,
            " = CASE WHEN excluded.",
            $column,
            " ",
            $cmp,
            " ops_samples.",
            $column,
            " THEN excluded.",
            $column,
            " ELSE ops_samples.",
            $column,
            " END"
        )
    };
}

const UPSERT: &str = concat!(
    "INSERT INTO ops_samples (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ",
    "ON CONFLICT (tenant, minute) DO UPDATE SET ",
    keep!("depth_max", ">"),
    ", depth_last = excluded.depth_last, ",
    keep!("intake_total", ">"),
    ", ",
    keep!("writes_ok_total", ">"),
    ", ",
    keep!("writes_failed_total", ">"),
    ", ",
    keep!("intake_first", "<"),
    ", ",
    keep!("writes_ok_first", "<"),
    ", ",
    keep!("writes_failed_first", "<")
);
const BEFORE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM ops_samples WHERE tenant = $1 AND minute < $2 ",
    "ORDER BY minute DESC LIMIT 1"
);
const FROM: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM ops_samples WHERE tenant = $1 AND minute >= $2 ORDER BY minute"
);

impl Inner {
    pub(crate) async fn record_ops_sample(&self, s: &OpsSample) -> Result<(), StoreError> {
        sqlx::query::<Db>(UPSERT)
            .bind(&s.tenant)
            .bind(s.minute)
            .bind(s.depth_max)
            .bind(s.depth_last)
            .bind(s.intake_total)
            .bind(s.writes_ok_total)
            .bind(s.writes_failed_total)
            .bind(s.intake_first)
            .bind(s.writes_ok_first)
            .bind(s.writes_failed_first)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// `tenant`'s samples from minute `from` on, with the last sample before it (if any) first,
    /// so the first minute's own figures can be told from the running totals.
    pub(crate) async fn ops_samples(
        &self,
        tenant: &str,
        from: i64,
    ) -> Result<Vec<OpsSample>, StoreError> {
        let before: Option<SampleRow> = sqlx::query_as(BEFORE)
            .bind(tenant)
            .bind(from)
            .fetch_optional(&self.read)
            .await?;
        let rows: Vec<SampleRow> = sqlx::query_as(FROM)
            .bind(tenant)
            .bind(from)
            .fetch_all(&self.read)
            .await?;
        Ok(before.into_iter().chain(rows).map(sample).collect())
    }

    /// Deletes every tenant's samples of minutes before `before`; how many there were.
    pub(crate) async fn prune_ops_samples(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query::<Db>("DELETE FROM ops_samples WHERE minute < $1")
            .bind(before)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }
}
