import Banking
import Foundation
import Logging
import PostgresSupport
import RPC
import SQLiteKit

/// The books: accounts, the double-entry journal, holds, grants consumed and
/// idempotency keys, in one SQLite database or in PostgreSQL shared by replicas.
///
/// Every mutation runs on the database's writer inside its own savepoint of a
/// group commit, so a check (funds, grant unused, key new) and the write it guards
/// are atomic, and the caller hears back only once the commit is durable. On
/// PostgreSQL the rows a mutation checks are locked (accounts, holds) and single use
/// is a unique constraint, so replicas' writers take turns where they meet and a
/// loser runs again to see the winner's row. Signatures are checked before,
/// concurrently, off the writer.
public final class Ledger: Sendable {
    /// The bank's equity account: deposits come from it; it may go negative.
    public static let externalAccount = "external"

    let database: any SQLDatabase
    let verifier: GrantVerifier
    let clock: @Sendable () -> Date
    let logger: Logger

    private init(database: any SQLDatabase, verifier: GrantVerifier, clock: @escaping @Sendable () -> Date, logger: Logger) {
        self.database = database
        self.verifier = verifier
        self.clock = clock
        self.logger = logger
    }

    /// Opens (creating and migrating) the ledger's SQLite database.
    /// - Parameters:
    ///   - path: the database file, e.g. `<home>/data/ledger.sqlite`.
    ///   - verifier: checks grants against approval-svc's public key.
    ///   - limits: group commit and reader limits.
    ///   - clock: the current time (tests move it).
    ///   - logger: for start-up and failures.
    /// - Throws: ``SQLiteError`` or ``SQLiteIntegrityError``.
    public convenience init(
        path: String, verifier: GrantVerifier, limits: SQLiteDatabase.Limits = .init(),
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) throws {
        self.init(
            database: try SQLiteDatabase(path: path, migrations: LedgerSchema.migrations, limits: limits, logger: logger),
            verifier: verifier, clock: clock, logger: logger)
    }

    /// Opens the ledger in PostgreSQL (migrating it once, whichever replica starts
    /// first), for any number of replicas sharing the database.
    /// - Parameters:
    ///   - url: the database.
    ///   - verifier: checks grants against approval-svc's public key.
    ///   - limits: group commit, reader and retry limits.
    ///   - clock: the current time (tests move it).
    ///   - logger: for start-up and failures.
    /// - Throws: ``PostgresURLError``; DATABASE_UNAVAILABLE when it cannot be reached.
    public static func postgres(
        _ url: PostgresURL, verifier: GrantVerifier, limits: PostgresSQLDatabase.Limits = .init(),
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) async throws -> Ledger {
        let database = try await PostgresSQLDatabase.open(
            url: url, migrations: LedgerSchema.postgres, name: "ledger", limits: limits, logger: logger)
        return Ledger(database: database, verifier: verifier, clock: clock, logger: logger)
    }

    /// Stops the database threads once queued work is done.
    public func close() async {
        await database.close()
    }

    var nowMs: Int64 { LedgerTime.milliseconds(clock()) }

    /// Checks a grant's signature, expiry and binding without touching the
    /// database: pure CPU, so it runs on the caller's task, not the writer.
    func check(_ request: MovementRequest, now: Date) -> RPCError? {
        guard let grant = request.grant else { return LedgerError.grantMissing }
        do {
            try verifier.verify(grant, permits: request.action, idempotencyKey: request.idempotencyKey, now: now)
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            return RPCError(.permissionDenied, reason: "GRANT_SIGNATURE_INVALID", "the grant could not be verified")
        }
    }

    // MARK: - Accounts

    /// `ledger.open_account`: opens a customer account, optionally with an
    /// opening balance from `external` (the operator's authority: the one
    /// movement without a grant, journaled as kind `opening`). Opening the same
    /// account again with the same details returns the original result.
    /// - Parameter params: the wire params.
    /// - Returns: the account.
    /// - Throws: INVALID_ARGUMENT naming the field; ALREADY_EXISTS/ACCOUNT_EXISTS.
    public func openAccount(_ params: OpenAccountParams) async throws -> AccountResult {
        let name = try Validate.account(params.account, field: "account")
        guard name != Self.externalAccount else { throw LedgerError.accountExists(name) }
        let displayName = try Validate.text(params.displayName, field: "display_name", limit: LedgerLimits.maximumDisplayNameLength) ?? name
        let currency = try Validate.currency(params.currency, field: "currency")
        let opening = try Self.openingBalance(params.openingBalance)
        let now = nowMs
        return try await database.write { db in
            if let existing = try db.queryOne(
                "SELECT display_name, currency, opening_balance, opened_at FROM accounts WHERE name = ?", [.text(name)],
                { (display: $0.text(0), currency: $0.text(1), opening: $0.int(2), openedAt: $0.int(3)) }) {
                guard existing.display == displayName, existing.currency == currency, existing.opening == opening else {
                    throw LedgerError.accountExists(name)
                }
                return AccountResult(account: name, displayName: displayName, currency: currency,
                                     openingBalance: Money.format(opening), openedAt: LedgerTime.format(milliseconds: existing.openedAt))
            }
            try db.execute(
                "INSERT INTO accounts (name, display_name, kind, currency, balance, opening_balance, opened_at) VALUES (?, ?, 'customer', ?, 0, ?, ?)",
                [.text(name), .text(displayName), .text(currency), .integer(opening), .integer(now)])
            if opening > 0 {
                guard let external = try Books.account(db, Self.externalAccount, forUpdate: true), let account = try Books.account(db, name, forUpdate: true) else {
                    throw RPCError.internalError()
                }
                _ = try Books.post(db, kind: "opening", from: external, to: account, amount: opening, currency: currency,
                                   memo: "opening balance", idempotencyKey: nil, grantID: nil, holdID: nil, now: now)
            }
            return AccountResult(account: name, displayName: displayName, currency: currency,
                                 openingBalance: Money.format(opening), openedAt: LedgerTime.format(milliseconds: now))
        }
    }

