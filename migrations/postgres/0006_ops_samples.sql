-- The operations page's history (issue 31): per tenant and minute, the pending queue's deepest
-- and last sampled depth, and the log's running totals of intake (observed changes) and write
-- outcomes at the minute's first and last samples (the minute's own figures are the differences
-- from the minute sampled before it, or within the minute for the first one kept). Operational state like `entity_leases`, not a projection: sampled by
-- every serving process (an upsert that keeps the deepest queue, the largest last
-- totals and the smallest first ones, so several processes agree), never
-- rebuilt, and pruned to the last 24 hours by the sampler. `minute` counts minutes since the
-- Unix epoch (UTC).
CREATE TABLE ops_samples (
    tenant              TEXT    NOT NULL,
    minute              BIGINT  NOT NULL,
    depth_max           BIGINT  NOT NULL,
    depth_last          BIGINT  NOT NULL,
    intake_total        BIGINT  NOT NULL,
    writes_ok_total     BIGINT  NOT NULL,
    writes_failed_total BIGINT  NOT NULL,
    intake_first        BIGINT  NOT NULL,
    writes_ok_first     BIGINT  NOT NULL,
    writes_failed_first BIGINT  NOT NULL,
    PRIMARY KEY (tenant, minute)
);
