import Banking
import Foundation
import RPC
import SQLiteKit

/// A hold row.
struct HoldRow: Sendable {
    let id: Int64
    let from: String
    let to: String
    let amount: Int64
    let currency: String
    let idempotencyKey: String
    let state: HoldState
    let expiresAt: Int64
    let createdAt: Int64
    let resolvedAt: Int64?
    let entryID: Int64?
    let grantID: String?
    let voidReason: String?
    let memo: String?

    var holdID: String { "hold_\(id)" }

    /// The transfer a grant must permit to post this hold, its memo included.
    var action: Action? {
        Amount(minorUnits: amount).map { Action(kind: .transfer, from: from, to: to, amount: $0, currency: currency, memo: memo) }
    }

    var result: HoldResult {
        HoldResult(
            holdID: holdID, state: state.rawValue, from: from, to: to, amount: Money.format(amount), currency: currency, memo: memo,
            idempotencyKey: idempotencyKey, expiresAt: LedgerTime.format(milliseconds: expiresAt),
            createdAt: LedgerTime.format(milliseconds: createdAt), entryID: entryID, grantID: grantID, voidReason: voidReason,
            resolvedAt: resolvedAt.map { LedgerTime.format(milliseconds: $0) })
    }

    /// The row id inside a public hold id (`hold_42` → 42).
    static func rowID(_ holdID: String) -> Int64? {
        guard holdID.hasPrefix("hold_"), let id = Int64(holdID.dropFirst(5)), id > 0 else { return nil }
        return id
    }

    /// The hold `holdID`; `forUpdate` inside a write that goes on to change it
    /// (on PostgreSQL a post and a void of one hold on two replicas take turns).
    static func load(_ db: any SQLConnection, _ holdID: String, forUpdate: Bool = false) throws -> HoldRow? {
        guard let id = rowID(holdID) else { return nil }
        return try db.queryOne("""
            SELECT id, from_account, to_account, amount, currency, idempotency_key, state, expires_at, created_at,
                   resolved_at, entry_id, grant_id, void_reason, memo FROM holds WHERE id = ?
            """ + (forUpdate ? db.dialect.forUpdate : ""), [.integer(id)]) { row in
            HoldRow(
                id: row.int(0), from: row.text(1), to: row.text(2), amount: row.int(3), currency: row.text(4),
                idempotencyKey: row.text(5), state: HoldState(rawValue: row.text(6)) ?? .expired, expiresAt: row.int(7),
                createdAt: row.int(8), resolvedAt: row.optionalInt(9), entryID: row.optionalInt(10),
                grantID: row.optionalText(11), voidReason: row.optionalText(12), memo: row.optionalText(13))
        }
    }
}

extension Ledger {
    /// `ledger.hold`: reserves funds for a transfer awaiting approval. Moves
    /// nothing, so it needs no grant; the funds stop counting as available
    /// until the hold is posted, voided, or expires at `expires_at`.
    /// - Parameter params: the wire params.
    /// - Returns: the pending hold (the original one when the key was seen before).
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/ACCOUNT_NOT_FOUND, FAILED_PRECONDITION/INSUFFICIENT_FUNDS,
    ///   ALREADY_EXISTS/IDEMPOTENCY_KEY_REUSED.
    public func hold(_ params: HoldParams) async throws -> HoldResult {
        let request = try Validate.hold(params, now: clock())
        let now = nowMs
        return try await database.write { db in
            let fingerprint = request.fingerprint
            if let original = try IdempotencyStore.replay(
                db, scope: "hold", key: request.idempotencyKey, fingerprint: fingerprint, as: HoldResult.self) {
                return original
            }
            do {
                let payer = try Books.requirePair(db, payer: (request.from, "from"), payee: (request.to, "to"), currency: request.currency).payer
                try Books.requireFunds(db, payer, request.amount.minorUnits, now: now)
            } catch let refusal as RPCError {
                // Another replica may have placed this very hold since the replay read (see `Ledger.original`).
                if let original = try IdempotencyStore.replay(
                    db, scope: "hold", key: request.idempotencyKey, fingerprint: fingerprint, as: HoldResult.self) {
                    return original
                }
                throw refusal
            }
            let id = try db.queryOne("""
                INSERT INTO holds (from_account, to_account, amount, currency, idempotency_key, state, expires_at, created_at, memo)
                VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) RETURNING id
                """, [.text(request.from), .text(request.to), .integer(request.amount.minorUnits), .text(request.currency),
                      .text(request.idempotencyKey), .integer(request.expiresAt), .integer(now), request.memo.map { .text($0) } ?? .null],
                { $0.int(0) })
            guard let id, let row = try HoldRow.load(db, "hold_\(id)") else { throw RPCError.internalError() }
            let result = row.result
            try IdempotencyStore.remember(
                db, scope: "hold", key: request.idempotencyKey, fingerprint: fingerprint, result: result, now: now)
            return result
        }
    }

