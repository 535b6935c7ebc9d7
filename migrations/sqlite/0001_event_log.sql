-- The event log. `position` is the global order: AUTOINCREMENT never reuses a value, and SQLite has
-- one writer at a time, so positions are allocated in commit order.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id      BLOB    NOT NULL,
    sequence       INTEGER NOT NULL,
    event_id       BLOB    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        TEXT    NOT NULL,
    tenant         TEXT    NOT NULL,
    correlation_id BLOB,
    causation_id   BLOB,
    recorded_at    TEXT    NOT NULL,
    UNIQUE (stream_id, sequence)
);
CREATE INDEX events_tenant_position ON events (tenant, position);
CREATE INDEX events_type_position ON events (event_type, position);

-- Events are facts: nothing rewrites or removes them.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are immutable'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are immutable'); END;

-- One row per stream: the optimistic-concurrency point of appends.
CREATE TABLE streams (
    stream_id BLOB    PRIMARY KEY,
    version   INTEGER NOT NULL
) WITHOUT ROWID;

-- Where each projection is in the log, and which generation of its table is live.
CREATE TABLE projection_checkpoints (
    name          TEXT    PRIMARY KEY,
    position      INTEGER NOT NULL DEFAULT 0,
    status        TEXT    NOT NULL DEFAULT 'live',
    generation    INTEGER NOT NULL DEFAULT 0,
    rebuild_done  INTEGER NOT NULL DEFAULT 0,
    rebuild_total INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT    NOT NULL
);

-- Operational, not derived from the log: who works on an entity right now.
CREATE TABLE entity_leases (
    entity_id  BLOB PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
