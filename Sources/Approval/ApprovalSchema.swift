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
        Migration(4, """
            -- The policy judges an action on its account's recent history: the action's
            -- kind, account (a transfer's payer, a deposit's receiver), currency and
            -- amount as columns, indexed for the window sums, filled in for older rows.
            -- Each decision keeps whether the requester's own vote counts and the figures
            -- that decided it.
            ALTER TABLE approvals ADD COLUMN kind TEXT NOT NULL DEFAULT '';
            ALTER TABLE approvals ADD COLUMN account TEXT NOT NULL DEFAULT '';
            ALTER TABLE approvals ADD COLUMN currency TEXT NOT NULL DEFAULT '';
            ALTER TABLE approvals ADD COLUMN amount_minor INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE approvals ADD COLUMN requester_may_approve INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE approvals ADD COLUMN policy_figures TEXT NOT NULL DEFAULT '{}';
            UPDATE approvals SET
                kind = json_extract(action, '$.kind'),
                account = COALESCE(json_extract(action, '$.from'), json_extract(action, '$.to')),
                currency = json_extract(action, '$.currency'),
                amount_minor = CAST(REPLACE(json_extract(action, '$.amount'), '.', '') AS INTEGER);
            CREATE INDEX approvals_account_window ON approvals (account, kind, created_at);

            -- A batch reports how its execution ended: completed, or failed part-way with
            -- the reason; it never stays approved. The status CHECK widens, which SQLite
            -- does by rebuilding the two batch tables (votes first, so no reference dangles).
            CREATE TABLE batch_approvals_v4 (
                seq INTEGER PRIMARY KEY,
                approval_id TEXT NOT NULL UNIQUE,
                batch_id TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'completed', 'failed')),
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
                grant_json TEXT,
                outcome TEXT
            );
            INSERT INTO batch_approvals_v4 (seq, approval_id, batch_id, status, transfers, count, total, currency, digest,
                requested_by, submitted_by, required_approvers, policy_version, policy_rule, created_at, updated_at, expires_at,
                reason, grant_json)
            SELECT seq, approval_id, batch_id, status, transfers, count, total, currency, digest, requested_by, submitted_by,
                required_approvers, policy_version, policy_rule, created_at, updated_at, expires_at, reason, grant_json
            FROM batch_approvals;
            CREATE TABLE batch_votes_v4 (
                approval_id TEXT NOT NULL REFERENCES batch_approvals_v4 (approval_id),
                approver TEXT NOT NULL,
                decision TEXT NOT NULL,
                reason TEXT,
                at INTEGER NOT NULL,
                PRIMARY KEY (approval_id, approver)
            );
            INSERT INTO batch_votes_v4 SELECT approval_id, approver, decision, reason, at FROM batch_votes;
            DROP TABLE batch_votes;
            DROP TABLE batch_approvals;
            ALTER TABLE batch_approvals_v4 RENAME TO batch_approvals;
            ALTER TABLE batch_votes_v4 RENAME TO batch_votes;
            CREATE INDEX batch_approvals_pending_expiry ON batch_approvals (status, expires_at);
            """),
    ]
}
