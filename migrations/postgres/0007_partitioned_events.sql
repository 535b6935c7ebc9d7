-- The event log partitioned by position range, so that archiving takes out whole partitions
-- (DETACH and DROP) instead of deleting rows (docs/log.md, "Archiving"). An existing database is
-- upgraded in place: its `events` table becomes the first partition, covering every position
-- drawn so far; no row is copied.
--
-- What changes for appends:
-- - `position` is drawn from the sequence `event_position_seq` (it takes over where the old
--   identity column stopped), still under the log-order advisory lock, so commit order is
--   position order as before.
-- - A partitioned table cannot hold a UNIQUE constraint without its partition key, so
--   `UNIQUE (event_id)` and `UNIQUE (stream_id, sequence)` are kept by the appends instead:
--   a stream's sequences come from its `streams` row, bumped under that row's lock (as they
--   always were; the constraint was a backstop), and event ids are checked by
--   `syncledger_refuse_stored_ids` while the log-order lock is held, which every insert takes:
--   no other insert can run between the check and the insert. A stored id raises SQLSTATE
--   23505, the error the unique constraint gave, so the store's idempotency path is unchanged.
-- - `events_type_position` is dropped (one index fewer per event): only type-filtered reads of
--   the whole log used it, and they walk the position index instead (docs/log.md).

LOCK TABLE events IN ACCESS EXCLUSIVE MODE;

-- Partitions the store created, with their bounds ([from, to)); archiving reads and removes rows.
CREATE TABLE event_partitions (
    name          TEXT   PRIMARY KEY,
    from_position BIGINT NOT NULL,
    to_position   BIGINT NOT NULL
);

-- How many positions a new partition covers (`Store::set_partition_width` changes it).
CREATE TABLE log_settings (
    key   TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO log_settings (key, value) VALUES ('partition_width', 1048576);

CREATE SEQUENCE event_position_seq AS BIGINT;

DO $$
DECLARE
    old_seq TEXT := pg_get_serial_sequence('events', 'position');
    last BIGINT;
    top BIGINT;
    next BIGINT;
BEGIN
    EXECUTE format('SELECT CASE WHEN is_called THEN last_value END FROM %s', old_seq) INTO last;
    SELECT max(position) INTO top FROM events;
    next := greatest(coalesce(last, 0), coalesce(top, 0)) + 1;
    PERFORM setval('event_position_seq', next, false);

    ALTER TABLE events ALTER COLUMN position DROP IDENTITY;
    DROP TRIGGER events_no_update ON events;
    DROP TRIGGER events_no_truncate ON events;
    ALTER TABLE events RENAME TO events_p0;
    ALTER INDEX events_pkey RENAME TO events_p0_pkey;
    ALTER INDEX events_tenant_position RENAME TO events_p0_tenant_position;
    DROP INDEX events_type_position;

    CREATE TABLE events (
        position       BIGINT      NOT NULL DEFAULT nextval('event_position_seq'),
        stream_id      UUID        NOT NULL,
        sequence       BIGINT      NOT NULL,
        event_id       UUID        NOT NULL,
        event_type     TEXT        NOT NULL,
        schema_version INTEGER     NOT NULL,
        payload        JSONB       NOT NULL,
        tenant         TEXT        NOT NULL,
        correlation_id UUID,
        causation_id   UUID,
        recorded_at    TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (position)
    ) PARTITION BY RANGE (position);
    ALTER SEQUENCE event_position_seq OWNED BY events.position;
    CREATE INDEX events_stream_sequence ON events (stream_id, sequence);
    CREATE INDEX events_event_id ON events (event_id);
    CREATE INDEX events_tenant_position ON events (tenant, position);

    -- The check lets ATTACH skip its own validation scan (this one reads the table once).
    EXECUTE format('ALTER TABLE events_p0 ADD CONSTRAINT events_p0_bound CHECK (position < %s)', next);
    EXECUTE format('ALTER TABLE events ATTACH PARTITION events_p0 FOR VALUES FROM (MINVALUE) TO (%s)', next);
    ALTER TABLE events_p0 DROP CONSTRAINT events_p0_bound;
    -- Their work is done by the appends now (see above); the new non-unique indexes replace them.
    ALTER TABLE events_p0 DROP CONSTRAINT events_event_id_key;
    ALTER TABLE events_p0 DROP CONSTRAINT events_stream_id_sequence_key;
    INSERT INTO event_partitions (name, from_position, to_position) VALUES ('events_p0', 0, next);
END;
$$;

-- Events are facts: nothing rewrites or removes them. Archiving takes out whole partitions
-- (DETACH PARTITION, then DROP TABLE: DDL, not row changes) after their events are safely in
-- verified segments; no trigger here lets a row be updated or deleted.
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_immutable();

-- Creates partitions of `log_settings.partition_width` positions each until the partitions
-- reach `p_ahead` positions past the next position to be drawn. Returns how many it created.
-- A new partition is created apart and attached (ATTACH takes SHARE UPDATE EXCLUSIVE on
-- `events`, which appends and reads do not wait for; an empty table has nothing to validate).
CREATE FUNCTION syncledger_ensure_partitions(p_ahead BIGINT) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    width BIGINT;
    upper BIGINT;
    target BIGINT;
    made INTEGER := 0;
    part TEXT;
BEGIN
    -- One creator at a time (ASCII "slpartit").
    PERFORM pg_advisory_xact_lock(8317146202466133364);
    SELECT value INTO width FROM log_settings WHERE key = 'partition_width';
    SELECT max(to_position) INTO upper FROM event_partitions;
    SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END INTO target
      FROM event_position_seq;
    target := target + p_ahead;
    WHILE upper <= target LOOP
        part := 'events_p' || upper;
        EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS)', part);
        EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                       part, upper, upper + width);
        INSERT INTO event_partitions (name, from_position, to_position)
        VALUES (part, upper, upper + width);
        upper := upper + width;
        made := made + 1;
    END LOOP;
    RETURN made;
