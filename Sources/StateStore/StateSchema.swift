import SQLiteKit

/// The schema of `<home>/data/state.sqlite`.
///
/// `runs` holds each run's current head and lease; the documents themselves live
/// once each in `run_versions` (the head is the row at `runs.version`), so a save
/// writes its document once. Times are milliseconds since 1970.
enum StateSchema {
    static let migrations = [
        Migration(1, """
            CREATE TABLE runs (
                seq              INTEGER PRIMARY KEY,
                run_id           TEXT NOT NULL UNIQUE,
                session_id       TEXT,
                version          INTEGER NOT NULL CHECK (version >= 1),
                status           TEXT NOT NULL CHECK (status IN ('running', 'awaiting_approval', 'completed', 'failed', 'cancelled')),
                created_at       INTEGER NOT NULL,
                updated_at       INTEGER NOT NULL,
                finished_at      INTEGER,
                lease_owner      TEXT,
                lease_expires_at INTEGER,
                CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
            );
            CREATE INDEX runs_by_status ON runs (status, seq);
            CREATE INDEX runs_by_session ON runs (session_id, seq);
            CREATE INDEX runs_by_finish ON runs (finished_at) WHERE finished_at IS NOT NULL;
            CREATE TABLE run_versions (
                run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
                version  INTEGER NOT NULL,
                status   TEXT NOT NULL,
                data     TEXT NOT NULL,
                saved_at INTEGER NOT NULL,
                saved_by TEXT,
                owner    TEXT,
                PRIMARY KEY (run_id, version)
            ) WITHOUT ROWID;
            CREATE TABLE session_messages (
                session_id  TEXT NOT NULL,
                seq         INTEGER NOT NULL,
                message     TEXT NOT NULL,
                appended_at INTEGER NOT NULL,
                PRIMARY KEY (session_id, seq)
            ) WITHOUT ROWID;
            CREATE TABLE cursors (
                name       TEXT PRIMARY KEY,
                value      INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            """),
        // A run's events (run_started … run_completed) as data: appended with the save
        // that makes them true, numbered per run without gaps, read and followed by
        // anyone (agent.watch_run, the gateway's event ids).
        Migration(2, """
            ALTER TABLE runs ADD COLUMN last_event_seq INTEGER NOT NULL DEFAULT 0;
            CREATE TABLE run_events (
                run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
                seq    INTEGER NOT NULL CHECK (seq >= 1),
                event  TEXT NOT NULL,
                at     INTEGER NOT NULL,
                PRIMARY KEY (run_id, seq)
            ) WITHOUT ROWID;
            """),
    ]
}
