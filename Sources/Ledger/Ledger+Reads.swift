import Foundation
import RPC
import SQLiteKit

extension Ledger {
    /// `ledger.balance`: posted, held (pending holds not yet expired) and available.
    /// - Parameter params: the account.
    /// - Returns: the balances.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/ACCOUNT_NOT_FOUND.
    public func balance(_ params: AccountParams) async throws -> BalanceResult {
        let name = try Validate.account(params.account, field: "account")
        let now = nowMs
        return try await database.read { db in
            guard let account = try Books.account(db, name) else { throw LedgerError.accountNotFound(name, field: "account") }
            let held = account.isExternal ? 0 : try Books.held(db, name, now: now)
            return Self.balance(account, held: held)
        }
    }

    static func balance(_ account: AccountRow, held: Int64) -> BalanceResult {
        BalanceResult(
            account: account.name, displayName: account.displayName, kind: account.kind, currency: account.currency,
            posted: Money.format(account.balance), held: Money.format(held), available: Money.format(account.balance - held))
    }

    /// `ledger.accounts`: every account with its balances, by name, a page at a time.
    /// - Parameter params: an opaque cursor and a page size.
    /// - Returns: a page and the cursor of the next.
    /// - Throws: INVALID_ARGUMENT for a bad cursor or limit.
    public func accounts(_ params: AccountsParams) async throws -> AccountsResult {
        let limit = try Validate.limit(params.limit, default: LedgerLimits.defaultAccountsPage, maximum: LedgerLimits.maximumAccountsPage)
        let after = try params.cursor.map { try Validate.account($0, field: "cursor") } ?? ""
        let now = nowMs
        return try await database.read { db in
            let rows = try db.query("""
                SELECT a.name, a.display_name, a.kind, a.currency, a.balance,
                       (SELECT COALESCE(SUM(h.amount), 0) FROM holds h
                        WHERE h.from_account = a.name AND h.state = 'pending' AND h.expires_at > ?)
                FROM accounts a WHERE a.name > ? ORDER BY a.name LIMIT ?
                """, [.integer(now), .text(after), .integer(Int64(limit + 1))]) { row in
                (AccountRow(name: row.text(0), displayName: row.text(1), kind: row.text(2), currency: row.text(3), balance: row.int(4)),
                 row.int(5))
            }
            let page = rows.prefix(limit).map { Self.balance($0.0, held: $0.0.isExternal ? 0 : $0.1) }
            return AccountsResult(accounts: page, nextCursor: rows.count > limit ? page.last?.account : nil)
        }
    }

    /// `ledger.statement`: an account's entries, newest first, a page at a time.
    /// - Parameter params: the account, an opaque cursor and a page size.
    /// - Returns: a page and the cursor of the next.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/ACCOUNT_NOT_FOUND.
    public func statement(_ params: StatementParams) async throws -> StatementResult {
        let name = try Validate.account(params.account, field: "account")
        let limit = try Validate.limit(params.limit, default: LedgerLimits.defaultStatementPage, maximum: LedgerLimits.maximumStatementPage)
        let before = try params.cursor.map { cursor in
            guard let value = Int64(cursor), value > 0 else {
                throw RPCError.invalidParams(field: "cursor", "is not a cursor this method returned")
            }
            return value
        } ?? Int64.max
        return try await database.read { db in
            guard try Books.account(db, name) != nil else { throw LedgerError.accountNotFound(name, field: "account") }
            let lines = try db.query("""
                SELECT p.id, p.entry_id, e.kind, p.amount, e.currency, p.balance_after, e.memo, e.hold_id, e.created_at,
                       (SELECT q.account FROM postings q WHERE q.entry_id = p.entry_id AND q.id <> p.id),
                       e.idempotency_key, e.grant_id
                FROM postings p JOIN entries e ON e.id = p.entry_id
                WHERE p.account = ? AND p.id < ? ORDER BY p.id DESC LIMIT ?
                """, [.text(name), .integer(before), .integer(Int64(limit + 1))]) { row in
                StatementLine(
                    postingID: row.int(0), entryID: row.int(1), kind: row.text(2), amount: Money.format(row.int(3)),
                    currency: row.text(4), counterparty: row.text(9), balanceAfter: Money.format(row.int(5)),
                    memo: row.optionalText(6), holdID: row.optionalText(7), idempotencyKey: row.optionalText(10),
                    grantID: row.optionalText(11), createdAt: LedgerTime.format(milliseconds: row.int(8)))
            }
            let page = Array(lines.prefix(limit))
            return StatementResult(
                account: name, entries: page, nextCursor: lines.count > limit ? page.last.map { String($0.postingID) } : nil)
        }
    }

