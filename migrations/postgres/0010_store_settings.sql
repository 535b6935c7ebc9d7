-- Settings the store keeps about its own data (docs/privacy.md): `sort_key_digests` says whether
-- the lookup projections' digests are keyed with tenant keys (`keyed`) or plain SHA-256 (`plain`);
-- the store rebuilds those projections when it finds them in the other form.
CREATE TABLE store_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
