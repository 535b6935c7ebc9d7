//! Realistic histories without connected systems: a small stand-in for the engine that appends
//! what the engine appends, in the same shape (the decision core decides; each work item's events
//! are chained by causation; outcomes are caused by their requests).

use chrono::Utc;
use serde_json::{Value, json};
use syncledger_core::config::EntityConfig;
use syncledger_core::decide::{Gathered, decide};
use syncledger_core::entity::EntityState;
use syncledger_core::events::{
    Action, ChangeObserved, DeadLetterRequest, DeadLettered, Fields, RecordFetched, RecordLinked,
    Resolution, SyncEvent, WriteFailed, WriteOp, WriteRequested, WriteSucceeded,
    entity_id_for_record, write_request,
};
use syncledger_core::log::{EventMeta, ExpectedVersion, NewEvent, RecordedEvent, StreamAppend};
use syncledger_core::projections::id_mappings;
use syncledger_store::Store;
use uuid::Uuid;

pub struct Recorder {
    pub store: Store,
    pub config: EntityConfig,
    /// The round-trip window the engine reads its echo context with.
    ttl: chrono::Duration,
    pub tenant: String,
}

pub fn fields(value: Value) -> Fields {
    value
        .as_object()
        .expect("an object of fields")
        .clone()
        .into_iter()
        .collect()
}

/// Envelopes where each event is caused by the one before (the first by `meta`'s causation).
fn chain(events: Vec<SyncEvent>, meta: &EventMeta) -> Vec<NewEvent> {
    let mut causation = meta.causation_id;
    events
        .into_iter()
        .map(|event| {
            let new = event.to_new(EventMeta {
                causation_id: causation,
                ..meta.clone()
            });
            causation = Some(new.event_id);
            new
        })
        .collect()
}

impl Recorder {
    pub fn new(store: &Store, config: &syncledger_core::config::Config, tenant: &str) -> Recorder {
        Recorder {
            store: store.clone(),
            config: config.entity("customer").unwrap().clone(),
            ttl: config.server.round_trip_ttl(),
            tenant: tenant.into(),
        }
    }

    pub async fn stream(&self, entity_id: Uuid) -> Vec<RecordedEvent> {
        self.store
            .read_stream(entity_id, 1, i64::MAX)
            .await
            .unwrap()
    }

    /// The entity a record belongs to: its mapping, or the stream its first webhook opens.
    pub async fn entity_of(&self, system: &str, record_id: &str) -> Uuid {
        let key = id_mappings::key(&self.tenant, system, record_id);
        match self
            .store
            .row(id_mappings::NAME, &key)
            .await
            .unwrap()
            .and_then(|r| r.entity_id)
        {
            Some(id) => id,
            None => entity_id_for_record(&self.tenant, "customer", system, record_id),
        }
    }

    /// A webhook only: the change is observed and waits in the pending queue.
    pub async fn observe(
        &self,
        system: &str,
        record_id: &str,
        action: Action,
        webhook: &str,
    ) -> (Uuid, Uuid) {
        let entity_id = self.entity_of(system, record_id).await;
        let collection = self.config.systems[system].collection.clone();
        let event = SyncEvent::ChangeObserved(ChangeObserved {
            entity_type: "customer".into(),
            system: system.into(),
            collection,
            record_id: record_id.into(),
            action,
            webhook_event_id: webhook.into(),
            occurred_at: Utc::now(),
        });
        let id = Uuid::now_v7();
        let meta = EventMeta {
            tenant: self.tenant.clone(),
            correlation_id: Some(id),
            causation_id: None,
        };
        let append = StreamAppend {
            stream_id: entity_id,
            expected: ExpectedVersion::Any,
            events: vec![event.to_new_with_id(id, meta)],
        };
        self.store.append(vec![append]).await.unwrap();
        (entity_id, id)
    }

    /// A webhook and everything the sync then does: fetch, decide, write, and the writes succeed
    /// (a create gets the target id `new_id`).
    pub async fn sync(
        &self,
        system: &str,
        record_id: &str,
        action: Action,
        webhook: &str,
        record: Option<Value>,
        new_id: &str,
    ) -> Uuid {
        let (entity_id, _) = self.observe(system, record_id, action, webhook).await;
        self.settle(entity_id, record, new_id).await;
        entity_id
    }

