import Banking
import Foundation
import RPC
import SQLiteKit

/// An account row, read inside a transaction.
struct AccountRow {
    let name: String
    let displayName: String
    let kind: String
    let currency: String
    let balance: Int64
    var isExternal: Bool { kind == "external" }
}

/// A grant as the ledger consumes it: once per grant id, and once per approval.
///
/// approval-svc may issue a fresh grant for an approval whose grant ran out
/// before it was used (`approval.renew_grant`); the fresh one has a new grant id,
/// so single use by grant id alone would let one approval execute twice (say, a
/// hold posted under the first grant and a transfer under the same key with the
/// second: different idempotency scopes). An approval executes at most once.
struct GrantUse: Sendable, Hashable {
    let grantID: String
    /// The approval the grant decides (a single or a batch approval).
    let approvalID: String
}

/// The state of a hold.
enum HoldState: String, Sendable {
    case pending, posted, voided, expired
}

/// The books' primitive operations, run on the writer connection inside a
/// request's savepoint (or on a reader, for the `read` ones). Writes whose outcome
/// the next statement does not need are sent with `executeLater`: on PostgreSQL the
/// writer does not wait for each (a round trip apiece), and a failure among them
/// fails the request all the same, at its next wait or at its end. Every function
/// here trusts its inputs to be validated and asserts what must hold.
enum Books {
    /// The account `name`; `forUpdate` inside a write that goes on to change it
    /// (on PostgreSQL it locks the row until the commit, so replicas take turns).
    static func account(_ db: any SQLConnection, _ name: String, forUpdate: Bool = false) throws -> AccountRow? {
        try db.queryOne(
            "SELECT name, display_name, kind, currency, balance FROM accounts WHERE name = ?" + (forUpdate ? db.dialect.forUpdate : ""),
            [.text(name)]
        ) { AccountRow(name: $0.text(0), displayName: $0.text(1), kind: $0.text(2), currency: $0.text(3), balance: $0.int(4)) }
    }

    /// Both accounts of a movement, read (and on PostgreSQL locked) in one statement, in
    /// name order: two replicas moving money between the same two accounts in opposite
    /// directions lock them in the same order, so they queue instead of deadlocking.
    /// Refuses with the payer's problem first: not found (naming its field), then a
    /// currency other than the movement's; then the payee's.
    static func requirePair(
        _ db: any SQLConnection, payer: (name: String, field: String), payee: (name: String, field: String), currency: String
    ) throws -> (payer: AccountRow, payee: AccountRow) {
        let rows = try db.query(
            "SELECT name, display_name, kind, currency, balance FROM accounts WHERE name IN (?, ?) ORDER BY name" + db.dialect.forUpdate,
            [.text(payer.name), .text(payee.name)]
        ) { AccountRow(name: $0.text(0), displayName: $0.text(1), kind: $0.text(2), currency: $0.text(3), balance: $0.int(4)) }
        func require(_ name: String, field: String) throws -> AccountRow {
            guard let row = rows.first(where: { $0.name == name }) else { throw LedgerError.accountNotFound(name, field: field) }
            guard row.currency == currency else { throw LedgerError.currencyMismatch(name, has: row.currency, wanted: currency) }
            return row
        }
        return (try require(payer.name, field: payer.field), try require(payee.name, field: payee.field))
    }

    /// Funds reserved on `account` by pending holds that have not expired at `now`.
    static func held(_ db: any SQLConnection, _ account: String, now: Int64) throws -> Int64 {
        try db.queryOne(
            "SELECT COALESCE(SUM(amount), 0) FROM holds WHERE from_account = ? AND state = 'pending' AND expires_at > ?",
            [.text(account), .integer(now)]) { $0.int(0) } ?? 0
    }

    /// Marks the account's pending holds past their expiry as expired (their
    /// funds stopped counting at `expires_at` already; this records it).
    static func expireHolds(_ db: any SQLConnection, of account: String, now: Int64) throws {
        try db.executeLater(
            "UPDATE holds SET state = 'expired', resolved_at = ? WHERE from_account = ? AND state = 'pending' AND expires_at <= ?",
            [.integer(now), .text(account), .integer(now)])
    }

