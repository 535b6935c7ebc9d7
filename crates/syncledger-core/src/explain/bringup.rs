//! Lines for the bring-up events: what the initial sync found and read, and work it held.

use super::Story;
use super::words::{assignments, short};
use crate::events::SyncEvent;

/// The line of a bring-up event; `None` for every other event.
pub(super) fn line(story: &Story<'_>, event: &SyncEvent) -> Option<String> {
    Some(match event {
        SyncEvent::RecordDiscovered(e) => {
            let record = story.record(&e.system, Some(&e.record_id));
            let with = if e.fields.is_empty() {
                String::new()
            } else {
                format!(" holding {}", assignments(&e.fields))
            };
            format!(
                "the initial sync found {record}{with} (run {}); it is synced like a change",
                short(e.run_id)
            )
        }
        SyncEvent::InitialSyncStarted(e) => format!(
            "initial sync of {} records started ({}): lists {} (run {})",
            e.entity_type,
            e.by,
            e.systems.join(", then "),
            short(e.run_id)
        ),
        SyncEvent::InitialSyncPageRead(e) => {
            let next = match &e.next_cursor {
                Some(c) => format!("next page at cursor {c}"),
                None => format!("{} is listed", e.system),
            };
            let from = e
                .cursor
                .as_ref()
                .map_or("the first page".to_string(), |c| format!("the page at {c}"));
            format!(
                "read {from} of {}: {} record{}, filed for sync; {next}",
                e.system,
                e.records,
                if e.records == 1 { "" } else { "s" }
            )
        }
        SyncEvent::InitialSyncCompleted(e) => format!(
            "initial sync completed: {} records in {} pages (run {})",
            e.records,
            e.pages,
            short(e.run_id)
        ),
        SyncEvent::WorkHeld(e) => format!(
            "held this work until the initial sync has listed {}: a record there may have the \
             same match keys, and creating one now could duplicate it",
            e.target_system
        ),
        SyncEvent::WorkReleased(_) => {
            "released the held work: the initial sync has listed the system it waited for"
                .to_string()
        }
        _ => return None,
    })
}
