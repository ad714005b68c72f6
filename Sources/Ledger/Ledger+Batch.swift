import Banking
import Foundation
import RPC
import SQLiteKit

extension Ledger {
    /// One batch element after validation and the grant check, or why it failed.
    typealias Prepared = Result<(request: MovementRequest, denial: RPCError?), RPCError>

    /// A batch grant's verdict on a whole batch, computed before the write.
    struct Coverage: Sendable {
        let use: GrantUse
        /// Why the grant does not permit this batch (PERMISSION_DENIED), or nil.
        let denial: RPCError?
    }

    /// `ledger.transfer_batch`: many transfers in one call and one group commit.
    ///
    /// Each element is applied in order, on its own, exactly as `ledger.transfer`
    /// would apply it (same idempotency scope, same errors), unless it is marked
    /// `linked`: then it and the next element form a chain that is applied
    /// entirely or not at all (the others fail with ABORTED/LINKED_EVENT_FAILED).
    ///
    /// With a batch grant (`params.grant`) the elements carry no grants: the batch
    /// grant must cover exactly these transfers, in this order. It is consumed
    /// once, in the transaction that applies the batch; an element whose key was
    /// seen before answers with its original result, as everywhere.
    /// - Parameter params: at most ``LedgerLimits/maximumBatchTransfers`` elements, and an optional batch grant.
    /// - Returns: one outcome per element, in order.
    /// - Throws: INVALID_ARGUMENT when the batch itself is malformed.
    public func transferBatch(_ params: TransferBatchParams) async throws -> TransferBatchResult {
        let transfers = params.transfers
        guard (1...LedgerLimits.maximumBatchTransfers).contains(transfers.count) else {
            throw RPCError.invalidParams(field: "transfers", "must hold 1 to \(LedgerLimits.maximumBatchTransfers) transfers")
        }
        guard transfers.last?.linked != true else {
            throw RPCError.invalidParams(field: "transfers[\(transfers.count - 1)].linked", "the last element cannot open a chain")
        }
        if params.grant != nil, let index = transfers.firstIndex(where: { $0.grant != nil }) {
            throw RPCError.invalidParams(
                field: "transfers[\(index)].grant",
                "a batch under a batch grant (params.grant) carries no grants of its own; drop one or the other")
        }
        let now = clock()
        let prepared = await prepare(transfers, batchGrant: params.grant?.use, now: now)
        let coverage = params.grant.map { Coverage(use: $0.use, denial: verdict(on: $0, for: prepared, now: now)) }
        let chains = Self.chains(transfers)
        let nowMs = LedgerTime.milliseconds(now)
        return try await database.write { db in try Self.applyBatch(db, prepared, chains: chains, coverage: coverage, now: nowMs) }
    }

    /// Whether `grant` covers exactly the prepared batch: signature, expiry, then
    /// count, currency, total and digest. An element that failed validation
    /// cannot be part of an approved batch.
    func verdict(on grant: BatchGrant, for prepared: [Prepared], now: Date) -> RPCError? {
        var items: [BatchItem] = []
        items.reserveCapacity(prepared.count)
        for (index, element) in prepared.enumerated() {
            guard case .success(let valid) = element else {
                return RPCError(.permissionDenied, reason: "GRANT_BATCH_MISMATCH",
                                "element \(index) is invalid, so this batch is not the one the batch grant covers")
            }
            items.append(valid.request.batchItem)
        }
        return verdict { try self.verifier.verify(grant, covers: items, now: now) }
    }