    /// Throws INSUFFICIENT_FUNDS unless `payer` has `amount` available beyond
    /// the funds its pending holds reserve. The external account may go negative.
    static func requireFunds(_ db: any SQLConnection, _ payer: AccountRow, _ amount: Int64, now: Int64) throws {
        guard !payer.isExternal else { return }
        try expireHolds(db, of: payer.name, now: now)
        let available = payer.balance - (try held(db, payer.name, now: now))
        guard available >= amount else { throw LedgerError.insufficientFunds(payer.name, available: available, wanted: amount) }
    }

    /// Writes one balanced entry: the entry, its two postings, both balances.
    /// - Returns: the entry id.
    static func post(
        _ db: any SQLConnection, kind: String, from payer: AccountRow, to payee: AccountRow, amount: Int64, currency: String,
        memo: String?, idempotencyKey: String?, grantID: String?, holdID: String?, now: Int64
    ) throws -> Int64 {
        let (entryID, payerAfter, payeeAfter) = try journal(
            db, kind: kind, from: payer, to: payee, amount: amount, currency: currency, memo: memo,
            idempotencyKey: idempotencyKey, grantID: grantID, holdID: holdID, now: now)
        try setBalance(db, payer.name, payerAfter)
        try setBalance(db, payee.name, payeeAfter)
        return entryID
    }

    /// Writes one balanced entry and its two postings, and returns both balances
    /// after it; the caller keeps `accounts.balance` in step (``post`` at once,
    /// ``BatchBooks`` once per account at the end of a batch, in the same transaction).
    static func journal(
        _ db: any SQLConnection, kind: String, from payer: AccountRow, to payee: AccountRow, amount: Int64, currency: String,
        memo: String?, idempotencyKey: String?, grantID: String?, holdID: String?, now: Int64
    ) throws -> (entryID: Int64, payerAfter: Int64, payeeAfter: Int64) {
        precondition(amount > 0 && payer.name != payee.name, "an entry moves a positive amount between two accounts")
        let payerAfter = payer.balance - amount
        let (payeeAfter, overflow) = payee.balance.addingReportingOverflow(amount)
        precondition(!overflow, "balances are bounded far below Int64")
        precondition(payer.isExternal || payerAfter >= 0, "a customer account is never overdrawn")
        guard let entryID = try db.queryOne(
            "INSERT INTO entries (kind, amount, currency, memo, idempotency_key, grant_id, hold_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [.text(kind), .integer(amount), .text(currency), memo.map { .text($0) } ?? .null,
             idempotencyKey.map { .text($0) } ?? .null, grantID.map { .text($0) } ?? .null,
             holdID.map { .text($0) } ?? .null, .integer(now)], { $0.int(0) })
        else { throw RPCError.internalError() }
        try db.executeLater(
            "INSERT INTO postings (entry_id, account, amount, balance_after) VALUES (?, ?, ?, ?), (?, ?, ?, ?)",
            [.integer(entryID), .text(payer.name), .integer(-amount), .integer(payerAfter),
             .integer(entryID), .text(payee.name), .integer(amount), .integer(payeeAfter)])
        return (entryID, payerAfter, payeeAfter)
    }

    /// Sets an account's posted balance (always the `balance_after` of its newest posting).
    static func setBalance(_ db: any SQLConnection, _ name: String, _ balance: Int64) throws {
        try db.executeLater("UPDATE accounts SET balance = ? WHERE name = ?", [.integer(balance), .text(name)])
    }

    /// A movement entry as its result: the same values every time it is read.
    static func entry(_ db: any SQLConnection, _ entryID: Int64) throws -> EntryResult? {
        try db.queryOne("""
            SELECT e.id, e.kind, e.amount, e.currency, e.memo, e.idempotency_key, e.grant_id, e.created_at,
                   (SELECT account FROM postings WHERE entry_id = e.id AND amount < 0),
                   (SELECT account FROM postings WHERE entry_id = e.id AND amount > 0)
            FROM entries e WHERE e.id = ?
            """, [.integer(entryID)]) { row in
            EntryResult(
                entryID: row.int(0), kind: row.text(1), from: row.text(8), to: row.text(9), amount: Money.format(row.int(2)),
                currency: row.text(3), memo: row.optionalText(4), idempotencyKey: row.text(5), grantID: row.text(6),
                createdAt: LedgerTime.format(milliseconds: row.int(7)))
        }
    }

    /// Throws GRANT_ALREADY_USED if the grant, or another grant for the same
    /// approval, was consumed before.
    static func requireUnused(_ db: any SQLConnection, _ use: GrantUse) throws {
        if let earlier = try usedBy(db, use) { throw LedgerError.grantUsed(use, earlier: earlier) }
    }

    /// Whether the grant, or another grant for the same approval, was consumed before.
    static func isUsed(_ db: any SQLConnection, _ use: GrantUse) throws -> Bool {
        try usedBy(db, use) != nil
    }

    /// The grant id consumed earlier under `use`'s grant id or approval id, if any.
    private static func usedBy(_ db: any SQLConnection, _ use: GrantUse) throws -> String? {
        try db.queryOne(
            "SELECT grant_id FROM used_grants WHERE grant_id = ? OR approval_id = ? LIMIT 1",
            [.text(use.grantID), .text(use.approvalID)]) { $0.text(0) }
    }

    /// Consumes a grant, and its approval, in the posting's transaction.
    static func consume(_ db: any SQLConnection, _ use: GrantUse, entryID: Int64, now: Int64) throws {
        try db.executeLater("INSERT INTO used_grants (grant_id, approval_id, entry_id, used_at) VALUES (?, ?, ?, ?)",
                       [.text(use.grantID), .text(use.approvalID), .integer(entryID), .integer(now)])
    }
}

