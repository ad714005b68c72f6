import SQLiteKit

/// The approval database's schema history. Times are milliseconds since 1970 (UTC).
enum ApprovalSchema {
    static let migrations = [
        Migration(1, """
            CREATE TABLE approvals (
                seq INTEGER PRIMARY KEY,
                approval_id TEXT NOT NULL UNIQUE,
                run_id TEXT NOT NULL,
                call_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                status TEXT NOT NULL,
                action TEXT NOT NULL,
                original_action TEXT NOT NULL,
                requested_by TEXT NOT NULL,
                submitted_by TEXT NOT NULL,
                required_approvers INTEGER NOT NULL,
                policy_version TEXT NOT NULL,
                policy_rule TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                reason TEXT,
                outcome TEXT,
                grant_json TEXT,
                UNIQUE (run_id, call_id)
            );
            CREATE INDEX approvals_pending_expiry ON approvals (status, expires_at);
            CREATE INDEX approvals_run ON approvals (run_id, seq);

            CREATE TABLE approval_versions (
                approval_id TEXT NOT NULL REFERENCES approvals (approval_id),
                version INTEGER NOT NULL,
                action TEXT NOT NULL,
                edited_by TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (approval_id, version)
            );

            CREATE TABLE votes (
                approval_id TEXT NOT NULL REFERENCES approvals (approval_id),
                version INTEGER NOT NULL,
                approver TEXT NOT NULL,
                decision TEXT NOT NULL,
                reason TEXT,
                at INTEGER NOT NULL,
                PRIMARY KEY (approval_id, version, approver)
            );

            CREATE TABLE events (
                seq INTEGER PRIMARY KEY,
                type TEXT NOT NULL,
                approval_id TEXT NOT NULL,
                run_id TEXT NOT NULL,
                call_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                status TEXT NOT NULL,
                actor TEXT NOT NULL,
                at INTEGER NOT NULL,
                reason TEXT
            );

            CREATE TABLE audit (
                seq INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                approval_id TEXT NOT NULL,
                step TEXT NOT NULL,
                actor TEXT NOT NULL,
                version INTEGER NOT NULL,
                policy_version TEXT NOT NULL,
                action_hash TEXT NOT NULL,
                detail TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            );
            CREATE INDEX audit_approval ON audit (approval_id, seq);
            -- The chain's head, written with every record: removing the last
            -- records is detected because the head no longer matches.
            CREATE TABLE audit_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                seq INTEGER NOT NULL,
                hash TEXT NOT NULL
            );
            """),
        Migration(2, """
            -- The transactional outbox: a notification is written in the same
            -- transaction as the state change that causes it, then delivered
            -- (at least once, under a stable delivery_id) by the outbox worker.
            CREATE TABLE deliveries (
                delivery_id TEXT PRIMARY KEY,
                approval_id TEXT NOT NULL REFERENCES approvals (approval_id),
                channel TEXT NOT NULL,
                kind TEXT NOT NULL,
                payload TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER NOT NULL,
                last_error TEXT,
                created_at INTEGER NOT NULL,
                delivered_at INTEGER
            );
            CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
            CREATE INDEX deliveries_approval ON deliveries (approval_id);

            -- Approve/reject link tokens: signed, expiring, and single use.
            CREATE TABLE link_tokens (
                nonce TEXT PRIMARY KEY,
                approval_id TEXT NOT NULL REFERENCES approvals (approval_id),
                version INTEGER NOT NULL,
                decision TEXT NOT NULL,
                recipient TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                used_at INTEGER
            );
            """),
        Migration(3, """
            -- Batches of transfers (a payroll) approved as a whole by people; an
            -- approval issues one batch grant over their count, total and digest.
            -- One version each (a changed batch is a new batch). Their steps go into
            -- the same audit chain; they are not in the events feed, which agents follow.
            CREATE TABLE batch_approvals (
                seq INTEGER PRIMARY KEY,
                approval_id TEXT NOT NULL UNIQUE,
                batch_id TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
                transfers TEXT NOT NULL,
                count INTEGER NOT NULL CHECK (count >= 1),
                total TEXT NOT NULL,
                currency TEXT NOT NULL,
                digest TEXT NOT NULL,
                requested_by TEXT NOT NULL,
                submitted_by TEXT NOT NULL,
                required_approvers INTEGER NOT NULL CHECK (required_approvers >= 1),
                policy_version TEXT NOT NULL,
                policy_rule TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                reason TEXT,
                grant_json TEXT
            );
            CREATE INDEX batch_approvals_pending_expiry ON batch_approvals (status, expires_at);
            CREATE TABLE batch_votes (
                approval_id TEXT NOT NULL REFERENCES batch_approvals (approval_id),
                approver TEXT NOT NULL,
                decision TEXT NOT NULL,
                reason TEXT,
                at INTEGER NOT NULL,
                PRIMARY KEY (approval_id, approver)
            );
            """),
    ]
}