    /// `ledger.verify`: proves the books balance on a consistent snapshot:
    /// every entry has two postings summing to zero, all postings sum to zero,
    /// every account's balance equals the sum of its postings, no customer
    /// account is negative or holds more than it has.
    /// - Returns: the verdict, any problems, and the totals.
    /// - Throws: ``SQLiteError`` only.
    public func verify() async throws -> VerifyResult {
        let now = nowMs
        // One read transaction: every check sees the same snapshot, whatever commits meanwhile.
        let result = try await database.snapshot { db in try Self.verify(db, now: now) }
        if !result.balanced { logger.critical("the books do not balance", metadata: ["ledger.problems": "\(result.problems)"]) }
        return result
    }

    static func verify(_ db: any SQLConnection, now: Int64) throws -> VerifyResult {
        func count(_ sql: String, _ values: [SQLiteValue] = []) throws -> Int64 { try db.queryOne(sql, values) { $0.int(0) } ?? 0 }
        var problems: [String] = []
        let postingsTotal = try count("SELECT COALESCE(SUM(amount), 0) FROM postings")
        if postingsTotal != 0 { problems.append("postings sum to \(Money.format(postingsTotal)), not 0.00") }
        let unbalanced = try count("""
            SELECT COUNT(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id HAVING SUM(amount) <> 0 OR COUNT(*) <> 2) AS unbalanced
            """)
        if unbalanced != 0 { problems.append("\(unbalanced) entries do not have two postings summing to zero") }
        let orphans = try count("SELECT COUNT(*) FROM entries e WHERE NOT EXISTS (SELECT 1 FROM postings p WHERE p.entry_id = e.id)")
        if orphans != 0 { problems.append("\(orphans) entries have no postings") }
        let drifted = try db.query("""
            SELECT a.name FROM accounts a
            WHERE a.balance <> (SELECT COALESCE(SUM(p.amount), 0) FROM postings p WHERE p.account = a.name)
            """) { $0.text(0) }
        if !drifted.isEmpty { problems.append("balances differ from their postings: \(drifted.prefix(10).joined(separator: ", "))") }
        let overdrawn = try db.query("""
            SELECT a.name FROM accounts a WHERE a.kind = 'customer' AND a.balance <
                (SELECT COALESCE(SUM(h.amount), 0) FROM holds h WHERE h.from_account = a.name AND h.state = 'pending' AND h.expires_at > ?)
            """, [.integer(now)]) { $0.text(0) }
        if !overdrawn.isEmpty { problems.append("accounts below zero or below their holds: \(overdrawn.prefix(10).joined(separator: ", "))") }
        let customerTotal = try count("SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE kind = 'customer'")
        let externalTotal = try count("SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE kind = 'external'")
        if customerTotal + externalTotal != 0 { problems.append("customer and external balances do not cancel out") }
        let held = try db.queryOne(
            "SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM holds WHERE state = 'pending' AND expires_at > ?", [.integer(now)]
        ) { ($0.int(0), $0.int(1)) } ?? (0, 0)
        return VerifyResult(
            balanced: problems.isEmpty, problems: problems,
            accounts: try count("SELECT COUNT(*) FROM accounts"), entries: try count("SELECT COUNT(*) FROM entries"),
            postings: try count("SELECT COUNT(*) FROM postings"), postingsTotal: Money.format(postingsTotal),
            customerTotal: Money.format(customerTotal), externalTotal: Money.format(externalTotal),
            heldTotal: Money.format(held.0), pendingHolds: held.1)
    }
}
