//! The `syncledger` command (CONTRACT §8), as a library: the binary at the repository root calls
//! [`run`], and tests can reach the wiring (`app`) directly.
#![forbid(unsafe_code)]

pub mod app;
mod archive;
mod demo;
mod erase;
mod history;
mod keyfile;
pub mod reconcile;
mod seal_old;
mod telemetry;
mod what_if;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use syncledger_core::config::Config;

#[derive(Parser)]
#[command(
    name = "syncledger",
    version,
    about = "Two-way live sync with an audit trail of every decision"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: webhooks in, workers, API.
    Serve {
        #[arg(long, default_value = "syncledger.toml")]
        config: PathBuf,
    },
    /// Two simulated systems, the seed's three races played out, then the service stays up.
    Demo {
        /// Keep serving after the races until Ctrl-C (default); `--exit` stops after them.
        #[arg(long)]
        exit: bool,
    },
    /// A record's audit trail: every event of its entity with a one-line explanation.
    History {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        system: String,
        #[arg(long)]
        record: String,
        /// The entity type, when the record was never linked and several types are configured.
        #[arg(long)]
        entity: Option<String>,
        #[arg(long)]
        json: bool,
        /// Read the entity's archived events from this archive directory.
        #[arg(long)]
        archive: Option<PathBuf>,
        #[arg(long, default_value = "syncledger.toml")]
        config: PathBuf,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Compare both systems with the mapping: missing, duplicate and differing records.
    Reconcile {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        entity: String,
        /// Link records with equal match keys, resync the rest, and work the queue until empty.
        #[arg(long)]
        repair: bool,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "syncledger.toml")]
        config: PathBuf,
    },
    /// Write the GraphQL schema (SDL) to api/schema.graphql, or to --out.
    ExportSchema {
        #[arg(long, default_value = "api/schema.graphql")]
        out: PathBuf,
    },
    /// Apply the database migrations.
    Migrate {
        #[arg(long, default_value = "syncledger.toml")]
        config: PathBuf,
        /// Database to migrate, instead of the config's.
        #[arg(long)]
        database_url: Option<String>,
        /// Then seal, in place, the values of events written before the database had a master
        /// key, and rebuild the projections (a one-off step; idempotent; docs/privacy.md).
        #[arg(long)]
        seal: bool,
    },
    /// Replay the log under a proposed `[[entities]]` set: what it would have decided differently.
    WhatIf {
        /// A TOML file of `[[entities]]` tables, checked as the configuration is at start.
        #[arg(long)]
        proposed: PathBuf,
        /// One tenant's history (default: every tenant's).
        #[arg(long)]
        tenant: Option<String>,
        /// The first position whose decisions are compared (earlier events are only folded).
        #[arg(long, default_value_t = 0)]
        from: i64,
        /// The last position compared (default: the log's head).
        #[arg(long)]
        to: Option<i64>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "syncledger.toml")]
        config: PathBuf,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Erase an entity for good (GDPR Art. 17): destroy its data keys, record who asked and why,
    /// and print the receipt (docs/privacy.md). Fails when the check found values left.
    Erase {
        #[arg(long)]
        entity: uuid::Uuid,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "syncledger.toml")]
        config: PathBuf,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Move the events before a date or position to verified segment files in DIR, then out of
    /// the live database.
    Archive {
        /// A position, a date (2026-12-01) or an RFC 3339 time.
        #[arg(long)]
        before: String,
        #[arg(long)]
        to: PathBuf,
        #[arg(long, default_value = "syncledger.toml")]
        config: PathBuf,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Rebuild a projection (or all) from position 0 into fresh tables, then swap.
    Rebuild {
        /// A projection name; omit with --all.
        name: Option<String>,
        #[arg(long)]
        all: bool,
        /// Replay this archive directory's segments first (needed once events were archived).
        #[arg(long)]
        from_archive: Option<PathBuf>,
        #[arg(long, default_value = "syncledger.toml")]
        config: PathBuf,
        #[arg(long)]
        database_url: Option<String>,
    },
}

