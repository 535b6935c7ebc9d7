//! Where the master key comes from (docs/privacy.md): `[server] master_key` (usually
//! `master_key_file`, or `SYNCLEDGER_SERVER__MASTER_KEY_FILE`); without it, for SQLite, the file
//! `<database>.key` beside the database, created on first start with mode 0600. PostgreSQL
//! without a configured key runs unsealed, and says so.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use syncledger_core::config::Config;
use syncledger_store::MasterKey;

/// The master key the store is opened with, if any.
pub fn master_key(url: &str, config: Option<&Config>) -> anyhow::Result<Option<MasterKey>> {
    if let Some(secret) = config
        .map(|c| &c.server.master_key)
        .filter(|s| !s.is_empty())
    {
        let key = MasterKey::from_hex(secret.expose())
            .map_err(|_| anyhow::anyhow!("server.master_key: expected 64 hex digits"))?;
        return Ok(Some(key));
    }
    let Some(path) = sqlite_key_path(url) else {
        tracing::warn!(
            "no master key configured ([server] master_key_file): values are stored unsealed \
             and cannot be erased (docs/privacy.md)"
        );
        return Ok(None);
    };
    read_or_create(&path).map(Some)
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
