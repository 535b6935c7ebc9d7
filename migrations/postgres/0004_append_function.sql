-- An append in one statement: the store calls `syncledger_append` once per append, or once per
-- group of appends (group commit), on its own in autocommit mode when no inline projection has
-- to write in the same transaction. The guarantees are those of docs/log.md, kept by the server:
--
-- 1. The group's existing `streams` rows are row-locked in stream-id order (two groups never lock
--    in opposite orders), and each append's expectations are checked, in joining order, against
--    the versions read under those locks and moved by the appends accepted before it. A rejected
--    append writes nothing; the function returns a row per failing part (`o_event` NULL) with
--    the stream's actual version.
-- 2. The accepted appends' streams get their new versions. A stream another transaction created
--    after the read shows here as a version that does not add up: SQLSTATE SLR01, the statement
--    rolls back and the store tries again (the row then exists and is locked by the read).
-- 3. Only then is the log-order lock taken (`pg_advisory_xact_lock`, the constant is ASCII
--    "syncledg", the same the store uses elsewhere), so waiting for a busy stream never holds up
--    appends to other streams. It is held until the commit is visible: positions are drawn by
--    one transaction at a time, in commit order. NOTIFY is queued for delivery at commit.
-- 4. The events go in, in the order given (joining order, then part, then event), and the
--    function returns one row per event: stream, event id, sequence, position.
--
-- A duplicate event id fails with the unique violation (23505), as a plain INSERT would; the
-- store then looks the ids up (idempotent retries). Expectations are encoded as: n >= 0 exactly
-- version n, -1 any, -2 no stream, -3 the stream exists.
CREATE FUNCTION syncledger_append(
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

-- A single append is one plain statement (a data-modifying CTE, see the store's
-- `postgres_append.rs`) that bumps its streams' versions and checks its expectations against
-- them; a failed expectation calls this, which aborts the statement (nothing of it stays) and
-- tells the store the stream and its version before the append (`DETAIL`: "<stream> <version>").
CREATE FUNCTION syncledger_conflict(a_stream UUID, a_actual BIGINT) RETURNS INTEGER
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'stream % is at version %', a_stream, a_actual
        USING ERRCODE = 'SLC01', DETAIL = a_stream::TEXT || ' ' || a_actual::TEXT;
END;
$$;