    /// Settles the entity's oldest open work item, the way the engine does.
    pub async fn settle(&self, entity_id: Uuid, record: Option<Value>, new_id: &str) {
        for write in self.decide(entity_id, record).await {
            self.succeed(entity_id, &write, new_id).await;
        }
    }

    /// Fetches (`record`: what the source system answers), decides and records the decision for
    /// the entity's oldest open work item; the writes it asks for get no outcome yet.
    pub async fn decide(&self, entity_id: Uuid, record: Option<Value>) -> Vec<WriteRequested> {
        self.decide_with(entity_id, record, false).await
    }

    /// [`Recorder::decide`] on a record seen for the first time, the way G8's first step does:
    /// its fetch recorded on its own first, the decision's group referring to it
    /// (`InputsGathered.fetched_first`) instead of holding it.
    pub async fn decide_first_seen(
        &self,
        entity_id: Uuid,
        record: Option<Value>,
    ) -> Vec<WriteRequested> {
        self.decide_with(entity_id, record, true).await
    }

    async fn decide_with(
        &self,
        entity_id: Uuid,
        record: Option<Value>,
        first_step: bool,
    ) -> Vec<WriteRequested> {
        let stream = self.stream(entity_id).await;
        let mut state = EntityState::fold(entity_id, &stream);
        let trigger = state.open_triggers.first().expect("work to settle").clone();
        let (system, record_id) = trigger
            .source()
            .map(|(s, r)| (s.to_string(), r.to_string()))
            .unwrap();
        let fetched = RecordFetched {
            etag: None,
            system,
            record_id,
            found: record.is_some(),
            fields: record.map(fields).unwrap_or_default(),
        };
        // What the engine gathers: the echo window read from the folded stream at a clock
        // reading that is recorded with the decision.
        let mut fetched_first = None;
        if first_step {
            let meta = EventMeta {
                tenant: self.tenant.clone(),
                correlation_id: Some(trigger.correlation_id),
                causation_id: None,
            };
            let first = SyncEvent::RecordFetched(fetched.clone()).to_new(meta);
            fetched_first = Some(first.event_id);
            let append = StreamAppend {
                stream_id: entity_id,
                expected: ExpectedVersion::Exact(state.version),
                events: vec![first],
            };
            self.store.append(vec![append]).await.unwrap();
            state = EntityState::fold(entity_id, &self.stream(entity_id).await);
        }
        let at = chrono::Utc::now();
        let gathered = Gathered {
            at,
            echo: state.written_within(self.ttl, at),
            fetched: Some(fetched.clone()),
            fetched_first,
            ..Gathered::default()
        };
        let outcome = decide(&self.config, &state, &trigger, &gathered);
        let mut own = vec![SyncEvent::InputsGathered(gathered.recorded(&trigger))];
        if !first_step {
            own.push(SyncEvent::RecordFetched(fetched));
        }
        own.extend(outcome.own.iter().cloned());
        let meta = EventMeta {
            tenant: self.tenant.clone(),
            correlation_id: Some(trigger.correlation_id),
            causation_id: Some(trigger.event_id),
        };
        let append = StreamAppend {
            stream_id: entity_id,
            expected: ExpectedVersion::Exact(state.version),
            events: chain(own, &meta),
        };
        self.store.append(vec![append]).await.unwrap();
        outcome.writes().cloned().collect()
    }

    async fn requested(&self, entity_id: Uuid, request_id: Uuid) -> (EntityState, RecordedEvent) {
        let stream = self.stream(entity_id).await;
        let requested = stream
            .iter()
            .find(|e| {
                SyncEvent::from_recorded(e)
                    .is_ok_and(|d| write_request(&d).is_some_and(|w| w.request_id == request_id))
            })
            .expect("the write request")
            .clone();
        (EntityState::fold(entity_id, &stream), requested)
    }

