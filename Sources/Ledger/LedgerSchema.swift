import PostgresSupport
import SQLiteKit

/// The ledger's schema history. Amounts are integer cents; times are Unix milliseconds.
///
/// - `accounts`: one row per account; `balance` is the posted balance, kept in
///   step with `postings` in the same transaction. `external` is the bank's
///   equity account: deposits come from it and it may go negative.
/// - `entries` and `postings`: the journal. Every entry has exactly two
///   postings that sum to zero (debit the payer, credit the payee).
/// - `holds`: reserved funds awaiting approval; pending, posted, voided or expired.
/// - `used_grants`: every grant id consumed, with its approval id (each at most once), in the posting's own transaction.
/// - `idempotency`: key → request fingerprint and the original result: the
///   entry it wrote (the result is rebuilt from it, identically), or the result's JSON.
public enum LedgerSchema {
    /// The migrations, in order.
    public static let migrations: [Migration] = [
        Migration(1, """
            CREATE TABLE accounts (
                name TEXT PRIMARY KEY,
                display_name TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('customer', 'external')),
                currency TEXT NOT NULL,
                balance INTEGER NOT NULL DEFAULT 0,
                opening_balance INTEGER NOT NULL DEFAULT 0,
                opened_at INTEGER NOT NULL,
                CHECK (kind = 'external' OR balance >= 0)
            ) WITHOUT ROWID;
            CREATE TABLE entries (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('opening', 'deposit', 'transfer', 'hold_post')),
                amount INTEGER NOT NULL CHECK (amount > 0),
                currency TEXT NOT NULL,
                memo TEXT,
                idempotency_key TEXT,
                grant_id TEXT,
                hold_id TEXT,
                created_at INTEGER NOT NULL
            );
            CREATE TABLE postings (
                id INTEGER PRIMARY KEY,
                entry_id INTEGER NOT NULL REFERENCES entries(id),
                account TEXT NOT NULL REFERENCES accounts(name),
                amount INTEGER NOT NULL CHECK (amount <> 0),
                balance_after INTEGER NOT NULL
            );
            CREATE INDEX postings_by_account ON postings(account, id);
            CREATE INDEX postings_by_entry ON postings(entry_id);
            CREATE TABLE holds (
                id INTEGER PRIMARY KEY,
                from_account TEXT NOT NULL REFERENCES accounts(name),
                to_account TEXT NOT NULL REFERENCES accounts(name),
                amount INTEGER NOT NULL CHECK (amount > 0),
                currency TEXT NOT NULL,
                idempotency_key TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'posted', 'voided', 'expired')),
                expires_at INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                resolved_at INTEGER,
                entry_id INTEGER REFERENCES entries(id),
                grant_id TEXT,
                void_reason TEXT
            );
            CREATE INDEX holds_pending ON holds(from_account, state, expires_at);
            CREATE INDEX holds_expiring ON holds(state, expires_at);
            CREATE TABLE used_grants (
                grant_id TEXT PRIMARY KEY,
                entry_id INTEGER NOT NULL REFERENCES entries(id),
                used_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE idempotency (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint BLOB NOT NULL,
                entry_id INTEGER REFERENCES entries(id),
                result TEXT,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (scope, key)
            ) WITHOUT ROWID;
            CREATE INDEX idempotency_by_age ON idempotency(created_at);
            INSERT INTO accounts (name, display_name, kind, currency, balance, opening_balance, opened_at)
                VALUES ('external', 'External funds (bank equity)', 'external', 'USD', 0, 0, 0);
            """),
        // An approval executes once, whatever grant it comes with: approval-svc may
        // renew a grant that ran out unused, and the fresh one has a new grant_id.
        // Rows from before this migration have no approval_id and keep their grant_id rule.
        Migration(2, """
            ALTER TABLE used_grants ADD COLUMN approval_id TEXT;
            CREATE UNIQUE INDEX used_grants_by_approval ON used_grants (approval_id) WHERE approval_id IS NOT NULL;
            """),
        // A hold carries its transfer's memo: the memo is part of the approved action,
        // so posting the hold must present a grant for exactly that memo.
        Migration(3, """
            ALTER TABLE holds ADD COLUMN memo TEXT;
            """),
    ]
}

extension LedgerSchema {
    /// The same history on PostgreSQL, version for version: `BIGINT` for integers
    /// (cents and milliseconds), identity columns for ids, `BYTEA` for fingerprints,
    /// account names compared byte by byte as SQLite does (`COLLATE "C"`: under a
    /// database's language collation `ledger.accounts` would page in another order).
    /// Single use stays a pair of unique constraints (`used_grants`' key and its
    /// approval index), idempotency the primary key of `idempotency`: replicas that
    /// race on one key or one grant meet there, and the loser sees the winner's row.
    public static let postgres: [PostgresMigration] = [
        PostgresMigration(1, [
            """
            CREATE TABLE accounts (
                name TEXT COLLATE "C" PRIMARY KEY,
                display_name TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('customer', 'external')),
                currency TEXT NOT NULL,
                balance BIGINT NOT NULL DEFAULT 0,
                opening_balance BIGINT NOT NULL DEFAULT 0,
                opened_at BIGINT NOT NULL,
                CHECK (kind = 'external' OR balance >= 0)
            )
            """,
            """
            CREATE TABLE entries (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('opening', 'deposit', 'transfer', 'hold_post')),
                amount BIGINT NOT NULL CHECK (amount > 0),
                currency TEXT NOT NULL,
                memo TEXT,
                idempotency_key TEXT,
                grant_id TEXT,
                hold_id TEXT,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE postings (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                entry_id BIGINT NOT NULL REFERENCES entries(id),
                account TEXT NOT NULL REFERENCES accounts(name),
                amount BIGINT NOT NULL CHECK (amount <> 0),
                balance_after BIGINT NOT NULL
            )
            """,
            "CREATE INDEX postings_by_account ON postings (account, id)",
            "CREATE INDEX postings_by_entry ON postings (entry_id)",
            """
            CREATE TABLE holds (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                from_account TEXT NOT NULL REFERENCES accounts(name),
                to_account TEXT NOT NULL REFERENCES accounts(name),
                amount BIGINT NOT NULL CHECK (amount > 0),
                currency TEXT NOT NULL,
                idempotency_key TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'posted', 'voided', 'expired')),
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                resolved_at BIGINT,
                entry_id BIGINT REFERENCES entries(id),
                grant_id TEXT,
                void_reason TEXT
            )
            """,
            "CREATE INDEX holds_pending ON holds (from_account, state, expires_at)",
            "CREATE INDEX holds_expiring ON holds (state, expires_at)",
            """
            CREATE TABLE used_grants (
                grant_id TEXT PRIMARY KEY,
                entry_id BIGINT NOT NULL REFERENCES entries(id),
                used_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE idempotency (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint BYTEA NOT NULL,
                entry_id BIGINT REFERENCES entries(id),
                result TEXT,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (scope, key)
            )
            """,
            "CREATE INDEX idempotency_by_age ON idempotency (created_at)",
            """
            INSERT INTO accounts (name, display_name, kind, currency, balance, opening_balance, opened_at)
                VALUES ('external', 'External funds (bank equity)', 'external', 'USD', 0, 0, 0)
            """,
        ]),
        PostgresMigration(2, [
            "ALTER TABLE used_grants ADD COLUMN approval_id TEXT",
            "CREATE UNIQUE INDEX used_grants_by_approval ON used_grants (approval_id) WHERE approval_id IS NOT NULL",
        ]),
        PostgresMigration(3, [
            "ALTER TABLE holds ADD COLUMN memo TEXT",
        ]),
    ]
}
