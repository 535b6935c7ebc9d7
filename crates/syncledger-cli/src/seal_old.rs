//! `syncledger migrate --seal` (docs/privacy.md): the one-off step that seals the values of
//! events written before the database had a master key, then rebuilds every projection so that
//! no row keeps a copy in clear. Safe to stop and run again: sealed values are skipped.

use indicatif::{ProgressBar, ProgressStyle};
use syncledger_store::Store;

pub async fn run(store: &Store) -> anyhow::Result<()> {
    if !store.seals_values() {
        anyhow::bail!(
            "--seal needs a master key ([server] master_key_file; SQLite makes its own beside \
             the database unless seal = false)"
        );
    }
    let bar = ProgressBar::new(0).with_message("sealing old values");
    bar.set_style(
        ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} events ({per_sec})")?
            .progress_chars("=> "),
    );
    let progress = bar.clone();
    let done = store
        .seal_old_values(move |p| {
            progress.set_length(p.total);
            progress.set_position(p.scanned);
        })
        .await?;
    bar.finish();
    println!(
        "sealed {} values in {} of {} events",
        done.values_sealed, done.events_sealed, done.scanned
    );
    if done.events_sealed == 0 {
        return Ok(());
    }
    // The projections copied those values in clear: rebuilt, their rows are sealed too.
    let names = store
        .projection_status()
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    crate::rebuild(store, names, None).await
}
