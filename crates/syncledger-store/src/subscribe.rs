//! Subscriptions: an endless stream of the log's events after a position, woken by appends.
//!
//! A subscription never trusts a wake-up's content: a wake-up (in-process signal after a local
//! commit, PostgreSQL NOTIFY from another process, or the poll timer as a fallback) only makes it
//! read the log again from its cursor. So lost, late or duplicated wake-ups cost latency at worst,
//! never an event. With a filter, the cursor still advances over non-matching events, up to a
//! head read before the page (see `read_page`), so a quiet filter does not rescan the log.

use std::collections::VecDeque;

use futures::Stream;
use syncledger_core::log::{LogFilter, Position, RecordedEvent};
use tokio::sync::watch;

use crate::{Store, StoreError};

/// Events fetched per read while catching up.
const PAGE: i64 = 500;

struct Cursor {
    store: Store,
    after: Position,
    filter: LogFilter,
    appended: watch::Receiver<u64>,
    buffer: VecDeque<RecordedEvent>,
    listening: bool,
    /// The last read failed: wait a poll interval before the next.
    backoff: bool,
}

impl Store {
    /// Every event after `after` matching `filter`, then new ones as they are appended, in
    /// position order, forever. A read error is yielded and the stream keeps going (retrying
    /// after the poll interval); drop the stream to stop.
    pub fn subscribe(
        &self,
        after: Position,
        filter: LogFilter,
    ) -> impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static {
        let cursor = Cursor {
            store: self.clone(),
            after,
            filter,
            // Taken now, so an append committed after this call wakes the stream.
            appended: self.watch_appends(),
            buffer: VecDeque::new(),
            listening: false,
            backoff: false,
        };
        futures::stream::unfold(cursor, |mut c| async move {
            loop {
                if let Some(event) = c.buffer.pop_front() {
                    return Some((Ok(event), c));
                }
                if c.backoff {
                    tokio::time::sleep(c.store.poll_interval()).await;
                    c.backoff = false;
                }
                if !c.listening {
                    // Before the first read: anything committed after LISTEN is active gets a
                    // wake-up, anything before is found by that read.
                    if let Err(err) = c.store.ensure_wakeups().await {
                        c.backoff = true;
                        return Some((Err(err), c));
                    }
                    c.listening = true;
                }
                c.appended.borrow_and_update();
                match c.store.read_page(c.after, &c.filter, PAGE).await {
                    Ok((events, cursor)) => {
                        c.after = cursor;
                        if events.is_empty() {
                            let poll = c.store.poll_interval();
                            let woken = async {
                                tokio::select! {
                                    _ = c.appended.changed() => {}
                                    _ = tokio::time::sleep(poll) => {}
                                }
                            };
                            c.store.parked(woken).await;
                        }
                        c.buffer.extend(events);
                    }
                    Err(err) => {
                        c.backoff = true;
                        return Some((Err(err), c));
                    }
                }
            }
        })
    }
}