    /// Validates and verifies every element, spread over the cores: Ed25519
    /// verification is the costliest part of a transfer and needs no database.
    func prepare(_ transfers: [TransferParams], batchGrant: GrantUse?, now: Date) async -> [Prepared] {
        let lanes = max(1, min(ProcessInfo.processInfo.activeProcessorCount, transfers.count / 32 + 1))
        let size = (transfers.count + lanes - 1) / lanes
        return await withTaskGroup(of: (Int, [Prepared]).self) { group in
            for lane in 0..<lanes {
                let range = min(transfers.count, lane * size)..<min(transfers.count, (lane + 1) * size)
                group.addTask { (lane, range.map { self.prepareOne(transfers[$0], index: $0, batchGrant: batchGrant, now: now) }) }
            }
            var parts: [(Int, [Prepared])] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }

    /// Validates one element (fields named `transfers[i].…`) and checks its own
    /// grant; under a batch grant there is none to check here.
    func prepareOne(_ transfer: TransferParams, index: Int, batchGrant: GrantUse?, now: Date) -> Prepared {
        do {
            let request = try Validate.transfer(transfer, prefix: "transfers[\(index)].", batchGrant: batchGrant)
            return .success((request: request, denial: batchGrant == nil ? check(request, now: now) : nil))
        } catch {
            return .failure((error as? RPCErrorConvertible)?.rpcError ?? RPCError.internalError())
        }
    }

    /// The index ranges of the chains: a linked element joins the next.
    static func chains(_ transfers: [TransferParams]) -> [Range<Int>] {
        var chains: [Range<Int>] = []
        var start = 0
        for (index, transfer) in transfers.enumerated() where transfer.linked != true {
            chains.append(start..<(index + 1))
            start = index + 1
        }
        return chains
    }

    static func applyBatch(
        _ db: any SQLConnection, _ prepared: [Prepared], chains: [Range<Int>], coverage: Coverage?, now: Int64
    ) throws -> TransferBatchResult {
        var outcomes = [BatchItemResult?](repeating: nil, count: prepared.count)
        var books = BatchBooks(now: now)
        // Checked once, in this transaction: a batch grant used by an earlier call moves nothing more.
        let usedBefore = try coverage.map { try Books.isUsed(db, $0.use) } ?? false
        var firstFreshEntry: Int64?
        for chain in chains {
            if chain.count == 1 {
                let index = chain.lowerBound
                let outcome = try applyAlone(db, prepared[index], coverage: coverage, usedBefore: usedBefore, books: &books, index: index)
                outcomes[index] = outcome.item
                if outcome.fresh, firstFreshEntry == nil { firstFreshEntry = outcome.item.result?.entryID }
                continue
            }
            try db.execute("SAVEPOINT batch_chain")
            let booksBefore = books
            var failure: (index: Int, error: RPCError)?
            var results: [(index: Int, result: EntryResult, fresh: Bool)] = []
            for index in chain {
                do {
                    let (request, denial) = try prepared[index].get()
                    if let coverage {
                        results.append(try applyCovered(db, request, coverage: coverage, usedBefore: usedBefore, books: &books, index: index))
                    } else {
                        results.append((index, try apply(db, request, denial: denial, now: now) { try books.move($0, $1) }, false))
                    }
                } catch let refusal as RPCErrorConvertible {
                    failure = (index, refusal.rpcError)
                    break
                }
                // Anything else is the database failing (on PostgreSQL, another replica's commit
                // meeting a unique constraint, say): it fails the whole request, which is tried again.
            }
            if let failure {
                try db.execute("ROLLBACK TO batch_chain")
                books = booksBefore
                for index in chain {
                    let error = index == failure.index ? failure.error : LedgerError.linkedFailed(index: failure.index)
                    outcomes[index] = BatchItemResult(index: index, result: nil, error: BatchItemError(error))
                }
            } else {
                for (index, result, fresh) in results {
                    outcomes[index] = BatchItemResult(index: index, result: result, error: nil)
                    if fresh, firstFreshEntry == nil { firstFreshEntry = result.entryID }
                }
            }
            try db.execute("RELEASE batch_chain")
        }
        try books.flush(db)
        if let coverage, let firstFreshEntry {
            precondition(!usedBefore, "a batch grant used before moves nothing")
            try Books.consume(db, coverage.use, entryID: firstFreshEntry, now: now)
        }
        let results = outcomes.map { $0! }
        let applied = results.count { $0.result != nil }
        return TransferBatchResult(results: results, applied: applied, failed: results.count - applied)
    }

    /// An element that is a chain by itself, without a savepoint of its own: a
    /// savepoint per element made SQLite journal every page each element touched
    /// (measured: more than half of the writer's time in a batch). That is safe
    /// because a movement refuses with an ``RPCError`` only before it writes (the
    /// one write before, marking the payer's lapsed holds expired, is right either
    /// way); anything else it throws is a database failure, rethrown here so the
    /// request's own savepoint rolls the whole batch back.
    private static func applyAlone(
        _ db: any SQLConnection, _ element: Prepared, coverage: Coverage?, usedBefore: Bool, books: inout BatchBooks, index: Int
    ) throws -> (item: BatchItemResult, fresh: Bool) {
        do {
            let (request, denial) = try element.get()
            if let coverage {
                let outcome = try applyCovered(db, request, coverage: coverage, usedBefore: usedBefore, books: &books, index: index)
                return (BatchItemResult(index: index, result: outcome.result, error: nil), outcome.fresh)
            }
            let result = try apply(db, request, denial: denial, now: books.now) { try books.move($0, $1) }
            return (BatchItemResult(index: index, result: result, error: nil), false)
        } catch let error as RPCErrorConvertible {
            return (BatchItemResult(index: index, result: nil, error: BatchItemError(error.rpcError)), false)
        }
    }

    /// One element under a batch grant: a replay answers with its original
    /// result; otherwise the grant's verdict, then single use, then the movement.
    private static func applyCovered(
        _ db: any SQLConnection, _ request: MovementRequest, coverage: Coverage, usedBefore: Bool, books: inout BatchBooks, index: Int
    ) throws -> (index: Int, result: EntryResult, fresh: Bool) {
        if let original = try replay(db, request) { return (index, original, false) }
        do {
            if let denial = coverage.denial { throw denial }
            if usedBefore { throw LedgerError.grantUsed(coverage.use, earlier: coverage.use.grantID) }
            return (index, try books.move(db, request), true)
        } catch let refusal as RPCError {
            return (index, try original(db, request, else: refusal), false)
        }
    }
}

extension BatchItemError {
    init(_ error: RPCError) {
        self.init(code: error.code, status: error.status.name, reason: error.reason, message: error.message,
                  field: error.details["field"]?.stringValue)
    }
}
