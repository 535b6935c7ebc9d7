-- The event log. `position` comes from an identity sequence, but appends take a transaction-scoped
-- advisory lock before drawing from it, so positions are handed out in commit order (see docs/log.md).
CREATE TABLE events (
    position       BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id      UUID        NOT NULL,
    sequence       BIGINT      NOT NULL,
    event_id       UUID        NOT NULL UNIQUE,
    event_type     TEXT        NOT NULL,
    schema_version INTEGER     NOT NULL,
    payload        JSONB       NOT NULL,
    tenant         TEXT        NOT NULL,
    correlation_id UUID,
    causation_id   UUID,
    recorded_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (stream_id, sequence)
);
CREATE INDEX events_tenant_position ON events (tenant, position);
CREATE INDEX events_type_position ON events (event_type, position);

-- Events are facts: nothing rewrites or removes them.
CREATE FUNCTION events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable';
END;
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_immutable();

-- One row per stream: the optimistic-concurrency point of appends (row-locked by each append).
CREATE TABLE streams (
    stream_id UUID   PRIMARY KEY,
    version   BIGINT NOT NULL
);

-- Where each projection is in the log, and which generation of its table is live.
CREATE TABLE projection_checkpoints (
    name          TEXT        PRIMARY KEY,
    position      BIGINT      NOT NULL DEFAULT 0,
    status        TEXT        NOT NULL DEFAULT 'live',
    generation    BIGINT      NOT NULL DEFAULT 0,
    rebuild_done  BIGINT      NOT NULL DEFAULT 0,
    rebuild_total BIGINT      NOT NULL DEFAULT 0,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Operational, not derived from the log: who works on an entity right now.
CREATE TABLE entity_leases (
    entity_id  UUID        PRIMARY KEY,
    owner      TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
