-- Archive snapshots packed (compressed, then sealed) are stored as bytes, not as base64 text in
-- `state`: a quarter of each snapshot row. `state` keeps snapshots written before, unsealed ones
-- (no master key) and the value-free part an erasure leaves.
ALTER TABLE stream_archives ADD COLUMN packed BYTEA;