    pub async fn succeed(&self, entity_id: Uuid, write: &WriteRequested, new_id: &str) {
        let (state, requested) = self.requested(entity_id, write.request_id).await;
        let record_id = write
            .record_id
            .clone()
            .unwrap_or_else(|| new_id.to_string());
        let mut held = state
            .known
            .get(&write.target_system)
            .cloned()
            .unwrap_or_default();
        held.extend(write.fields.clone());
        let mut events = vec![SyncEvent::WriteSucceeded(WriteSucceeded {
            etag: None,
            request_id: write.request_id,
            target_system: write.target_system.clone(),
            record_id: record_id.clone(),
            fields: held,
            resolution: Resolution::Response,
        })];
        if write.op == WriteOp::Create {
            events.push(SyncEvent::RecordLinked(RecordLinked {
                entity_type: "customer".into(),
                system: write.target_system.clone(),
                collection: write.collection.clone(),
                record_id,
                reason: format!("created by the sync (request {})", write.request_id),
            }));
        }
        self.append_caused(entity_id, &state, &requested, events)
            .await;
    }

    /// The write of the entity's pending request fails with `body` and waits for its retry.
    pub async fn fail_for_retry(&self, entity_id: Uuid, request_id: Uuid, body: &str) {
        let (state, requested) = self.requested(entity_id, request_id).await;
        let decoded = SyncEvent::from_recorded(&requested).unwrap();
        let write = write_request(&decoded).unwrap();
        let failed = SyncEvent::WriteFailed(WriteFailed {
            request_id,
            target_system: write.target_system.clone(),
            status: Some(503),
            body: Some(body.into()),
            will_retry: true,
            attempt: 1,
            retry_at: Some(chrono::Utc::now()),
        });
        self.append_caused(entity_id, &state, &requested, vec![failed])
            .await;
    }

    /// The write of the entity's pending request fails for good and becomes a dead letter.
    /// Returns the dead letter's id.
    pub async fn dead_letter(&self, entity_id: Uuid, request_id: Uuid) -> Uuid {
        let (state, requested) = self.requested(entity_id, request_id).await;
        let decoded = SyncEvent::from_recorded(&requested).unwrap();
        let write = write_request(&decoded).unwrap().clone();
        let events = vec![
            SyncEvent::WriteFailed(WriteFailed {
                request_id,
                target_system: write.target_system.clone(),
                status: Some(422),
                body: Some("{\"error\":\"phone is invalid\"}".into()),
                will_retry: false,
                attempt: 1,
                retry_at: None,
            }),
            SyncEvent::DeadLettered(DeadLettered {
                request_id: Some(request_id),
                target_system: Some(write.target_system.clone()),
                reason: "the target refused the write".into(),
                request: DeadLetterRequest::Write(write.clone()),
                status: Some(422),
                body: Some("{\"error\":\"phone is invalid\"}".into()),
            }),
        ];
        let appended = self
            .append_caused(entity_id, &state, &requested, events)
            .await;
        appended[1]
    }

    async fn append_caused(
        &self,
        entity_id: Uuid,
        state: &EntityState,
        cause: &RecordedEvent,
        events: Vec<SyncEvent>,
    ) -> Vec<Uuid> {
        let meta = EventMeta {
            tenant: self.tenant.clone(),
            correlation_id: cause.meta.correlation_id,
            causation_id: Some(cause.event_id),
        };
        let events = chain(events, &meta);
        let ids = events.iter().map(|e| e.event_id).collect();
        let append = StreamAppend {
            stream_id: entity_id,
            expected: ExpectedVersion::Exact(state.version),
            events,
        };
        self.store.append(vec![append]).await.unwrap();
        ids
    }
}

/// The story most tests use, for tenant `acme`: crm contact c-42 is created (the sync creates
/// erp customer E7), then its phone changes (the sync writes it to E7), then E7's echo arrives.
pub async fn phone_story(recorder: &Recorder) -> Uuid {
    let contact = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "555-0100"});
    let entity = recorder
        .sync(
            "crm",
            "c-42",
            Action::Created,
            "crm-evt-1",
            Some(contact),
            "E7",
        )
        .await;
    let changed = json!({"name": "Ann Lee", "email": "ann@acme.io", "phone": "555-0101"});
    recorder
        .sync(
            "crm",
            "c-42",
            Action::Updated,
            "crm-evt-9",
            Some(changed.clone()),
            "-",
        )
        .await;
    recorder
        .sync(
            "erp",
            "E7",
            Action::Updated,
            "erp-evt-3",
            Some(changed),
            "-",
        )
        .await;
    entity
}