    /// `ledger.post`: executes a pending hold under a grant whose action is the
    /// hold's transfer and whose idempotency key is the hold's. Posting again with
    /// the grant that posted it, or with a valid renewed grant of the same approval
    /// (a resume that retried after its grant was renewed), returns the same result.
    /// - Parameter params: the hold id and the grant.
    /// - Returns: the posted hold, with its entry id.
    /// - Throws: PERMISSION_DENIED (GRANT_*), NOT_FOUND/HOLD_NOT_FOUND,
    ///   FAILED_PRECONDITION (HOLD_EXPIRED, HOLD_VOIDED, HOLD_ALREADY_POSTED).
    public func post(_ params: PostParams) async throws -> HoldResult {
        let grant = try Validate.grant(params.grant)
        let holdID = params.holdID
        // A hold's action and key never change: a reader's snapshot is enough to check the grant.
        guard let snapshot = try await database.read({ db in try HoldRow.load(db, holdID) }), let action = snapshot.action else {
            throw LedgerError.holdNotFound(holdID)
        }
        let denial = verdict { try self.verifier.verify(grant, permits: action, idempotencyKey: snapshot.idempotencyKey, now: self.clock()) }
        let now = nowMs
        return try await database.write { db in
            guard let hold = try HoldRow.load(db, holdID, forUpdate: true) else { throw LedgerError.holdNotFound(holdID) }
            switch hold.state {
            case .posted:
                if hold.grantID == grant.grantID { return hold.result }
                // The same approval posted it under an earlier grant: the money moved once,
                // and the caller is told so rather than that the post failed.
                if denial == nil, try Self.postedUnder(db, approvalID: grant.use.approvalID, entryID: hold.entryID) { return hold.result }
                throw LedgerError.holdClosed(holdID, state: hold.state)
            case .voided, .expired:
                throw LedgerError.holdClosed(holdID, state: hold.state)
            case .pending:
                guard hold.expiresAt > now else { throw LedgerError.holdClosed(holdID, state: .expired) }
            }
            if let denial { throw denial }
            try Books.requireUnused(db, grant.use)
            try db.executeLater("UPDATE holds SET state = 'posted', resolved_at = ?, grant_id = ? WHERE id = ? AND state = 'pending'",
                           [.integer(now), .text(grant.grantID), .integer(hold.id)])
            let (payer, payee) = try Books.requirePair(db, payer: (hold.from, "from"), payee: (hold.to, "to"), currency: hold.currency)
            // The hold reserved these funds, so they are there: a failure here is a defect, and it rolls back.
            try Books.requireFunds(db, payer, hold.amount, now: now)
            let entryID = try Books.post(
                db, kind: "hold_post", from: payer, to: payee, amount: hold.amount, currency: hold.currency, memo: hold.memo,
                idempotencyKey: hold.idempotencyKey, grantID: grant.grantID, holdID: holdID, now: now)
            try Books.consume(db, grant.use, entryID: entryID, now: now)
            try db.executeLater("UPDATE holds SET entry_id = ? WHERE id = ?", [.integer(entryID), .integer(hold.id)])
            guard let posted = try HoldRow.load(db, holdID) else { throw RPCError.internalError() }
            assert(posted.state == .posted && posted.entryID == entryID)
            return posted.result
        }
    }

    /// `ledger.void`: releases a pending hold (a rejection, or the agent giving
    /// up). Voiding a voided hold again returns the same result.
    /// - Parameter params: the hold id and why.
    /// - Returns: the voided hold.
    /// - Throws: NOT_FOUND/HOLD_NOT_FOUND, FAILED_PRECONDITION (HOLD_ALREADY_POSTED, HOLD_EXPIRED).
    public func void(_ params: VoidParams) async throws -> HoldResult {
        let reason = try Validate.text(params.reason, field: "reason", limit: LedgerLimits.maximumVoidReasonLength, required: true) ?? ""
        let holdID = params.holdID
        let now = nowMs
        return try await database.write { db in
            guard let hold = try HoldRow.load(db, holdID, forUpdate: true) else { throw LedgerError.holdNotFound(holdID) }
            switch hold.state {
            case .voided:
                return hold.result
            case .posted, .expired:
                throw LedgerError.holdClosed(holdID, state: hold.state)
            case .pending:
                guard hold.expiresAt > now else { throw LedgerError.holdClosed(holdID, state: .expired) }
            }
            try db.executeLater("UPDATE holds SET state = 'voided', resolved_at = ?, void_reason = ? WHERE id = ?",
                           [.integer(now), .text(reason), .integer(hold.id)])
            guard let voided = try HoldRow.load(db, holdID) else { throw RPCError.internalError() }
            return voided.result
        }
    }

    /// Marks every pending hold past its expiry as expired (the sweeper's job).
    /// - Returns: how many holds expired.
    @discardableResult
    public func expireDueHolds() async throws -> Int {
        let now = nowMs
        return try await database.write { db in
            try db.execute("UPDATE holds SET state = 'expired', resolved_at = ? WHERE state = 'pending' AND expires_at <= ?",
                           [.integer(now), .integer(now)])
        }
    }

    /// Forgets idempotency keys older than the retention, a bounded number at a time.
    /// - Returns: how many keys were forgotten.
    @discardableResult
    public func purgeIdempotencyKeys() async throws -> Int {
        let cutoff = nowMs - LedgerLimits.idempotencyRetentionSeconds * 1000
        return try await database.write { db in
            try db.execute("""
                DELETE FROM idempotency WHERE (scope, key) IN
                    (SELECT scope, key FROM idempotency WHERE created_at < ? LIMIT ?)
                """, [.integer(cutoff), .integer(Int64(LedgerLimits.maximumPurgeRows))])
        }
    }

    func verdict(_ body: () throws -> Void) -> RPCError? {
        do {
            try body()
            return nil
        } catch {
            return (error as? RPCErrorConvertible)?.rpcError ?? RPCError(.permissionDenied, reason: "GRANT_SIGNATURE_INVALID", "the grant could not be verified")
        }
    }

    /// Whether the entry that posted a hold consumed a grant of `approvalID`.
    private static func postedUnder(_ db: any SQLConnection, approvalID: String, entryID: Int64?) throws -> Bool {
        guard let entryID else { return false }
        return try db.queryOne(
            "SELECT 1 FROM used_grants WHERE approval_id = ? AND entry_id = ? LIMIT 1", [.text(approvalID), .integer(entryID)]
        ) { _ in true } ?? false
    }
}