    private static func openingBalance(_ text: String?) throws -> Int64 {
        guard let text else { return 0 }
        do {
            return try Amount(parsing: text).minorUnits
        } catch let error as AmountError {
            throw RPCError.invalidParams(field: "opening_balance", error.description, reason: error.reason)
        }
    }

    // MARK: - Movements

    /// `ledger.deposit`: money from `external` into an account, under a grant.
    /// - Parameter params: the wire params.
    /// - Returns: the entry (the original one when the key was seen before).
    /// - Throws: INVALID_ARGUMENT, PERMISSION_DENIED (GRANT_*), NOT_FOUND, ALREADY_EXISTS.
    public func deposit(_ params: DepositParams) async throws -> EntryResult {
        let request = try Validate.deposit(params)
        let denial = check(request, now: clock())
        let now = nowMs
        return try await database.write { db in try Self.apply(db, request, denial: denial, now: now) }
    }

    /// `ledger.transfer`: money between two customer accounts, under a grant.
    /// - Parameter params: the wire params.
    /// - Returns: the entry (the original one when the key was seen before).
    /// - Throws: INVALID_ARGUMENT, PERMISSION_DENIED (GRANT_*), NOT_FOUND,
    ///   FAILED_PRECONDITION/INSUFFICIENT_FUNDS, ALREADY_EXISTS/IDEMPOTENCY_KEY_REUSED.
    public func transfer(_ params: TransferParams) async throws -> EntryResult {
        let request = try Validate.transfer(params)
        let denial = check(request, now: clock())
        let now = nowMs
        return try await database.write { db in try Self.apply(db, request, denial: denial, now: now) }
    }

    /// Applies one movement inside the writer's transaction, in this order:
    /// a known key answers with its original result (a replay moves nothing,
    /// so it needs no fresh grant); then the grant's verdict; then single use;
    /// then the accounts and funds; then the entry, the grant consumed and the
    /// key remembered, all in the same transaction.
    static func apply(_ db: any SQLConnection, _ request: MovementRequest, denial: RPCError?, now: Int64) throws -> EntryResult {
        try apply(db, request, denial: denial, now: now) { try move($0, $1, now: now) }
    }

    /// ``apply(_:_:denial:now:)`` with the movement itself done by `move`
    /// (``BatchBooks/move(_:_:)`` inside a batch).
    static func apply(
        _ db: any SQLConnection, _ request: MovementRequest, denial: RPCError?, now: Int64,
        move: (any SQLConnection, MovementRequest) throws -> EntryResult
    ) throws -> EntryResult {
        if let original = try replay(db, request) { return original }
        do {
            if let denial { throw denial }
            try Books.requireUnused(db, request.use)
            let result = try move(db, request)
            try Books.consume(db, request.use, entryID: result.entryID, now: now)
            return result
        } catch let refusal as RPCError {
            return try original(db, request, else: refusal)
        }
    }

    /// The answer to a request that was just refused: its original result if the key
    /// was committed after the first replay read, else the refusal. On PostgreSQL each
    /// statement reads the newest commit, so another replica that made this very
    /// request can commit between that read and the check that refused it (its grant
    /// now used, its funds now spent); the caller must hear the replay, as on SQLite,
    /// where the single writer makes this find nothing. A refusal comes before any write.
    static func original(_ db: any SQLConnection, _ request: MovementRequest, else refusal: RPCError) throws -> EntryResult {
        if let original = try replay(db, request) { return original }
        throw refusal
    }

    /// The original result when the request's key was used before with the same request.
    /// - Throws: ALREADY_EXISTS/IDEMPOTENCY_KEY_REUSED for a different request.
    static func replay(_ db: any SQLConnection, _ request: MovementRequest) throws -> EntryResult? {
        try IdempotencyStore.replayEntry(db, scope: request.kind.rawValue, key: request.idempotencyKey, fingerprint: request.fingerprint)
    }

    /// Checks the accounts and funds, writes the entry under `request.grantID`, and
    /// remembers the key. Consuming the grant is the caller's job.
    static func move(_ db: any SQLConnection, _ request: MovementRequest, now: Int64) throws -> EntryResult {
        let scope = request.kind.rawValue
        let (payer, payee) = try Books.requirePair(
            db, payer: (request.from, "from"), payee: (request.to, request.kind == .deposit ? "account" : "to"), currency: request.currency)
        let amount = request.amount.minorUnits
        try Books.requireFunds(db, payer, amount, now: now)
        let entryID = try Books.post(
            db, kind: scope, from: payer, to: payee, amount: amount, currency: request.currency, memo: request.memo,
            idempotencyKey: request.idempotencyKey, grantID: request.grantID, holdID: nil, now: now)
        try IdempotencyStore.remember(
            db, scope: scope, key: request.idempotencyKey, fingerprint: request.fingerprint, entryID: entryID, now: now)
        return EntryResult(request, entryID: entryID, now: now)
    }
}