/// Idempotency records: key → fingerprint and the original result.
///
/// A movement's result is rebuilt from the entry it wrote (deterministically,
/// so a replay is identical) instead of storing JSON: the writer thread is the
/// ledger's bottleneck, and this keeps encoding off it. Other results are kept as JSON.
enum IdempotencyStore {
    /// The stored record of `key`, or nil when the key is new.
    /// - Throws: ALREADY_EXISTS/IDEMPOTENCY_KEY_REUSED when it was used for a different request.
    private static func record(_ db: any SQLConnection, scope: String, key: String, fingerprint: [UInt8]) throws -> (entryID: Int64?, result: String?)? {
        guard let (stored, entryID, result) = try db.queryOne(
            "SELECT fingerprint, entry_id, result FROM idempotency WHERE scope = ? AND key = ?", [.text(scope), .text(key)],
            { ($0.blob(0), $0.optionalInt(1), $0.optionalText(2)) })
        else { return nil }
        guard stored == fingerprint else { throw LedgerError.keyReused(key) }
        return (entryID, result)
    }

    /// The original entry when `key` was used with the same request; nil when the key is new.
    /// - Throws: ALREADY_EXISTS/IDEMPOTENCY_KEY_REUSED for a different request.
    static func replayEntry(_ db: any SQLConnection, scope: String, key: String, fingerprint: [UInt8]) throws -> EntryResult? {
        guard let record = try record(db, scope: scope, key: key, fingerprint: fingerprint) else { return nil }
        guard let entryID = record.entryID, let entry = try Books.entry(db, entryID) else { throw RPCError.internalError() }
        return entry
    }

    /// The original result when `key` was used with the same request; nil when the key is new.
    /// - Throws: ALREADY_EXISTS/IDEMPOTENCY_KEY_REUSED for a different request.
    static func replay<R: Decodable>(_ db: any SQLConnection, scope: String, key: String, fingerprint: [UInt8], as type: R.Type) throws -> R? {
        guard let record = try record(db, scope: scope, key: key, fingerprint: fingerprint) else { return nil }
        guard let result = record.result else { throw RPCError.internalError() }
        return try JSONDecoder().decode(R.self, from: Data(result.utf8))
    }

    /// Remembers the entry a key wrote.
    static func remember(_ db: any SQLConnection, scope: String, key: String, fingerprint: [UInt8], entryID: Int64, now: Int64) throws {
        try db.executeLater("INSERT INTO idempotency (scope, key, fingerprint, entry_id, created_at) VALUES (?, ?, ?, ?, ?)",
                       [.text(scope), .text(key), .blob(fingerprint), .integer(entryID), .integer(now)])
    }

    /// Remembers a result under its key, as JSON.
    static func remember(_ db: any SQLConnection, scope: String, key: String, fingerprint: [UInt8], result: some Encodable, now: Int64) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(result), as: UTF8.self)
        try db.executeLater("INSERT INTO idempotency (scope, key, fingerprint, result, created_at) VALUES (?, ?, ?, ?, ?)",
                       [.text(scope), .text(key), .blob(fingerprint), .text(text), .integer(now)])
    }
}