END;
$$;

-- Called by every append while it holds the log-order lock, right before its insert: refuses
-- event ids that are already stored with the unique violation (23505) the old constraint
-- raised. VOLATILE, so its query sees what committed before the lock was granted, not only
-- what the calling statement's snapshot saw.
CREATE FUNCTION syncledger_refuse_stored_ids(p_ids UUID[]) RETURNS INTEGER
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    found UUID;
BEGIN
    SELECT e.event_id INTO found FROM events e WHERE e.event_id = ANY (p_ids) LIMIT 1;
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'event % is already stored', found USING ERRCODE = 'unique_violation';
    END IF;
    RETURN 0;
END;
$$;

-- The group append takes the same check: the function of migration 0004 with the check added
-- after the lock (the rest is unchanged).
CREATE OR REPLACE FUNCTION syncledger_append(
    p_job INTEGER[],
    p_stream UUID[],
    p_expected BIGINT[],
    p_events INTEGER[],
    e_part INTEGER[],
    e_nth INTEGER[],
    e_id UUID[],
    e_type TEXT[],
    e_version INTEGER[],
    e_payload JSONB[],
    e_tenant TEXT[],
    e_correlation UUID[],
    e_causation UUID[],
    a_recorded_at TIMESTAMPTZ,
    OUT o_job INTEGER,
    OUT o_stream UUID,
    OUT o_actual BIGINT,
    OUT o_event UUID,
    OUT o_sequence BIGINT,
    OUT o_position BIGINT
) RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    n INTEGER := cardinality(p_stream);
    ids UUID[];
    vers BIGINT[];
    init BIGINT[];
    base BIGINT[] := array_fill(NULL::BIGINT, ARRAY[cardinality(p_stream)]);
    touched UUID[] := '{}';
    p INTEGER := 1;
    q INTEGER;
    i INTEGER;
    v BIGINT;
    e BIGINT;
    rejected BOOLEAN;
    moved BIGINT;
