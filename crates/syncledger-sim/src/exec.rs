//! One API request through the simulated system: count it, meet the scripted fault, apply it,
//! emit its webhook, pause if asked, answer.
//!
//! Both faces (in process and HTTP) build a [`SimRequest`] and get an [`Answer`] back, so they
//! cannot drift apart. The state lock is never held across an await: the pause happens after the
//! change and its webhook are committed, which is exactly the window tests want to stage.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::{Map, Value, json};
use syncledger_connector::response::Answer;

use crate::faults::{Fault, Op, RequestLog};
use crate::webhooks::{Webhook, WebhookAction};
use crate::{Clock, SimSystem, State, lock, to_record};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// A request as either face received it. `malformed` carries a parse error of the HTTP face
/// (bad JSON, bad query), answered 400 after the request is counted.
#[derive(Debug)]
pub(crate) struct SimRequest {
    pub op: Op,
    pub collection: String,
    pub id: Option<String>,
    pub body: Option<Value>,
    pub idempotency_key: Option<String>,
    pub if_match: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub malformed: Option<String>,
}

impl SimRequest {
    pub fn new(op: Op, collection: &str) -> Self {
        SimRequest {
            op,
            collection: collection.to_owned(),
            id: None,
            body: None,
            idempotency_key: None,
            if_match: None,
            limit: None,
            cursor: None,
            headers: BTreeMap::new(),
            malformed: None,
        }
    }
}

/// The answer, or `hang`: the request never answers (a timeout, a lost response).
#[derive(Debug)]
pub(crate) struct Reply {
    pub answer: Answer,
    pub hang: bool,
    /// `Some(n)`: the body is `n` bytes, `answer.body` then padding ([`Fault::HugeBody`]).
    pub huge: Option<u64>,
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        retry_after: None,
        body: if body.is_null() {
            String::new()
        } else {
            body.to_string()
        },
        etag: None,
    }
}

/// The request's headers as logged; an in-process request's `If-Match` among them, so tests
/// read it the same way from either face.
fn logged_headers(request: &SimRequest) -> BTreeMap<String, String> {
    let mut headers = request.headers.clone();
    if let Some(etag) = &request.if_match {
        headers
            .entry("if-match".to_owned())
            .or_insert_with(|| etag.clone());
    }
    headers
}

fn error(status: u16, message: impl Into<String>) -> Answer {
    answer(status, json!({ "error": message.into() }))
}

impl SimSystem {
    pub(crate) async fn execute(&self, request: SimRequest) -> Reply {
        let op = request.op;
        let arrived = std::time::Instant::now();
        let latency = lock(&self.state).conditions.latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let (reply, gate) = {
            let mut state = lock(&self.state);
            state.counts[op.index()] += 1;
            if !state.conditions.unlogged {
                state.log.push(RequestLog {
                    op,
                    collection: request.collection.clone(),
                    record_id: request.id.clone(),
                    idempotency_key: request.idempotency_key.clone(),
                    headers: logged_headers(&request),
                    at: arrived,
                });
            }
            if let Some(status) = state.conditions.down {
                return Reply {
                    answer: error(status, "the system is down"),
                    hang: false,
                    huge: None,
                };
            }
            let fault = state.faults[op.index()].pop_front();
            let hang_after_apply = match fault {
                Some(Fault::Status(status, body)) => {
                    let answer = Answer {
                        status,
                        retry_after: None,
                        body,
                        etag: None,
                    };
                    return Reply {
                        answer,
                        hang: false,
                        huge: None,
                    };
                }
                Some(Fault::RetryAfter(secs)) => {
                    let mut answer = error(429, "rate limited");
                    answer.retry_after = Some(std::time::Duration::from_secs(secs));
                    return Reply {
                        answer,
                        hang: false,
                        huge: None,
                    };
                }
                Some(Fault::Timeout) => {
                    let answer = error(504, "no answer");
                    return Reply {
                        answer,
                        hang: true,
                        huge: None,
                    };
                }
                Some(Fault::HugeBody(bytes)) => {
                    let id = request.id.clone().unwrap_or_default();
                    let mut answer = answer(200, Value::Null);
                    answer.body = format!("{{\"id\":{},\"pad\":\"", Value::String(id));
                    return Reply {
                        answer,
                        hang: false,
                        huge: Some(bytes),
                    };
                }
                Some(Fault::LostResponse) => true,
                None => false,
            };
            let answer = state.apply(request);
            let gate = state.pauses[op.index()].pop_front();
            (
                Reply {
                    answer,
                    hang: hang_after_apply,
                    huge: None,
                },
                gate,
            )
        };
        self.webhooks_ready.notify_one();
        if let Some(gate) = gate {
            let record = serde_json::from_str(&reply.answer.body)
                .ok()
                .filter(|_| (200..300).contains(&reply.answer.status))
                .filter(|body: &Value| body.get("id").is_some_and(Value::is_string))
                .map(to_record);
            gate.hold(record).await;
        }
        reply
    }
}

