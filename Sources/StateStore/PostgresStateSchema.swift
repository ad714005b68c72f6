import PostgresSupport

/// The schema of the state service on PostgreSQL: the same tables, columns and
/// checks as ``StateSchema`` on SQLite (times are milliseconds since 1970), in
/// PostgreSQL's words. Each version here matches the SQLite version of that number.
enum PostgresStateSchema {
    /// The channel on which a committed change names its run, for every replica's watchers.
    static let changes = "hitl_state_changes"

    static let migrations = [
        PostgresMigration(1, [
            """
            CREATE TABLE runs (
                seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                run_id           TEXT NOT NULL UNIQUE,
                session_id       TEXT,
                version          BIGINT NOT NULL CHECK (version >= 1),
                status           TEXT NOT NULL CHECK (status IN ('running', 'awaiting_approval', 'completed', 'failed', 'cancelled')),
                created_at       BIGINT NOT NULL,
                updated_at       BIGINT NOT NULL,
                finished_at      BIGINT,
                lease_owner      TEXT,
                lease_expires_at BIGINT,
                CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
            )
            """,
            "CREATE INDEX runs_by_status ON runs (status, seq)",
            "CREATE INDEX runs_by_session ON runs (session_id, seq)",
            "CREATE INDEX runs_by_finish ON runs (finished_at) WHERE finished_at IS NOT NULL",
            """
            CREATE TABLE run_versions (
                run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
                version  BIGINT NOT NULL,
                status   TEXT NOT NULL,
                data     TEXT NOT NULL,
                saved_at BIGINT NOT NULL,
                saved_by TEXT,
                owner    TEXT,
                PRIMARY KEY (run_id, version)
            )
            """,
            """
            CREATE TABLE session_messages (
                session_id  TEXT NOT NULL,
                seq         BIGINT NOT NULL,
                message     TEXT NOT NULL,
                appended_at BIGINT NOT NULL,
                PRIMARY KEY (session_id, seq)
            )
            """,
            """
            CREATE TABLE cursors (
                name       TEXT PRIMARY KEY,
                value      BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
        ]),
        PostgresMigration(2, [
            "ALTER TABLE runs ADD COLUMN last_event_seq BIGINT NOT NULL DEFAULT 0",
            """
            CREATE TABLE run_events (
                run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
                seq    BIGINT NOT NULL CHECK (seq >= 1),
                event  TEXT NOT NULL,
                at     BIGINT NOT NULL,
                PRIMARY KEY (run_id, seq)
            )
            """,
        ]),
    ]
}
