import Banking
import SQLiteKit

/// The accounts one `ledger.transfer_batch` touches, read once and kept in step
/// in memory while its elements apply, then written back once per account.
///
/// A movement alone reads both accounts, marks the payer's lapsed holds
/// expired, sums its pending holds and updates both balances: six of its ten
/// statements. In a batch those happen once per account instead of once per
/// element (measured in ledger-bench: the writer thread is the ledger's ceiling).
/// That is exact because the batch runs inside one transaction on the only
/// writer, at one `now`, and a batch creates and releases no holds: an account's
/// held funds do not change while it runs, and its balance changes only here.
///
/// Value semantics are the rollback: a linked chain keeps a copy from before it
/// began and restores it when its savepoint is rolled back.
struct BatchBooks {
    /// The batch's clock: every element is applied at this instant.
    let now: Int64
    private var accounts: [String: AccountRow] = [:]
    /// Funds reserved by pending holds on each payer seen so far, as of `now`.
    private var held: [String: Int64] = [:]
    /// Accounts whose balance differs from the row in `accounts` on disk.
    private var changed: Set<String> = []

    init(now: Int64) {
        self.now = now
    }

    /// Checks the accounts and funds exactly as ``Ledger/move(_:_:now:)`` does
    /// (same errors, same order), journals the entry, and remembers the key;
    /// balances are kept here until ``flush(_:)``.
    mutating func move(_ db: any SQLConnection, _ request: MovementRequest) throws -> EntryResult {
        let scope = request.kind.rawValue
        let payer = try account(db, request.from, field: "from", currency: request.currency)
        let payee = try account(db, request.to, field: request.kind == .deposit ? "account" : "to", currency: request.currency)
        let amount = request.amount.minorUnits
        try requireFunds(db, payer, amount)
        let (entryID, payerAfter, payeeAfter) = try Books.journal(
            db, kind: scope, from: payer, to: payee, amount: amount, currency: request.currency, memo: request.memo,
            idempotencyKey: request.idempotencyKey, grantID: request.grantID, holdID: nil, now: now)
        accounts[payer.name] = payer.with(balance: payerAfter)
        accounts[payee.name] = payee.with(balance: payeeAfter)
        changed.insert(payer.name)
        changed.insert(payee.name)
        try IdempotencyStore.remember(
            db, scope: scope, key: request.idempotencyKey, fingerprint: request.fingerprint, entryID: entryID, now: now)
        return EntryResult(request, entryID: entryID, now: now)
    }

    /// Writes every changed balance back; the batch's transaction then holds the
    /// same books as if each element had updated them itself.
    mutating func flush(_ db: any SQLConnection) throws {
        for name in changed.sorted() {
            guard let row = accounts[name] else { preconditionFailure("a changed account is cached") }
            try Books.setBalance(db, name, row.balance)
        }
        changed.removeAll()
    }

    private mutating func account(_ db: any SQLConnection, _ name: String, field: String, currency: String) throws -> AccountRow {
        let row: AccountRow
        if let cached = accounts[name] {
            row = cached
        } else {
            guard let loaded = try Books.account(db, name, forUpdate: true) else { throw LedgerError.accountNotFound(name, field: field) }
            accounts[name] = loaded
            row = loaded
        }
        guard row.currency == currency else { throw LedgerError.currencyMismatch(name, has: row.currency, wanted: currency) }
        return row
    }

    /// ``Books/requireFunds(_:_:_:now:)`` with the payer's holds expired and summed once per batch.
    private mutating func requireFunds(_ db: any SQLConnection, _ payer: AccountRow, _ amount: Int64) throws {
        guard !payer.isExternal else { return }
        let reserved: Int64
        if let known = held[payer.name] {
            reserved = known
        } else {
            try Books.expireHolds(db, of: payer.name, now: now)
            reserved = try Books.held(db, payer.name, now: now)
            held[payer.name] = reserved
        }
        let available = payer.balance - reserved
        guard available >= amount else { throw LedgerError.insufficientFunds(payer.name, available: available, wanted: amount) }
    }
}

extension AccountRow {
    /// The same account with another balance.
    func with(balance: Int64) -> AccountRow {
        AccountRow(name: name, displayName: displayName, kind: kind, currency: currency, balance: balance)
    }
}

extension EntryResult {
    /// The result of `request`, journaled as `entryID` at `now`: what a replay of it returns too.
    init(_ request: MovementRequest, entryID: Int64, now: Int64) {
        self.init(
            entryID: entryID, kind: request.kind.rawValue, from: request.from, to: request.to, amount: request.amount.description,
            currency: request.currency, memo: request.memo, idempotencyKey: request.idempotencyKey,
            grantID: request.grantID, createdAt: LedgerTime.format(milliseconds: now))
    }
}
