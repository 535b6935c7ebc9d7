//! Where the master key comes from (docs/privacy.md): `[server] master_key` (usually
//! `master_key_file`, or `SYNCLEDGER_SERVER__MASTER_KEY_FILE`); without it, for SQLite, the file
//! `<database>.key` beside the database, created on first start with mode 0600. PostgreSQL
//! has no safe place beside the database to create one, so a configuration that names a
//! PostgreSQL database without a master key is refused, unless it opts out of sealing with
//! `[server] seal = false` (values in clear, nothing erasable, said at WARN on every start).
//! A command run without a configuration file (`--database-url` only) opens PostgreSQL
//! without a key: it writes no values, and the store refuses a database that holds sealed
//! values or keyed digests without its key.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use syncledger_core::config::Config;
use syncledger_store::MasterKey;

/// The master key the store is opened with, if any.
pub fn master_key(url: &str, config: Option<&Config>) -> anyhow::Result<Option<MasterKey>> {
    let secret = config
        .map(|c| &c.server.master_key)
        .filter(|s| !s.is_empty());
    let seal = config.is_none_or(|c| c.server.seal);
    match (secret, seal) {
        (Some(_), false) => anyhow::bail!(
            "server.seal = false and a master key are both given: remove the master key to run \
             unsealed, or seal = false to seal values (docs/privacy.md)"
        ),
        (Some(secret), true) => {
            let key = MasterKey::from_hex(secret.expose())
                .map_err(|_| anyhow::anyhow!("server.master_key: expected 64 hex digits"))?;
            return Ok(Some(key));
        }
        (None, false) => {
            tracing::warn!(
                "[server] seal = false: values are stored unsealed and nothing can be erased \
                 (docs/privacy.md)"
            );
            return Ok(None);
        }
        (None, true) => {}
    }
    match (sqlite_key_path(url), config) {
        (Some(path), _) => read_or_create(&path).map(Some),
        (None, Some(_)) => anyhow::bail!(
            "a PostgreSQL database needs a master key to seal values: set [server] \
             master_key_file (a file of 64 hex digits, e.g. `openssl rand -hex 32`) or \
             SYNCLEDGER_SERVER__MASTER_KEY_FILE; or set seal = false to store values unsealed, \
             with no erasure (docs/privacy.md)"
        ),
        (None, None) => {
            tracing::warn!(
                "no configuration: the database is opened without a master key (a database \
                 holding sealed values is refused; docs/privacy.md)"
            );
            Ok(None)
        }
    }
}

/// `<database file>.key` for a `sqlite:` URL.
fn sqlite_key_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let file = rest.split('?').next().filter(|f| !f.is_empty())?;
    Some(PathBuf::from(format!("{file}.key")))
}

fn read_or_create(path: &Path) -> anyhow::Result<MasterKey> {
    let shown = path.display();
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(mut file) => {
            let key = MasterKey::generate();
            file.write_all(format!("{}\n", key.to_hex()).as_bytes())
                .and_then(|_| file.sync_all())
                .with_context(|| format!("writing the new master key {shown}"))?;
            tracing::info!(path = %shown, "created the master key: back it up apart from the database");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the master key {shown}"))?;
            MasterKey::from_hex(&text)
                .map_err(|_| anyhow::anyhow!("{shown}: expected 64 hex digits"))
        }
        Err(e) => Err(e).with_context(|| format!("creating the master key {shown}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_databases_key_lives_beside_it() {
        assert_eq!(
            sqlite_key_path("sqlite://data/s.db"),
            Some("data/s.db.key".into())
        );
        assert_eq!(
            sqlite_key_path("sqlite:s.db?mode=rwc"),
            Some("s.db.key".into())
        );
        assert_eq!(sqlite_key_path("postgres://x/y"), None);
    }

    fn config(database_url: &str, key: Option<&str>, seal: bool) -> Config {
        use syncledger_core::config::{Secret, ServerConfig};
        Config {
            server: ServerConfig {
                database_url: database_url.into(),
                master_key: key.map(Secret::new).unwrap_or_default(),
                seal,
                ..ServerConfig::default()
            },
            tenants: Vec::new(),
            entities: Vec::new(),
            retention: None,
        }
    }

    const PG: &str = "postgres://u@127.0.0.1/db";

    #[test]
    fn postgres_without_a_master_key_is_refused_unless_sealing_is_turned_off() {
        let refused = master_key(PG, Some(&config(PG, None, true)))
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("master_key_file") && refused.contains("seal = false"),
            "{refused}"
        );
        let unsealed = config(PG, None, false);
        assert!(master_key(PG, Some(&unsealed)).unwrap().is_none());
        let key = "ab".repeat(32);
        let sealed = config(PG, Some(&key), true);
        let opened = master_key(PG, Some(&sealed)).unwrap().expect("a key");
        assert_eq!(opened.to_hex(), key);
        // Both at once is a contradiction, not a guess.
        let both = config(PG, Some(&key), false);
        let both = master_key(PG, Some(&both)).unwrap_err().to_string();
        assert!(both.contains("both"), "{both}");
        // A command with no configuration at all opens it without a key (the store then
        // refuses a database that holds sealed values).
        assert!(master_key(PG, None).unwrap().is_none());
    }

    #[test]
    fn sqlite_with_sealing_turned_off_creates_no_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        assert!(
            master_key(&url, Some(&config(&url, None, false)))
                .unwrap()
                .is_none()
        );
        assert!(!dir.path().join("s.db.key").exists());
        assert!(
            master_key(&url, Some(&config(&url, None, true)))
                .unwrap()
                .is_some()
        );
        assert!(dir.path().join("s.db.key").exists());
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db.key");
        let first = read_or_create(&path).unwrap();
        let again = read_or_create(&path).unwrap();
        assert_eq!(first.to_hex(), again.to_hex());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