impl State {
    /// The request applied, its record answer carrying the record's `ETag` when the system
    /// sends them.
    fn apply(&mut self, request: SimRequest) -> Answer {
        let collection = request.collection.clone();
        let mut answer = self.apply_request(request);
        let id = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .filter(|_| (200..300).contains(&answer.status))
            .and_then(|body| body.get("id").and_then(Value::as_str).map(str::to_owned));
        if let Some(id) = id {
            answer.etag = self.versions.etag(&collection, &id);
        }
        answer
    }

    fn apply_request(&mut self, request: SimRequest) -> Answer {
        let op = request.op;
        if let Some(problem) = request.malformed {
            return error(400, problem);
        }
        let collection = request.collection.as_str();
        let id = request.id.as_deref().unwrap_or_default();
        let exists = self.data.get(collection, id).is_some();
        if matches!(op, Op::Update | Op::Delete)
            && exists
            && !self
                .versions
                .allows(collection, id, request.if_match.as_deref())
        {
            return error(412, format!("{id:?} changed since that version"));
        }
        match op {
            Op::Get => match self.data.get(collection, id) {
                Some(record) => answer(200, record.clone()),
                None => error(404, format!("no record {id:?} in {collection}")),
            },
            Op::Create => {
                let Some(Value::Object(fields)) = request.body else {
                    return error(400, "the body must be a JSON object");
                };
                let Some(key) = request.idempotency_key else {
                    return answer(201, self.create(collection, fields));
                };
                let slot = (collection.to_owned(), key);
                if let Some(first) = self.idempotency.get(&slot) {
                    return answer(201, first.clone());
                }
                let record = self.create(collection, fields);
                self.idempotency.insert(slot, record.clone());
                answer(201, record)
            }
            Op::Update => {
                let Some(Value::Object(patch)) = request.body else {
                    return error(400, "the body must be a JSON object");
                };
                if patch.get("id").is_some_and(|v| v.as_str() != Some(id)) {
                    return error(400, "\"id\" cannot be changed");
                }
                match self.update(collection, id, &patch) {
                    Some(record) => answer(200, record),
                    None => error(404, format!("no record {id:?} in {collection}")),
                }
            }
            Op::Delete => match self.delete(collection, id) {
                true => answer(204, Value::Null),
                false => error(404, format!("no record {id:?} in {collection}")),
            },
            Op::List => self.list(collection, request.limit, request.cursor.as_deref()),
        }
    }

    fn list(&self, collection: &str, limit: Option<u32>, cursor: Option<&str>) -> Answer {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 {
            return error(400, "limit must be at least 1");
        }
        let after = match cursor.map(str::parse::<u64>) {
            None => 0,
            Some(Ok(after)) => after,
            Some(Err(_)) => return error(400, "unknown cursor"),
        };
        let (items, next) = self
            .data
            .page(collection, limit.min(MAX_LIMIT) as usize, after);
        let next_cursor = next.map(|n| n.to_string());
        answer(200, json!({ "items": items, "next_cursor": next_cursor }))
    }

    pub(super) fn create(&mut self, collection: &str, fields: Map<String, Value>) -> Value {
        let record = self.data.insert(collection, fields);
        self.versions
            .bump(collection, record["id"].as_str().unwrap_or_default());
        self.emit(collection, WebhookAction::Created, &record["id"]);
        record
    }

    pub(super) fn update(
        &mut self,
        collection: &str,
        id: &str,
        patch: &Map<String, Value>,
    ) -> Option<Value> {
        // Every save emits a webhook, even one that changes nothing, as real systems do: the
        // sync must recognise its own echo rather than rely on silence.
        let record = self.data.patch(collection, id, patch)?;
        self.versions.bump(collection, id);
        self.emit(collection, WebhookAction::Updated, &record["id"]);
        Some(record)
    }

    pub(super) fn delete(&mut self, collection: &str, id: &str) -> bool {
        let existed = self.data.remove(collection, id);
        self.versions.forget(collection, id);
        if existed {
            self.emit(
                collection,
                WebhookAction::Deleted,
                &Value::String(id.to_owned()),
            );
        }
        existed
    }

    fn emit(&mut self, collection: &str, action: WebhookAction, record_id: &Value) {
        let occurred_at = match &mut self.clock {
            Clock::Wall => Utc::now(),
            Clock::Logical { next, step } => {
                let now = *next;
                *next += *step;
                now
            }
        };
        let event_id = format!("{}-ev-{}", self.prefix, self.next_event);
        self.next_event += 1;
        self.outbox.push_back(Webhook {
            event_id,
            collection: collection.to_owned(),
            action,
            record_id: record_id.as_str().unwrap_or_default().to_owned(),
            occurred_at,
        });
    }
}
