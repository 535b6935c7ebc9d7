//! [`Store`]: one type over both backends. It is a cheap handle (an `Arc` inside); clone it into
//! every task that needs the log.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use syncledger_core::log::{Appended, LogFilter, Position, RecordedEvent, StreamAppend};
use syncledger_core::projection::Row;
use uuid::Uuid;

use crate::types::{OpsSample, ProjectionStatus, RebuildProgress, RowQuery};
use crate::{StoreError, StoreOptions, postgres, sqlite};

#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<sqlite::Inner>),
    Postgres(Arc<postgres::Inner>),
}

/// Runs the same expression against whichever backend the store has.
macro_rules! dispatch {
    ($self:expr, $inner:ident => $body:expr) => {
        match &$self.backend {
            Backend::Sqlite($inner) => $body,
            Backend::Postgres($inner) => $body,
        }
    };
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish()
    }
}

impl Store {
    /// Opens `sqlite://path.db` (created if missing) or `postgres://...`. Call [`Store::migrate`]
    /// before use.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite(sqlite::connect(url, options).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(postgres::connect(url, options).await?)
        } else {
            return Err(StoreError::InvalidInput(format!(
                "database URL must start with sqlite: or postgres://, got {url:?}"
            )));
        };
        Ok(Store { backend })
    }

    /// A store over an existing PostgreSQL pool (tests get theirs from `#[sqlx::test]`).
    pub fn from_pg_pool(pool: sqlx::PgPool, options: StoreOptions) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Postgres(postgres::from_pool(pool, options)?),
        })
    }

    /// Runs the embedded migrations and creates every registered projection's table and
    /// checkpoint; an inline projection that is behind the log is rebuilt here.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.migrate().await)
    }

    /// Archiving: segments, snapshots and what went where (docs/log.md, "Archiving").
    pub fn archives(&self) -> crate::archive::Archives {
        match &self.backend {
            Backend::Sqlite(inner) => crate::archive::Archives::sqlite(inner.clone()),
            Backend::Postgres(inner) => crate::archive::Archives::postgres(inner.clone()),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        dispatch!(self, s => s.backend_name())
    }

    /// Stops background tasks (the PostgreSQL listener holds a connection) and closes the
    /// pools; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        dispatch!(self, s => {
            s.shared.closed.cancel();
            s.read.close().await;
            s.write.close().await;
        })
    }

    /// Appends to one or more streams atomically. See `docs/log.md` for the rules: expectations
    /// are checked per stream, a mismatch writes nothing, and a retry of a stored append returns
    /// where its events landed.
    pub async fn append(
        &self,
        mut appends: Vec<StreamAppend>,
    ) -> Result<Vec<Appended>, StoreError> {
        // Values are sealed before anything else sees them (docs/privacy.md).
        dispatch!(self, s => {
            s.seal_appends(&mut appends).await?;
            s.append(appends).await
        })
    }

    /// The stream's last sequence number (0: no such stream).
    pub async fn stream_version(&self, stream_id: Uuid) -> Result<u64, StoreError> {
        dispatch!(self, s => s.stream_version(stream_id).await)
    }

    /// The versions of several streams in one read; streams with no events are absent.
    pub async fn stream_versions(
        &self,
        stream_ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, u64>, StoreError> {
        dispatch!(self, s => s.stream_versions(stream_ids).await)
    }

    /// A stream's events from `from_sequence` on, in sequence order.
    pub async fn read_stream(
        &self,
        stream_id: Uuid,
        from_sequence: u64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.read_stream(stream_id, from_sequence, limit).await)
    }

    /// The global log after `after`, in position order.
    pub async fn read_all(
        &self,
        after: Position,
        filter: &LogFilter,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.read_all(after, filter, limit).await)
    }

    /// How many events were committed after `after`; only `tenant`'s when given. Counts, never
    /// reads the events (the primary key or the `(tenant, position)` index answers it).
    pub async fn count_events(
        &self,
        after: Position,
        tenant: Option<&str>,
    ) -> Result<i64, StoreError> {
        dispatch!(self, s => s.count_events(after, tenant).await)
    }

    /// The highest committed position ([`Position::START`] when the log is empty).
    pub async fn head(&self) -> Result<Position, StoreError> {
        dispatch!(self, s => s.head().await)
    }

    /// The stored events among `ids`, in position order.
    pub async fn events_by_id(&self, ids: &[Uuid]) -> Result<Vec<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.events_by_id(ids).await)
    }

    pub async fn event(&self, event_id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        dispatch!(self, s => s.event(event_id).await)
    }

    pub(crate) async fn read_page(
        &self,
        after: Position,
        filter: &LogFilter,
        limit: i64,
    ) -> Result<(Vec<RecordedEvent>, Position), StoreError> {
        dispatch!(self, s => s.read_page(after, filter, limit).await)
    }

    pub(crate) fn watch_appends(&self) -> tokio::sync::watch::Receiver<u64> {
        dispatch!(self, s => s.shared.watch_appends())
    }

    pub(crate) fn poll_interval(&self) -> Duration {
        dispatch!(self, s => s.shared.poll_interval)
    }

    pub(crate) async fn ensure_wakeups(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => sqlite::dialect::ensure_wakeups(s).await,
            Backend::Postgres(s) => postgres::dialect::ensure_wakeups(s).await,
        }
    }

    /// Applies every catch-up projection up to the head; returns the number of events applied
    /// (summed over projections).
    pub async fn catch_up_once(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.catch_up_once().await)
    }

    /// Keeps catch-up projections following the log until `shutdown` completes. Errors of a
    /// round are logged and retried; only failing to start returns an error.
    pub async fn run_projections(
        &self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.run_projections(shutdown).await)
    }

    pub async fn row(&self, projection: &str, key: &str) -> Result<Option<Row>, StoreError> {
        dispatch!(self, s => s.row(projection, key).await)
    }

    /// The rows of a projection with the given keys, those that exist, in no particular order.
    pub async fn rows_by_keys(
        &self,
        projection: &str,
        keys: &[String],
    ) -> Result<Vec<Row>, StoreError> {
        dispatch!(self, s => s.rows_by_keys(projection, keys).await)
    }

    /// The projection's rows of one entity, by `(sort_key, key)`.
    pub async fn rows_by_entity(
        &self,
        projection: &str,
        entity_id: Uuid,
    ) -> Result<Vec<Row>, StoreError> {
        dispatch!(self, s => s.rows_by_entity(projection, entity_id).await)
    }

    /// A keyset page of rows ordered by `(sort_key, key)`. On a projection whose sort keys are
    /// keyed digests ([`Projection::keys_sort_keys`](syncledger_core::projection::Projection)),
    /// an exact lookup (one tenant, `sort_key_from == sort_key_to`) gives the sort key the
    /// projection made, and the store keys it as it keyed the rows (docs/privacy.md).
    pub async fn rows(&self, projection: &str, query: &RowQuery) -> Result<Vec<Row>, StoreError> {
        dispatch!(self, s => match s.keyed_query(projection, query).await? {
            Some(query) => s.rows(projection, &query).await,
            None => Ok(Vec::new()),
        })
    }

    /// The first rows of each tenant (`(tenant, how many)`), by `(sort_key, key)` up to
    /// `sort_key_to`: every tenant's oldest due work, however long another tenant's queue is.
    /// Grouped by tenant in the order given, each tenant's rows in order.
    pub async fn rows_of_tenants(
        &self,
        projection: &str,
        sort_key_to: Option<&str>,
        tenants: &[(String, i64)],
    ) -> Result<Vec<Row>, StoreError> {
        dispatch!(self, s => s.rows_of_tenants(projection, sort_key_to, tenants).await)
    }

    /// The entity ids of the rows [`Store::rows`] would return (no documents decoded): what a
    /// scheduler reading the pending queue needs.
    pub async fn row_entities(
        &self,
        projection: &str,
        query: &RowQuery,
    ) -> Result<Vec<Option<Uuid>>, StoreError> {
        dispatch!(self, s => s.row_entities(projection, query).await)
    }

    /// Rows of a tenant (or all) with `sort_key <= sort_key_to` (or all).
    pub async fn count_rows(
        &self,
        projection: &str,
        tenant: Option<&str>,
        sort_key_to: Option<&str>,
    ) -> Result<i64, StoreError> {
        dispatch!(self, s => s.count_rows(projection, tenant, sort_key_to).await)
    }

    /// Every row of a projection by `(sort_key, key)`: for comparisons and tools, not for
    /// large tables.
    pub async fn all_rows(&self, projection: &str) -> Result<Vec<Row>, StoreError> {
        dispatch!(self, s => s.all_rows(projection).await)
    }

    pub async fn projection_status(&self) -> Result<Vec<ProjectionStatus>, StoreError> {
        dispatch!(self, s => s.projection_status().await)
    }

    /// Rebuilds a projection from position 0 into a shadow table and swaps it in atomically.
    /// `progress` is called after every batch; the same figures show in
    /// [`Store::projection_status`] meanwhile.
    pub async fn rebuild(
        &self,
        projection: &str,
        progress: impl Fn(RebuildProgress) + Send + Sync,
    ) -> Result<RebuildProgress, StoreError> {
        dispatch!(self, s => s.rebuild(projection, None, &progress, &mut crate::no_hook).await)
    }

    /// [`Store::rebuild`] with an async hook run after each batch of the unlocked phase (tests
    /// append from it to force appends into a running rebuild).
    #[doc(hidden)]
    pub async fn rebuild_with_hook(
        &self,
        projection: &str,
        mut hook: impl FnMut(RebuildProgress) -> BoxFuture<'static, ()> + Send,
    ) -> Result<RebuildProgress, StoreError> {
        dispatch!(self, s => s.rebuild(projection, None, &|_| {}, &mut hook).await)
    }

    /// Takes the entity's lease for `owner` when it is free, expired, or already `owner`'s.
    pub async fn try_lease(
        &self,
        entity_id: Uuid,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.try_lease(entity_id, owner, ttl).await)
    }

    /// Extends `owner`'s lease; false when `owner` no longer holds it.
    pub async fn renew_lease(
        &self,
        entity_id: Uuid,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.renew_lease(entity_id, owner, ttl).await)
    }

    /// Takes the leases of several entities in one transaction: those free, expired or already
    /// the caller's. Returns the entities leased to the caller.
    pub async fn claim_leases(
        &self,
        entity_ids: &[Uuid],
        owner: &str,
        ttl: Duration,
    ) -> Result<Vec<Uuid>, StoreError> {
        dispatch!(self, s => s.claim_leases(entity_ids, owner, ttl).await)
    }

    /// Gives back the caller's leases among `entity_ids`; returns how many it held.
    pub async fn release_leases(
        &self,
        entity_ids: &[Uuid],
        owner: &str,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.release_leases(entity_ids, owner).await)
    }

    /// Gives `owner`'s lease back; false when `owner` did not hold it.
    pub async fn release_lease(&self, entity_id: Uuid, owner: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.release_lease(entity_id, owner).await)
    }

    /// Records one sample of a tenant's minute for the operations page (see [`OpsSample`]).
    pub async fn record_ops_sample(&self, sample: &OpsSample) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_ops_sample(sample).await)
    }

    /// `tenant`'s samples from minute `from` on, after the last one before it (if any).
    pub async fn ops_samples(&self, tenant: &str, from: i64) -> Result<Vec<OpsSample>, StoreError> {
        dispatch!(self, s => s.ops_samples(tenant, from).await)
    }

    /// Deletes the samples of minutes before `before`; how many there were.
    pub async fn prune_ops_samples(&self, before: i64) -> Result<u64, StoreError> {
        dispatch!(self, s => s.prune_ops_samples(before).await)
    }
}

mod hooks;
mod privacy;
mod scan;
pub use scan::Scan;
