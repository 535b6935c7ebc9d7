//! `syncledger history`: one record's audit trail in the terminal, as a table or JSON.

use serde_json::json;
use syncledger_core::events::entity_id_for_record;
use syncledger_core::explain::explain_stream;
use syncledger_core::projections::id_mappings;
use syncledger_store::Store;
use uuid::Uuid;

/// Which record's history to show.
pub struct Query<'a> {
    pub tenant: &'a str,
    pub system: &'a str,
    pub record: &'a str,
    /// Needed only for a record no entity links (its entity id derives from the type).
    pub entity_type: Option<&'a str>,
}

/// The entity the record belongs to: its mapping, else the stream its first webhook opened.
pub async fn resolve(
    store: &Store,
    q: &Query<'_>,
    entity_types: &[String],
) -> anyhow::Result<Option<Uuid>> {
    if let Some(row) = store
        .row(
            id_mappings::NAME,
            &id_mappings::key(q.tenant, q.system, q.record),
        )
        .await?
    {
        return Ok(row.entity_id);
    }
    let candidates: Vec<&str> = match q.entity_type {
        Some(t) => vec![t],
        None => entity_types.iter().map(String::as_str).collect(),
    };
    for entity_type in candidates {
        let id = entity_id_for_record(q.tenant, entity_type, q.system, q.record);
        if store.stream_version(id).await? > 0 {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Prints the entity's events in sequence order with their explanations. When its first events
/// were archived, says where they went, or reads them from `archive` (the archive directory).
pub async fn print(
    store: &Store,
    entity_id: Uuid,
    as_json: bool,
    archive: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let archived = store.archives().stream(entity_id).await?;
    let from = archived.as_ref().map_or(1, |a| a.version + 1);
    let live = store.read_stream(entity_id, from, i64::MAX).await?;
    let snapshot = archived.as_ref().and_then(|a| a.state.as_ref());
    let state = syncledger_core::snapshot::resume_entity(entity_id, snapshot, &live);
    let (mut events, note) = match (&archived, archive) {
        (Some(_), Some(dir)) => {
            let mut events = store.archives().read_stream(dir, entity_id).await?;
            events.extend(live);
            (events, None)
        }
        (Some(a), None) => (live, Some(a)),
        (None, _) => (live, None),
    };
    // An erased entity's values read as erased (docs/privacy.md), archived ones too.
    syncledger_core::privacy::show_erased(&mut events);
    let entity_type = state.entity_type.clone().unwrap_or_default();
    let lines = explain_stream(&entity_type, &events);
    if as_json {
        let rows: Vec<_> = events
            .iter()
            .zip(&lines)
            .map(|(e, line)| {
                json!({
                    "position": e.position, "sequence": e.sequence, "type": e.event_type,
                    "recorded_at": e.recorded_at, "event_id": e.event_id,
                    "causation_id": e.meta.causation_id, "correlation_id": e.meta.correlation_id,
                    "explanation": line, "payload": e.payload,
                })
            })
            .collect();
        let links: serde_json::Map<String, serde_json::Value> = state
            .links
            .iter()
            .map(|(s, l)| (s.clone(), json!(l.record_id)))
            .collect();
        let archived = note.map(|a| {
            json!({"events": a.version, "segment": a.segment, "archived_at": a.archived_at,
                   "note": a.note()})
        });
        let doc = json!({"entity_id": entity_id, "entity_type": entity_type, "links": links,
                         "archived": archived, "events": rows});
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let links: Vec<String> = state
        .links
        .iter()
        .map(|(s, l)| format!("{s} {}", l.record_id))
        .collect();
    println!(
        "entity {entity_id} ({entity_type}), linked to: {}",
        links.join(", ")
    );
    if let Some(a) = note {
        println!("{} (read them with --archive DIR)", a.note());
    }
    println!(
        "{:>8} {:>4}  {:<23}  {:<17}  explanation",
        "position", "seq", "recorded at (UTC)", "type"
    );
    for (e, line) in events.iter().zip(&lines) {
        println!(
            "{:>8} {:>4}  {:<23}  {:<17}  {}",
            e.position.0,
            e.sequence,
            e.recorded_at.format("%Y-%m-%d %H:%M:%S%.3f"),
            e.event_type,
            line
        );
    }
    Ok(())
}
