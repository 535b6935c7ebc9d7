//! The subscription root: events as they are appended.
//!
//! A subscription starts at the log's head when it is made (or after the position a client
//! resuming gives) and follows the store's subscription,
//! which never skips a committed event (contract §4). A tenant caller is scoped to its tenant; a
//! tenant caller asking for another tenant gets a stream that never yields, as for a tenant with
//! no events. Read errors are logged and the store's stream retries by itself.

use crate::ApiContext;
use async_graphql::{Context, Subscription};
use futures::StreamExt;
use futures::stream::BoxStream;
use syncledger_core::log::{LogFilter, Position};

use crate::auth::caller;
use crate::error::{ApiError, FieldResult};
use crate::types::Event;

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Every event appended from now on (or after `afterPosition`, to resume without a gap), of
    /// `tenant` (all visible tenants without one) and of `types` (every type without them).
    async fn event_appended(
        &self,
        ctx: &Context<'_>,
        tenant: Option<String>,
        types: Option<Vec<String>>,
        after_position: Option<i64>,
    ) -> FieldResult<BoxStream<'static, Event>> {
        let scope = caller(ctx)?.scope(tenant);
        let store = ctx.data_unchecked::<ApiContext>().store().clone();
        let head = match after_position {
            Some(p) if p < 0 => {
                return Err(ApiError::bad_input("afterPosition must not be negative").into());
            }
            Some(p) => Position(p),
            None => store.head().await?,
        };
        let events = match scope {
            Some(tenant) => {
                let filter = LogFilter {
                    tenant,
                    types: types.unwrap_or_default(),
                    ..LogFilter::default()
                };
                store.subscribe(head, filter).boxed()
            }
            None => futures::stream::pending().boxed(),
        };
        let events = events.filter_map(|item| async move {
            match item {
                Ok(event) => Some(Event::alone(event)),
                Err(err) => {
                    tracing::warn!(error = %err, "subscription read failed; retrying");
                    None
                }
            }
        });
        Ok(events.boxed())
    }
}
