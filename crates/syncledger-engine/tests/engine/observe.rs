//! Looking at the result: mappings, entity state and streams, the queue, and what a person asks.

use syncledger_core::entity::EntityState;
use syncledger_core::events::{DecisionKind, SyncEvent};
use syncledger_core::log::{EventMeta, ExpectedVersion, StreamAppend};
use syncledger_core::projections::{id_mappings, pending_queue};
use uuid::Uuid;

use crate::harness::{TENANT, World};

impl World {
    /// The entity a record is mapped to.
    pub async fn entity_of(&self, system: &str, record_id: &str) -> Option<Uuid> {
        let row = self
            .store()
            .row(
                id_mappings::NAME,
                &id_mappings::key(TENANT, system, record_id),
            )
            .await
            .expect("mapping row");
        row.and_then(|r| r.entity_id)
    }

    pub async fn state(&self, entity: Uuid) -> EntityState {
        self.ledger.load(entity).await.expect("load entity")
    }

    pub async fn events(&self, entity: Uuid) -> Vec<SyncEvent> {
        let stream = self
            .store()
            .read_stream(entity, 1, i64::MAX)
            .await
            .expect("read stream");
        stream
            .iter()
            .map(|e| SyncEvent::from_recorded(e).expect("decodable event"))
            .collect()
    }

    pub async fn decisions(&self, entity: Uuid) -> Vec<DecisionKind> {
        let events = self.events(entity).await;
        events
            .into_iter()
            .filter_map(|e| match e {
                SyncEvent::DecisionMade(d) => Some(d.kind),
                _ => None,
            })
            .collect()
    }

    pub async fn queue_depth(&self) -> i64 {
        self.store()
            .count_rows(pending_queue::NAME, None, None)
            .await
            .expect("queue depth")
    }

    /// Appends what a person asks for (a resync, a dead-letter retry) to an entity's stream.
    pub async fn ask(&self, entity: Uuid, event: SyncEvent) -> Uuid {
        let meta = EventMeta {
            tenant: TENANT.into(),
            correlation_id: None,
            causation_id: None,
        };
        let new = event.to_new(meta);
        let id = new.event_id;
        let append = StreamAppend {
            stream_id: entity,
            expected: ExpectedVersion::Any,
            events: vec![new],
        };
        self.store()
            .append(vec![append])
            .await
            .expect("append a person's request");
        id
    }
}