BEGIN
    SELECT coalesce(array_agg(l.stream_id), '{}'), coalesce(array_agg(l.version), '{}')
      INTO ids, vers
      FROM (SELECT s.stream_id, s.version FROM streams s WHERE s.stream_id = ANY (p_stream)
             ORDER BY s.stream_id FOR UPDATE) l;
    init := vers;

    -- The parts of one append are consecutive.
    WHILE p <= n LOOP
        q := p;
        rejected := false;
        WHILE q <= n AND p_job[q] = p_job[p] LOOP
            v := coalesce(vers[array_position(ids, p_stream[q])], 0);
            e := p_expected[q];
            IF NOT (e = -1 OR (e = -2 AND v = 0) OR (e = -3 AND v > 0) OR e = v) THEN
                rejected := true;
                o_job := p_job[q];
                o_stream := p_stream[q];
                o_actual := v;
                RETURN NEXT;
            END IF;
            q := q + 1;
        END LOOP;
        IF NOT rejected THEN
            FOR k IN p .. q - 1 LOOP
                i := array_position(ids, p_stream[k]);
                IF i IS NULL THEN
                    ids := ids || p_stream[k];
                    vers := vers || 0::BIGINT;
                    i := cardinality(ids);
                END IF;
                base[k] := vers[i];
                vers[i] := vers[i] + p_events[k];
                touched := touched || p_stream[k];
            END LOOP;
        END IF;
        p := q;
    END LOOP;
    IF cardinality(touched) = 0 THEN
        RETURN;
    END IF;

    -- New versions: what each stream had (0 for a new one) plus what was accepted for it.
    WITH t AS (
        SELECT DISTINCT u.sid, array_position(ids, u.sid) AS ix FROM unnest(touched) AS u (sid)
    ), up AS (
        INSERT INTO streams AS s (stream_id, version)
        SELECT t.sid, vers[t.ix] - coalesce(init[t.ix], 0) FROM t ORDER BY t.sid
        ON CONFLICT (stream_id) DO UPDATE SET version = s.version + excluded.version
        RETURNING s.stream_id, s.version
    )
    SELECT count(*) INTO moved FROM up WHERE up.version <> vers[array_position(ids, up.stream_id)];
    IF moved > 0 THEN
        RAISE EXCEPTION 'a stream of this append was created concurrently' USING ERRCODE = 'SLR01';
    END IF;

    PERFORM pg_advisory_xact_lock(8320803159843103847), pg_notify('syncledger_events', '');
    PERFORM syncledger_refuse_stored_ids(ARRAY(
        SELECT x.id FROM unnest(e_part, e_id) AS x (part, id) WHERE base[x.part] IS NOT NULL));
    RETURN QUERY
    WITH ins AS (
        INSERT INTO events (stream_id, sequence, event_id, event_type, schema_version, payload,
                            tenant, correlation_id, causation_id, recorded_at)
        SELECT p_stream[x.part], base[x.part] + x.nth, x.id, x.typ, x.ver, x.body, x.ten, x.cor,
               x.cau, a_recorded_at
          FROM unnest(e_part, e_nth, e_id, e_type, e_version, e_payload, e_tenant, e_correlation,
                      e_causation) WITH ORDINALITY
               AS x (part, nth, id, typ, ver, body, ten, cor, cau, ord)
         WHERE base[x.part] IS NOT NULL
         ORDER BY x.ord
        RETURNING events.stream_id, events.event_id, events.sequence, events.position
    )
    SELECT NULL::INTEGER, ins.stream_id, NULL::BIGINT, ins.event_id, ins.sequence, ins.position
      FROM ins;
END;
$$;

-- Archiving (docs/log.md, "Archiving"): what went to which segment, and where each stream's
-- archived part ends.

-- One row per segment file written, verified and recorded. `to_position` is inclusive.
CREATE TABLE archived_segments (
    segment       BIGINT      PRIMARY KEY,
    file          TEXT        NOT NULL,
    from_position BIGINT      NOT NULL,
    to_position   BIGINT      NOT NULL,
    events        BIGINT      NOT NULL,
    sha256        TEXT        NOT NULL,
    archived_at   TIMESTAMPTZ NOT NULL
);

-- Per stream whose first events were archived: how many (sequences 1..version), the newest
-- segment holding them, when, and the stream's folded state at `version` (the snapshot live
-- work starts from; NULL when no snapshotter knew the stream).
CREATE TABLE stream_archives (
    stream_id   UUID        PRIMARY KEY,
    version     BIGINT      NOT NULL,
    segment     BIGINT      NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL,
    state       JSONB
);
