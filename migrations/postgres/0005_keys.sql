-- Data keys (docs/privacy.md): one live key per entity seals its values; each key is stored
-- wrapped by the master key, which never enters the database. Destroying a key (erasure) sets
-- `wrapped` to NULL: every value sealed under it reads as erased from then on. A retired key
-- (rotation) still opens what it sealed, and seals nothing new.
CREATE TABLE data_keys (
    key_id       UUID        PRIMARY KEY,
    entity_id    UUID        NOT NULL,
    tenant       TEXT        NOT NULL,
    wrapped      BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    retired_at   TIMESTAMPTZ,
    destroyed_at TIMESTAMPTZ
);
CREATE INDEX data_keys_entity ON data_keys (entity_id);
CREATE UNIQUE INDEX data_keys_live ON data_keys (entity_id)
    WHERE retired_at IS NULL AND destroyed_at IS NULL;

-- A key per tenant for keyed digests (`syncledger_core::privacy::keyed_digest`), wrapped the same way.
CREATE TABLE tenant_keys (
    tenant     TEXT        PRIMARY KEY,
    key_id     UUID        NOT NULL,
    wrapped    BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
