//! Projection tables: writing folded effects, and the queries the engine and the API run.
//!
//! Table names are interpolated into SQL; they are registered projection names (checked against
//! `[a-z_]+` at connect time) or those names with a fixed suffix, never caller input.

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, QueryBuilder};
use syncledger_core::projection::Row;
use uuid::Uuid;

use super::{Conn, Db, Inner, dialect, limit};
use crate::StoreError;
use crate::chunks::pow2_chunks;
use crate::coalesce::{Effect, Effects};
use crate::types::RowQuery;

const ROW_COLUMNS: &str = "key, tenant, entity_id, sort_key, doc, n";

/// Tenants read by one statement of [`Inner::rows_of_tenants`]: far below SQLite's limit on the
/// parts of a compound SELECT (500).
const TENANTS_PER_STATEMENT: usize = 64;

type RowTuple = (String, String, Option<Uuid>, String, Json<Value>, i64);

fn row_from(t: RowTuple) -> Row {
    Row {
        key: t.0,
        tenant: t.1,
        entity_id: t.2,
        sort_key: t.3,
        doc: t.4.0,
        n: t.5,
    }
}

/// Writes a batch's folded effects to `table`, grouped so each group takes few statements
/// (how few is the dialect's business: multi-row VALUES on SQLite, arrays on PostgreSQL).
pub(crate) async fn apply_effects(
    conn: &mut Conn,
    table: &str,
    effects: Effects,
) -> Result<(), sqlx::Error> {
    if effects.is_empty() {
        return Ok(());
    }
    let (mut deletes, mut puts, mut if_absent, mut counters, mut mixed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (key, effect) in effects.into_iter() {
        match effect {
            Effect::Set(None) => deletes.push(key),
            Effect::Set(Some(row)) => puts.push(row),
            Effect::Merge { row, add: 0 } => if_absent.push(row),
            // An `Add` on an unseen key: the inserted counter and the increment are the same.
            Effect::Merge { row, add } if row.n == 0 => counters.push(Row { n: add, ..row }),
            Effect::Merge { row, add } => mixed.push((row, add)),
        }
    }
    dialect::delete_rows(conn, table, &deletes).await?;
    let replace = "DO UPDATE SET tenant = excluded.tenant, entity_id = excluded.entity_id, \
                   sort_key = excluded.sort_key, doc = excluded.doc, n = excluded.n";
    dialect::insert_rows(conn, table, &puts, replace).await?;
    dialect::insert_rows(conn, table, &if_absent, "DO NOTHING").await?;
    let add = format!("DO UPDATE SET n = {table}.n + excluded.n");
    dialect::insert_rows(conn, table, &counters, &add).await?;
    for (row, add) in mixed {
        let sql = format!(
            "INSERT INTO {table} ({ROW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (key) DO UPDATE SET n = {table}.n + $7"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(&row.key)
            .bind(&row.tenant)
            .bind(row.entity_id)
            .bind(&row.sort_key)
            .bind(Json(&row.doc))
            .bind(row.n.wrapping_add(add))
            .bind(add)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Every row of a table in `(sort_key, key)` order; used by rebuild checks and tests.
pub(crate) async fn all_rows(conn: &mut Conn, table: &str) -> Result<Vec<Row>, sqlx::Error> {
    let sql = format!("SELECT {ROW_COLUMNS} FROM {table} ORDER BY sort_key, key");
    let rows: Vec<RowTuple> = sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?;
    Ok(rows.into_iter().map(row_from).collect())
}

impl Inner {
    fn table(&self, projection: &str) -> Result<&'static str, StoreError> {
        Ok(self.shared.registry.get(projection)?.name())
    }

    pub(crate) async fn row(&self, projection: &str, key: &str) -> Result<Option<Row>, StoreError> {
        let table = self.table(projection)?;
        let sql = format!("SELECT {ROW_COLUMNS} FROM {table} WHERE key = $1");
        let row: Option<RowTuple> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        Ok(self
            .opened(row.into_iter().map(row_from).collect())
            .await?
            .pop())
    }

    /// The rows of the given keys that exist, in no particular order.
    pub(crate) async fn rows_by_keys(
        &self,
        projection: &str,
        keys: &[String],
    ) -> Result<Vec<Row>, StoreError> {
        let table = self.table(projection)?;
        let mut found = Vec::with_capacity(keys.len());
        for chunk in pow2_chunks(keys) {
            let mut query =
                QueryBuilder::<Db>::new(format!("SELECT {ROW_COLUMNS} FROM {table} WHERE key IN "));
            super::push_in(&mut query, chunk.iter().map(String::as_str));
            let rows: Vec<RowTuple> = query.build_query_as().fetch_all(&self.read).await?;
            found.extend(rows.into_iter().map(row_from));
        }
        self.opened(found).await
    }

    pub(crate) async fn rows_by_entity(
        &self,
        projection: &str,
        entity_id: Uuid,
    ) -> Result<Vec<Row>, StoreError> {
        let table = self.table(projection)?;
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM {table} WHERE entity_id = $1 ORDER BY sort_key, key"
        );
        let rows: Vec<RowTuple> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(entity_id)
            .fetch_all(&self.read)
            .await?;
        self.opened(rows.into_iter().map(row_from).collect()).await
    }

    pub(crate) async fn rows(
        &self,
        projection: &str,
        q: &RowQuery,
    ) -> Result<Vec<Row>, StoreError> {
        let mut query = self.row_query(ROW_COLUMNS, projection, q)?;
        let rows: Vec<RowTuple> = query.build_query_as().fetch_all(&self.read).await?;
        self.opened(rows.into_iter().map(row_from).collect()).await
    }

    /// The first rows of each tenant of `tenants` (each with its own limit), by `(sort_key,
    /// key)` and up to `sort_key_to`, in one statement per [`TENANTS_PER_STATEMENT`] tenants:
    /// one `(tenant, sort_key, key)` index range per tenant, so a tenant with a million rows
    /// fills its own part and never another's. In tenant order, each tenant's rows in order.
    pub(crate) async fn rows_of_tenants(
        &self,
        projection: &str,
        sort_key_to: Option<&str>,
        tenants: &[(String, i64)],
    ) -> Result<Vec<Row>, StoreError> {
        let table = self.table(projection)?;
        let mut found = Vec::new();
        for chunk in tenants.chunks(TENANTS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Db>::new("");
            for (i, (tenant, rows)) in chunk.iter().enumerate() {
                if i > 0 {
                    query.push(" UNION ALL ");
                }
                query.push(format!(
                    "SELECT * FROM (SELECT {ROW_COLUMNS} FROM {table} WHERE tenant = "
                ));
                query.push_bind(tenant.clone());
                if let Some(to) = sort_key_to {
                    query.push(" AND sort_key <= ").push_bind(to.to_owned());
                }
                query
                    .push(" ORDER BY sort_key, key LIMIT ")
                    .push_bind(limit(*rows)?)
                    .push(super::LIMIT_PLUS_ZERO)
                    .push(format!(") AS part{i}"));
            }
            let rows: Vec<RowTuple> = query.build_query_as().fetch_all(&self.read).await?;
            found.extend(rows.into_iter().map(row_from));
        }
        // UNION ALL keeps no order of its own: put each tenant's rows back together, in order.
        let position = |tenant: &str| tenants.iter().position(|(t, _)| t == tenant);
        found.sort_by(|a, b| {
            (position(&a.tenant), &a.sort_key, &a.key).cmp(&(
                position(&b.tenant),
                &b.sort_key,
                &b.key,
            ))
        });
        self.opened(found).await
    }

    /// The entity ids of the rows `rows` would return, without their documents.
    pub(crate) async fn row_entities(
        &self,
        projection: &str,
        q: &RowQuery,
    ) -> Result<Vec<Option<Uuid>>, StoreError> {
        let mut query = self.row_query("entity_id", projection, q)?;
        Ok(query.build_query_scalar().fetch_all(&self.read).await?)
    }

    fn row_query(
        &self,
        columns: &str,
        projection: &str,
        q: &RowQuery,
    ) -> Result<QueryBuilder<Db>, StoreError> {
        let table = self.table(projection)?;
        let mut query =
            QueryBuilder::<Db>::new(format!("SELECT {columns} FROM {table} WHERE 1 = 1"));
        if let Some(tenant) = &q.tenant {
            query.push(" AND tenant = ").push_bind(tenant.clone());
        }
        if let Some(from) = &q.sort_key_from {
            query.push(" AND sort_key >= ").push_bind(from.clone());
        }
        if let Some(to) = &q.sort_key_to {
            query.push(" AND sort_key <= ").push_bind(to.clone());
        }
        if let Some((sort_key, key)) = &q.after {
            query
                .push(" AND (sort_key, key) > (")
                .push_bind(sort_key.clone());
            query.push(", ").push_bind(key.clone()).push(")");
        }
        query
            .push(" ORDER BY sort_key, key LIMIT ")
            .push_bind(limit(q.limit)?)
            .push(super::LIMIT_PLUS_ZERO);
        Ok(query)
    }

    /// A counted projection's rows are not counted here: their number is read from
    /// `projection_counts` (the live generation's key), and with a bound the rows past it are
    /// counted and taken away: the few not yet due, for a queue with a backlog. One statement,
    /// so the count and the rows past the bound are read from the same snapshot.
    pub(crate) async fn count_rows(
        &self,
        projection: &str,
        tenant: Option<&str>,
        sort_key_to: Option<&str>,
    ) -> Result<i64, StoreError> {
        let registered = self.shared.registry.get(projection)?;
        let table = registered.name();
        if !registered.lookups().counted {
            let mut query =
                QueryBuilder::<Db>::new(format!("SELECT COUNT(*) FROM {table} WHERE 1 = 1"));
            if let Some(tenant) = tenant {
                query.push(" AND tenant = ").push_bind(tenant);
            }
            if let Some(to) = sort_key_to {
                query.push(" AND sort_key <= ").push_bind(to);
            }
            return Ok(query.build_query_scalar().fetch_one(&self.read).await?);
        }
        let mut query = QueryBuilder::<Db>::new(
            "SELECT CAST(COALESCE((SELECT SUM(n) FROM projection_counts WHERE key = \
             (SELECT name || '_g' || generation FROM projection_checkpoints WHERE name = ",
        );
        query.push_bind(table).push(")");
        if let Some(tenant) = tenant {
            query.push(" AND tenant = ").push_bind(tenant);
        }
        query.push("), 0)");
        if let Some(to) = sort_key_to {
            query.push(format!(
                " - (SELECT COUNT(*) FROM {table} WHERE sort_key > "
            ));
            query.push_bind(to);
            if let Some(tenant) = tenant {
                query.push(" AND tenant = ").push_bind(tenant);
            }
            query.push(")");
        }
        query.push(" AS BIGINT)");
        Ok(query.build_query_scalar().fetch_one(&self.read).await?)
    }

    /// Every row of a projection, for comparisons in tests and tools.
    pub(crate) async fn all_rows(&self, projection: &str) -> Result<Vec<Row>, StoreError> {
        let table = self.table(projection)?;
        let mut conn = self.read.acquire().await?;
        let rows = all_rows(&mut conn, table).await?;
        drop(conn);
        self.opened(rows).await
    }

    /// Rows with their sealed documents opened (docs/privacy.md).
    async fn opened(&self, mut rows: Vec<Row>) -> Result<Vec<Row>, StoreError> {
        self.open_rows(&mut rows).await?;
        Ok(rows)
    }
}
