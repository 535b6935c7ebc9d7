-- How many rows each tenant has in a counted projection's table (`Lookups::counted`), so the
-- queue depth and the open dead letters are read from one row instead of counted. `key` is the
-- table's generation name, `<projection>_g<generation>` (the name its indexes carry), so a
-- rebuild's shadow table is counted apart from the live one until it is swapped in.
--
-- The rows are kept by statement-level triggers the store installs on each counted table, inside
-- the transaction that writes the table: they are exact, never an estimate.
CREATE TABLE projection_counts (
    key    TEXT   NOT NULL,
    tenant TEXT   NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (key, tenant)
);

-- The counting trigger's function; TG_ARGV[0] is the counter key. Its triggers name their
-- transition tables `new_rows` and `old_rows`. A statement costs one upsert per tenant it
-- touched, not one per row, and the count rows are taken in tenant order so two writers can
-- never lock them in opposite orders (writers of one table are serialised anyway: by the
-- log-order lock for inline projections, by the checkpoint row lock for catch-up ones).
CREATE FUNCTION projection_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO projection_counts AS c (key, tenant, n)
        SELECT TG_ARGV[0], tenant, COUNT(*) FROM new_rows GROUP BY tenant ORDER BY tenant
        ON CONFLICT (key, tenant) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO projection_counts AS c (key, tenant, n)
        SELECT TG_ARGV[0], tenant, -COUNT(*) FROM old_rows GROUP BY tenant ORDER BY tenant
        ON CONFLICT (key, tenant) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Only a row whose tenant changed moves a count.
        INSERT INTO projection_counts AS c (key, tenant, n)
        SELECT TG_ARGV[0], tenant, SUM(d) FROM (
            SELECT tenant, 1 AS d FROM new_rows
            UNION ALL
            SELECT tenant, -1 AS d FROM old_rows
        ) moved GROUP BY tenant HAVING SUM(d) <> 0 ORDER BY tenant
        ON CONFLICT (key, tenant) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END;
$$;
