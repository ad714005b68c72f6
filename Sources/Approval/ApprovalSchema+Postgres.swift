import PostgresSupport

extension ApprovalSchema {
    /// The approval tables on PostgreSQL: the same tables and columns as SQLite's four
    /// versions end with, as one version (a PostgreSQL database has no older approval
    /// data to carry forward). Integers are `BIGINT` (the service binds 64-bit values);
    /// text the service sorts or compares by range (approvers, delivery ids, audit
    /// times) is `COLLATE "C"`, byte order as on SQLite, whatever the cluster's locale.
    ///
    /// The audit head exists from the start (seq 0, the genesis hash): every change
    /// locks it first (``ApprovalStore/serialize(_:)``), so replicas sharing the
    /// database never race to create it.
    static let postgres: [PostgresMigration] = [
        PostgresMigration(1, [
            """
            CREATE TABLE approvals (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                approval_id TEXT COLLATE "C" NOT NULL UNIQUE,
                run_id TEXT COLLATE "C" NOT NULL,
                call_id TEXT COLLATE "C" NOT NULL,
                version BIGINT NOT NULL,
                status TEXT NOT NULL,
                action TEXT NOT NULL,
                original_action TEXT NOT NULL,
                requested_by TEXT COLLATE "C" NOT NULL,
                submitted_by TEXT NOT NULL,
                required_approvers BIGINT NOT NULL,
                policy_version TEXT NOT NULL,
                policy_rule TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                reason TEXT,
                outcome TEXT,
                grant_json TEXT,
                kind TEXT NOT NULL DEFAULT '',
                account TEXT COLLATE "C" NOT NULL DEFAULT '',
                currency TEXT NOT NULL DEFAULT '',
                amount_minor BIGINT NOT NULL DEFAULT 0,
                requester_may_approve BIGINT NOT NULL DEFAULT 0,
                policy_figures TEXT NOT NULL DEFAULT '{}',
                UNIQUE (run_id, call_id)
            )
            """,
            "CREATE INDEX approvals_pending_expiry ON approvals (status, expires_at)",
            "CREATE INDEX approvals_run ON approvals (run_id, seq)",
            "CREATE INDEX approvals_account_window ON approvals (account, kind, created_at)",
            """
            CREATE TABLE approval_versions (
                approval_id TEXT COLLATE "C" NOT NULL REFERENCES approvals (approval_id),
                version BIGINT NOT NULL,
                action TEXT NOT NULL,
                edited_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (approval_id, version)
            )
            """,
            """
            CREATE TABLE votes (
                approval_id TEXT COLLATE "C" NOT NULL REFERENCES approvals (approval_id),
                version BIGINT NOT NULL,
                approver TEXT COLLATE "C" NOT NULL,
                decision TEXT NOT NULL,
                reason TEXT,
                at BIGINT NOT NULL,
                PRIMARY KEY (approval_id, version, approver)
            )
            """,
            """
            CREATE TABLE events (
                seq BIGINT PRIMARY KEY,
                type TEXT NOT NULL,
                approval_id TEXT COLLATE "C" NOT NULL,
                run_id TEXT COLLATE "C" NOT NULL,
                call_id TEXT COLLATE "C" NOT NULL,
                version BIGINT NOT NULL,
                status TEXT NOT NULL,
                actor TEXT NOT NULL,
                at BIGINT NOT NULL,
                reason TEXT
            )
            """,
            """
            CREATE TABLE audit (
                seq BIGINT PRIMARY KEY,
                at TEXT COLLATE "C" NOT NULL,
                approval_id TEXT COLLATE "C" NOT NULL,
                step TEXT NOT NULL,
                actor TEXT NOT NULL,
                version BIGINT NOT NULL,
                policy_version TEXT NOT NULL,
                action_hash TEXT NOT NULL,
                detail TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_approval ON audit (approval_id, seq)",
            """
            CREATE TABLE audit_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                seq BIGINT NOT NULL,
                hash TEXT NOT NULL
            )
            """,
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '\(AuditLog.genesis)')",
            """
            CREATE TABLE deliveries (
                delivery_id TEXT COLLATE "C" PRIMARY KEY,
                approval_id TEXT COLLATE "C" NOT NULL REFERENCES approvals (approval_id),
                channel TEXT NOT NULL,
                kind TEXT NOT NULL,
                payload TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                next_attempt_at BIGINT NOT NULL,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                delivered_at BIGINT
            )
            """,
            "CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at)",
            "CREATE INDEX deliveries_approval ON deliveries (approval_id)",
            """
            CREATE TABLE link_tokens (
                nonce TEXT COLLATE "C" PRIMARY KEY,
                approval_id TEXT COLLATE "C" NOT NULL REFERENCES approvals (approval_id),
                version BIGINT NOT NULL,
                decision TEXT NOT NULL,
                recipient TEXT NOT NULL,
                expires_at BIGINT NOT NULL,
                used_at BIGINT
            )
            """,
            """
            CREATE TABLE batch_approvals (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                approval_id TEXT COLLATE "C" NOT NULL UNIQUE,
                batch_id TEXT COLLATE "C" NOT NULL UNIQUE,
                status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'completed', 'failed')),
                transfers TEXT NOT NULL,
                count BIGINT NOT NULL CHECK (count >= 1),
                total TEXT NOT NULL,
                currency TEXT NOT NULL,
                digest TEXT NOT NULL,
                requested_by TEXT NOT NULL,
                submitted_by TEXT NOT NULL,
                required_approvers BIGINT NOT NULL CHECK (required_approvers >= 1),
                policy_version TEXT NOT NULL,
                policy_rule TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                reason TEXT,
                grant_json TEXT,
                outcome TEXT
            )
            """,
            "CREATE INDEX batch_approvals_pending_expiry ON batch_approvals (status, expires_at)",
            """
            CREATE TABLE batch_votes (
                approval_id TEXT COLLATE "C" NOT NULL REFERENCES batch_approvals (approval_id),
                approver TEXT COLLATE "C" NOT NULL,
                decision TEXT NOT NULL,
                reason TEXT,
                at BIGINT NOT NULL,
                PRIMARY KEY (approval_id, approver)
            )
            """,
        ]),
        PostgresMigration(2, [
            """
            -- Which keys the replicas sign with (grants: the public key's id; links: a
            -- fingerprint of the HMAC key, never the key): the first replica records its
            -- own, and one with other keys refuses to start (its grants would fail at
            -- ledgers that trust the first, its links at the other replicas).
            CREATE TABLE signing_keys (
                purpose TEXT PRIMARY KEY,
                fingerprint TEXT NOT NULL,
                recorded_at BIGINT NOT NULL
            )
            """,
        ]),
    ]
}
