//! One page of an initial sync: read, then recorded with its records in one append.

use syncledger_core::config::EntityConfig;
use syncledger_core::events::{InitialSyncPageRead, RecordDiscovered, SyncEvent};
use syncledger_core::initial_sync::{self, InitialSync};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_core::mapping::to_canonical;
use syncledger_store::StoreError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::context::Context;
use crate::error::EngineError;
use crate::held::release_held;
use crate::observe::{self, Observation};

/// How many times a page is appended again after its records' streams moved meanwhile.
const PAGE_ATTEMPTS: usize = 16;

/// The page to read: of `system`, from `cursor`, for the run `state` of `config`'s entity type.
pub(super) struct Read<'a> {
    pub tenant: &'a str,
    pub config: &'a EntityConfig,
    pub state: &'a InitialSync,
    pub system: &'a str,
    pub cursor: Option<String>,
    pub page_size: u32,
}

/// The version an append to the initial-sync stream at `version` expects.
pub(super) fn expected(version: u64) -> ExpectedVersion {
    match version {
        0 => ExpectedVersion::NoStream,
        v => ExpectedVersion::Exact(v),
    }
}

/// Reads one page and records it: its `InitialSyncPageRead` and a `RecordDiscovered` per
/// record, in one append. A conflict on a discovered record's stream (a webhook or a worker
/// got there first) is retried at once with fresh versions; a conflict on the initial-sync
/// stream means another process recorded it, and is the caller's to fold again.
pub(super) async fn read_page(
    ctx: &Context,
    read: Read<'_>,
    shutdown: &CancellationToken,
) -> Result<(), EngineError> {
    let Read {
        tenant,
        config,
        state,
        system,
        cursor,
        page_size,
    } = read;
    let (Some(run), Some(map)) = (&state.run, config.systems.get(system)) else {
        return Err(EngineError::Invalid(format!(
            "initial sync of {}: no system {system}",
            config.name
        )));
    };
    let connector = ctx
        .connector(tenant, system)
        .ok_or_else(|| EngineError::Invalid(format!("no connector for {tenant}/{system}")))?;
    let page = tokio::select! {
        page = connector.list(&map.collection, page_size, cursor.as_deref()) => page,
        _ = shutdown.cancelled() => return Ok(()),
    }
    .map_err(|e| EngineError::from_connector(system, format!("listing {system}"), e))?;
    let stream = initial_sync::stream_id(tenant, &config.name);
    let meta = EventMeta {
        tenant: tenant.into(),
        correlation_id: None,
        causation_id: None,
    };
    let read = SyncEvent::InitialSyncPageRead(InitialSyncPageRead {
        run_id: run.run_id,
        system: system.into(),
        cursor,
        next_cursor: page.next_cursor.clone(),
        records: page.items.len() as u64,
    })
    .to_new(meta);
    for _ in 0..PAGE_ATTEMPTS {
        let mut filed = Vec::with_capacity(page.items.len());
        for record in &page.items {
            let event = SyncEvent::RecordDiscovered(RecordDiscovered {
                entity_type: config.name.clone(),
                system: system.into(),
                collection: map.collection.clone(),
                record_id: record.id.clone(),
                run_id: run.run_id,
                fields: to_canonical(map, &record.body),
            });
            // Like a webhook, each discovery starts a chain; the page that listed it is
            // its cause.
            let event_id = Uuid::now_v7();
            let meta = EventMeta {
                tenant: tenant.into(),
                correlation_id: Some(event_id),
                causation_id: Some(read.event_id),
            };
            filed.push(Observation {
                entity_type: &config.name,
                system,
                record_id: &record.id,
                event: event.to_new_with_id(event_id, meta),
            });
        }
        let mut appends = vec![StreamAppend {
            stream_id: stream,
            expected: expected(state.version),
            events: vec![read.clone()],
        }];
        appends.extend(observe::route(&ctx.store, tenant, filed).await?);
        match ctx.store.append(appends).await {
            Ok(_) => {
                tracing::info!(%tenant, entity = %config.name, %system, records = page.items.len(), listed = page.next_cursor.is_none(), "initial sync recorded a page");
                ctx.wake_workers();
                if page.next_cursor.is_none() {
                    // Creates held for this system may go now (see `hold`).
                    release_held(ctx, tenant, stream).await?;
                }
                return Ok(());
            }
            Err(StoreError::Conflict(c)) if c.stream_id != stream => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::Unavailable(StoreError::Unavailable(
        "a page's records kept racing other appends".into(),
    )))
}