/// Parses the command line and runs the command.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let config =
                Config::load(&config).with_context(|| format!("loading {}", config.display()))?;
            telemetry::init(config.server.log_format, "info,sqlx=warn");
            app::serve(config).await
        }
        Command::Demo { exit } => {
            // The narration is the demo's output; logs stay quiet unless RUST_LOG asks.
            telemetry::init(Default::default(), "error");
            demo::run(!exit).await
        }
        Command::History {
            tenant,
            system,
            record,
            entity,
            json,
            archive,
            config,
            database_url,
        } => {
            let (config, _, store) = opened(&config, database_url).await?;
            let types: Vec<String> = config
                .iter()
                .flat_map(|c| c.entities.iter().map(|e| e.name.clone()))
                .collect();
            let query = history::Query {
                tenant: &tenant,
                system: &system,
                record: &record,
                entity_type: entity.as_deref(),
            };
            match history::resolve(&store, &query, &types).await? {
                Some(id) => history::print(&store, id, json, archive.as_deref()).await,
                None => anyhow::bail!("no history for {tenant}/{system}/{record}"),
            }
        }
        Command::Reconcile {
            tenant,
            entity,
            repair,
            json,
            config,
        } => {
            let config =
                Config::load(&config).with_context(|| format!("loading {}", config.display()))?;
            let store = app::open_store(&config.server.database_url, Some(&config)).await?;
            let report = reconcile::run(&config, &store, &tenant, &entity, repair).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                reconcile::print_table(&report);
            }
            Ok(())
        }
        Command::ExportSchema { out } => {
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&out, syncledger_graphql::sdl())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Migrate {
            config,
            database_url,
            seal,
        } => {
            let (_, url, store) = opened(&config, database_url).await?;
            println!("migrated {} ({})", redact(&url), store.backend_name());
            if seal {
                seal_old::run(&store).await?;
            }
            Ok(())
        }
        Command::WhatIf {
            proposed,
            tenant,
            from,
            to,
            json,
            config,
            database_url,
        } => {
            let config =
                Config::load(&config).with_context(|| format!("loading {}", config.display()))?;
            let url = database_url_of(Some(&config), database_url);
            let args = what_if::Args {
                proposed: &proposed,
                tenant: tenant.as_deref(),
                from,
                to,
                json,
            };
            what_if::what_if(&config, &url, &args).await
        }
        Command::Erase {
            entity,
            reason,
            json,
            config,
            database_url,
        } => {
            let (_, _, store) = opened(&config, database_url).await?;
            erase::run(&store, entity, &reason, json).await
        }
        Command::Archive {
            before,
            to,
            config,
            database_url,
        } => {
            let before = archive::parse_before(&before)?;
            let (_, _, store) = opened(&config, database_url).await?;
            let report = archive::run(&store, before, to.clone()).await?;
            println!("{}", archive::summary(&report, &to));
            Ok(())
        }
        Command::Rebuild {
            name,
            all,
            from_archive,
            config,
            database_url,
        } => {
            let (_, _, store) = opened(&config, database_url).await?;
            let names: Vec<String> = match (name, all) {
                (Some(n), false) => vec![n],
                (None, true) => store
                    .projection_status()
                    .await?
                    .into_iter()
                    .map(|s| s.name)
                    .collect(),
                _ => anyhow::bail!("name one projection, or pass --all"),
            };
            rebuild(&store, names, from_archive.as_deref()).await
        }
    }
}

/// Rebuilds these projections one after the other, each with a progress bar; from an archive
/// directory's segments and then the live log when one is given.
pub(crate) async fn rebuild(
    store: &syncledger_store::Store,
    names: Vec<String>,
    from_archive: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    for name in names {
        let bar = ProgressBar::new(0).with_message(name.clone());
        bar.set_style(
            ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} events ({per_sec})")?
                .progress_chars("=> "),
        );
        let progress = bar.clone();
        let progress = move |p: syncledger_store::RebuildProgress| {
            progress.set_length(p.total);
            progress.set_position(p.done);
        };
        match from_archive {
            Some(dir) => store.archives().rebuild(&name, dir, progress).await,
            None => store.rebuild(&name, progress).await,
        }
        .with_context(|| format!("rebuilding {name}"))?;
        bar.finish();
    }
    Ok(())
}

/// The database URL: the flag, else the config file's (with its env overrides), else the default.
fn database_url_of(config: Option<&Config>, flag: Option<String>) -> String {
    if let Some(url) = flag {
        return url;
    }
    if let Some(config) = config {
        return config.server.database_url.clone();
    }
    std::env::var("SYNCLEDGER_SERVER__DATABASE_URL")
        .unwrap_or_else(|_| "sqlite://syncledger.db".into())
}

/// The configuration at `path`, when there is one: it shapes the projections a command
/// registers (without one, the defaults serve). One that does not load is an error.
/// What a command that reads the database opens: the configuration (if its file exists), the
/// database URL (the flag, else the configuration's), and the store on it.
async fn opened(
    config: &std::path::Path,
    database_url: Option<String>,
) -> anyhow::Result<(Option<Config>, String, syncledger_store::Store)> {
    let config = loaded(config)?;
    let url = database_url_of(config.as_ref(), database_url);
    let store = app::open_store(&url, config.as_ref()).await?;
    Ok((config, url, store))
}

fn loaded(path: &std::path::Path) -> anyhow::Result<Option<Config>> {
    if !path.exists() {
        return Ok(None);
    }
    let config = Config::load(path).with_context(|| format!("loading {}", path.display()))?;
    Ok(Some(config))
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
