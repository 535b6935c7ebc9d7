-- How many rows each tenant has in a counted projection's table (`Lookups::counted`), so the
-- queue depth and the open dead letters are read from one row instead of counted. `key` is the
-- table's generation name, `<projection>_g<generation>` (the name its indexes carry), so a
-- rebuild's shadow table is counted apart from the live one until it is swapped in.
--
-- The rows are kept by triggers the store installs on each counted table (row triggers on
-- SQLite), inside the transaction that writes the table: they are exact, never an estimate.
CREATE TABLE projection_counts (
    key    TEXT    NOT NULL,
    tenant TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (key, tenant)
) WITHOUT ROWID;
