-- Data keys (docs/privacy.md): one live key per entity seals its values; each key is stored
-- wrapped by the master key, which never enters the database. Destroying a key (erasure) sets
-- `wrapped` to NULL: every value sealed under it reads as erased from then on. A retired key
-- (rotation) still opens what it sealed, and seals nothing new.
CREATE TABLE data_keys (
    key_id       BLOB PRIMARY KEY,
    entity_id    BLOB NOT NULL,
    tenant       TEXT NOT NULL,
    wrapped      BLOB,
    created_at   TEXT NOT NULL,
    retired_at   TEXT,
    destroyed_at TEXT
) WITHOUT ROWID;
CREATE INDEX data_keys_entity ON data_keys (entity_id);
CREATE UNIQUE INDEX data_keys_live ON data_keys (entity_id)
    WHERE retired_at IS NULL AND destroyed_at IS NULL;

-- A key per tenant for keyed digests (`syncledger_core::privacy::keyed_digest`), wrapped the same way.
CREATE TABLE tenant_keys (
    tenant     TEXT PRIMARY KEY,
    key_id     BLOB NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
