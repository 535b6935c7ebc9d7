-- Appends no longer NOTIFY inside their own transaction (docs/log.md, "Wake-ups across
-- processes"). PostgreSQL serialises the commits of notifying transactions (NOTIFY takes a
-- database-wide lock from pre-commit through commit), so a NOTIFY in every append made
-- concurrent appenders commit one at a time. The store now sends one coalesced NOTIFY from a
-- connection of its own after its appends commit. Readers only ever take a wake-up as "read
-- again"; a NOTIFY lost in a crash between the commit and it costs a poll interval, never an
-- event.
--
-- The group append of migration 0007 without `pg_notify` (the rest is unchanged). The single
-- append statement (`postgres_append.rs`) drops it in the same release.
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

    PERFORM pg_advisory_xact_lock(8320803159843103847);
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
