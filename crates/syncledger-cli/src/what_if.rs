//! `syncledger what-if --proposed FILE`: the log replayed under a proposed `[[entities]]` set,
//! as a summary and a table (or JSON). Reads the log straight from the database, streamed page
//! by page with a progress bar, with no bound on the entities; opens the store without
//! migrating it and appends nothing, so neither the log nor any connected system is touched.

use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use syncledger_core::config::Config;
use syncledger_core::log::Position;
use syncledger_core::replay::DecisionSummary;
use syncledger_core::replay::what_if::{EntityWhatIf, WhatIfReport};
use syncledger_graphql::what_if::{Scope, proposed_entities, run};
use syncledger_store::{Store, StoreOptions};

/// What the command was asked.
pub struct Args<'a> {
    pub proposed: &'a Path,
    pub tenant: Option<&'a str>,
    pub from: i64,
    pub to: Option<i64>,
    pub json: bool,
}

pub async fn what_if(config: &Config, database_url: &str, args: &Args<'_>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(args.proposed)
        .with_context(|| format!("reading {}", args.proposed.display()))?;
    // Checked before the database is opened: a bad proposal runs nothing.
    let proposed = proposed_entities(config, &text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.proposed.display()))?;
    if let Some(tenant) = args.tenant
        && config.tenant(tenant).is_none()
    {
        anyhow::bail!("no tenant {tenant:?} in the configuration");
    }
    let (from, to) = (Position(args.from), Position(args.to.unwrap_or(i64::MAX)));
    if from.0 < 0 || to < from {
        anyhow::bail!("need 0 <= --from <= --to");
    }
    let store = open_read_only(config, database_url).await?;
    let bar = progress(&store, args.tenant, to).await?;
    let scope = Scope {
        tenant: args.tenant,
        from,
        to,
        max_entities: None,
    };
    let shown = bar.clone();
    let report = run(&store, config, &proposed, &scope, move |n| {
        shown.set_position(n)
    })
    .await
    .context("replaying the log")?;
    bar.finish_and_clear();
    store.close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// The store, as `open_store` opens it (with the master key, so sealed values open) but never
/// migrated: a what-if writes nothing.
async fn open_read_only(config: &Config, url: &str) -> anyhow::Result<Store> {
    let options = StoreOptions {
        projections: syncledger_core::projections::configured(config),
        upcasters: syncledger_core::events::upcasters(),
        master_key: crate::keyfile::master_key(url, Some(config))?,
        ..Default::default()
    };
    Store::connect(url, options)
        .await
        .context("connecting to the database")
}

/// The bar over the events the what-if will read (`rebuild`'s style).
async fn progress(
    store: &Store,
    tenant: Option<&str>,
    to: Position,
) -> anyhow::Result<ProgressBar> {
    let total = store.count_events(Position::START, tenant).await?;
    let after = match to.0 {
        i64::MAX => 0,
        _ => store.count_events(to, tenant).await?,
    };
    let bar = ProgressBar::new(total.saturating_sub(after).max(0) as u64).with_message("what-if");
    bar.set_style(
        ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} events ({per_sec})")?
            .progress_chars("=> "),
    );
    Ok(bar)
}

/// The summary, then one row per changed entity.
pub fn render(report: &WhatIfReport) -> String {
    let s = &report.summary;
    let mut out = format!(
        "entities examined {}, changed {}, erased {}\n\
         decisions replayed {}, after divergence {} (not compared), without inputs {}\n\
         links formed {}, not formed {}; conflicts the other way {}\n",
        s.entities_examined,
        s.entities_changed,
        s.entities_erased,
        s.decisions_replayed,
        s.decisions_after_divergence,
        s.decisions_without_inputs,
        s.links_formed,
        s.links_not_formed,
        s.conflicts_other_way,
    );
    for (system, d) in &s.systems {
        out.push_str(&format!(
            "{system}: creates +{} -{}, updates +{} -{}, deletes +{} -{}, requests {} -> {} ({:+})\n",
            d.creates.added,
            d.creates.removed,
            d.updates.added,
            d.updates.removed,
            d.deletes.added,
            d.deletes.removed,
            d.requests_recorded,
            d.requests_proposed,
            d.request_difference(),
        ));
    }
    if report.entities.is_empty() {
        out.push_str("no decision would differ\n");
        return out;
    }
    out.push_str(&format!(
        "\n{:<36}  {:>9}  {:<34}  {:<34}  {}\n",
        "entity", "position", "recorded", "proposed", "fields"
    ));
    for entity in &report.entities {
        out.push_str(&row(entity));
    }
    out
}

fn row(entity: &EntityWhatIf) -> String {
    let decisions = |list: &[DecisionSummary]| match list.len() {
        0 => "nothing".to_string(),
        _ => list
            .iter()
            .map(|d| format!("{} {} ({})", d.kind, d.target_system, d.basis.rule()))
            .collect::<Vec<_>>()
            .join("; "),
    };
    let value = |v: &Option<serde_json::Value>| match v {
        Some(v) => v.to_string(),
        None => "-".into(),
    };
    let fields = entity
        .fields
        .iter()
        .map(|f| {
            format!(
                "{}.{}: {} -> {}",
                f.system,
                f.field,
                value(&f.recorded),
                value(&f.proposed)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let later = match entity.after_divergence.len() {
        0 => String::new(),
        n => format!(" [+{n} after divergence]"),
    };
    format!(
        "{:<36}  {:>9}  {:<34}  {:<34}  {fields}{later}\n",
        entity.entity_id,
        entity.position.0,
        decisions(&entity.recorded),
        decisions(&entity.proposed),
    )
}
