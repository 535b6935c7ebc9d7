//! The GraphQL shapes of the log's facts: events, links, replay differences, appended events and
//! projection status. Ids are GraphQL `ID`s (UUIDs as text); positions and sequences are `Int`s
//! (64-bit on the wire, as JSON numbers); payloads and states are `JSON`.

use async_graphql::{Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;
use syncledger_core::events::SyncEvent;
use syncledger_core::explain::explain_stream;
use syncledger_core::log::{Appended as LogAppended, RecordedEvent};
use syncledger_core::replay::{DecisionSummary as CoreSummary, ReplayDifference as CoreDifference};
use syncledger_store::{ProjectionState, ProjectionStatus};

/// One event of the log, with its one-line explanation.
pub struct Event {
    pub event: RecordedEvent,
    pub explanation: String,
}

impl Event {
    /// An event explained on its own (the global log has no stream context at hand).
    pub fn alone(event: RecordedEvent) -> Self {
        let entity_type = event
            .payload
            .get("entity_type")
            .and_then(Value::as_str)
            .unwrap_or("record");
        let explanation = explain_stream(entity_type, std::slice::from_ref(&event))
            .pop()
            .unwrap_or_default();
        Event { event, explanation }
    }
}

#[Object]
impl Event {
    /// The global position: strictly increasing in commit order; the cursor of `events`.
    async fn position(&self) -> i64 {
        self.event.position.0
    }

    /// The sync entity (stream) this event belongs to.
    async fn entity_id(&self) -> ID {
        ID(self.event.stream_id.to_string())
    }

    /// 1, 2, 3, ... within the entity's stream, without gaps.
    async fn sequence(&self) -> i64 {
        self.event.sequence as i64
    }

    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.event.event_type
    }

    async fn schema_version(&self) -> i32 {
        self.event.schema_version
    }

    async fn tenant(&self) -> &str {
        &self.event.meta.tenant
    }

    async fn recorded_at(&self) -> DateTime<Utc> {
        self.event.recorded_at
    }

    async fn event_id(&self) -> ID {
        ID(self.event.event_id.to_string())
    }

    /// The event that directly caused this one.
    async fn causation_id(&self) -> Option<ID> {
        self.event.meta.causation_id.map(|id| ID(id.to_string()))
    }

    /// The observed change (webhook) that started the chain this event belongs to.
    async fn correlation_id(&self) -> Option<ID> {
        self.event.meta.correlation_id.map(|id| ID(id.to_string()))
    }

    async fn payload(&self) -> Json<&Value> {
        Json(&self.event.payload)
    }

    /// A decision's basis in words (`DecisionMade`, `RedirectedTo`), e.g. `crm contact c-42
    /// changed name`; null for other events. The typed basis is in `payload.basis`.
    async fn reason(&self) -> Option<String> {
        match SyncEvent::from_recorded(&self.event).ok()? {
            SyncEvent::DecisionMade(d) => Some(d.reason()),
            SyncEvent::RedirectedTo(r) => Some(r.reason()),
            _ => None,
        }
    }

    /// One sentence a support engineer understands, e.g. `erp customer E7: phone written
    /// 555-0101 because crm contact c-42 changed it (webhook crm-evt-9)`.
    async fn explanation(&self) -> &str {
        &self.explanation
    }
}

/// The entity's record in one system.
#[derive(SimpleObject)]
pub struct Link {
    pub system: String,
    pub record_id: String,
    pub collection: String,
}

/// One decision, reduced to what a reviewer compares.
#[derive(SimpleObject)]
pub struct DecisionSummary {
    /// `create`, `update`, `delete`, `skip`, `echo_suppressed`, `deferred`, `conflict_resolved`,
    /// `link` or `unlink`; `redirect` for work handed over to another entity.
    pub kind: String,
    pub target_system: String,
    /// The rule of the decision core that fired (`echo_of_write`, `equal_match_keys`, ...).
    pub rule: String,
    /// The rule and the inputs it fired on, as JSON (`{"rule": ..., ...}`): what a replay
    /// compares.
    pub basis: String,
    /// `field=value` for each changed field.
    pub changes: Vec<String>,
}

impl From<CoreSummary> for DecisionSummary {
    fn from(s: CoreSummary) -> Self {
        DecisionSummary {
            kind: s.kind,
            target_system: s.target_system,
            rule: s.basis.rule().to_string(),
            basis: serde_json::to_string(&s.basis).unwrap_or_default(),
            changes: s.changes,
        }
    }
}

/// Where today's decision code decides differently from what was recorded.
#[derive(SimpleObject)]
pub struct ReplayDifference {
    pub entity_id: ID,
    /// Position of the first event of the recorded decision.
    pub position: i64,
    /// The work item (observed change, resync, retry) that was being settled.
    pub trigger_id: ID,
    pub recorded: Vec<DecisionSummary>,
    pub replayed: Vec<DecisionSummary>,
}

impl From<CoreDifference> for ReplayDifference {
    fn from(d: CoreDifference) -> Self {
        ReplayDifference {
            entity_id: ID(d.entity_id.to_string()),
            position: d.position.0,
            trigger_id: ID(d.trigger_id.to_string()),
            recorded: d.recorded.into_iter().map(Into::into).collect(),
            replayed: d.replayed.into_iter().map(Into::into).collect(),
        }
    }
}

/// Where an event a mutation appended landed.
#[derive(SimpleObject)]
pub struct AppendedEvent {
    pub event_id: ID,
    pub entity_id: ID,
    pub sequence: i64,
    pub position: i64,
}

impl From<LogAppended> for AppendedEvent {
    fn from(a: LogAppended) -> Self {
        AppendedEvent {
            event_id: ID(a.event_id.to_string()),
            entity_id: ID(a.stream_id.to_string()),
            sequence: a.sequence as i64,
            position: a.position.0,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ProjectionMode {
    /// Updated inside the append transaction.
    Inline,
    /// Follows the log from its checkpoint.
    CatchUp,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ProjectionStateKind {
    Live,
    /// A rebuild into a shadow table runs; the live table keeps serving.
    Rebuilding,
}

/// Where one projection stands.
#[derive(SimpleObject)]
pub struct Projection {
    pub name: String,
    pub mode: ProjectionMode,
    /// The last position the live table reflects.
    pub checkpoint: i64,
    pub head: i64,
    /// Events after the checkpoint.
    pub lag: i64,
    pub status: ProjectionStateKind,
    /// While rebuilding: events applied to the shadow table so far.
    pub rebuild_done: Option<i64>,
    /// While rebuilding: events to apply (grows with the tail appended meanwhile).
    pub rebuild_total: Option<i64>,
}

impl From<ProjectionStatus> for Projection {
    fn from(s: ProjectionStatus) -> Self {
        let (status, done, total) = match s.status {
            ProjectionState::Live => (ProjectionStateKind::Live, None, None),
            ProjectionState::Rebuilding { done, total } => (
                ProjectionStateKind::Rebuilding,
                Some(done as i64),
                Some(total as i64),
            ),
        };
        Projection {
            name: s.name,
            mode: match s.mode {
                syncledger_core::projection::Mode::Inline => ProjectionMode::Inline,
                syncledger_core::projection::Mode::CatchUp => ProjectionMode::CatchUp,
            },
            checkpoint: s.checkpoint.0,
            head: s.head.0,
            lag: s.lag as i64,
            status,
            rebuild_done: done,
            rebuild_total: total,
        }
    }
}
