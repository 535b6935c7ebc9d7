-- Archiving (docs/log.md, "Archiving"): what went to which segment, and where each stream's
-- archived part ends.

-- One row per segment file written, verified and recorded. `to_position` is inclusive.
CREATE TABLE archived_segments (
    segment       INTEGER PRIMARY KEY,
    file          TEXT    NOT NULL,
    from_position INTEGER NOT NULL,
    to_position   INTEGER NOT NULL,
    events        INTEGER NOT NULL,
    sha256        TEXT    NOT NULL,
    archived_at   TEXT    NOT NULL
);

-- Per stream whose first events were archived: how many (sequences 1..version), the newest
-- segment holding them, when, and the stream's folded state at `version` (the snapshot live
-- work starts from; NULL when no snapshotter knew the stream).
CREATE TABLE stream_archives (
    stream_id   BLOB    PRIMARY KEY,
    version     INTEGER NOT NULL,
    segment     INTEGER NOT NULL,
    archived_at TEXT    NOT NULL,
    state       TEXT
) WITHOUT ROWID;

-- Events are facts: nothing rewrites them, and nothing removes one that is not archived. The
-- only rows a DELETE may take are those at or below the last position a recorded (verified)
-- segment holds: the archive's own removal, after the segment was written and read back.
DROP TRIGGER events_no_delete;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
WHEN old.position > coalesce((SELECT max(to_position) FROM archived_segments), 0)
BEGIN SELECT RAISE(ABORT, 'events are immutable'); END;
