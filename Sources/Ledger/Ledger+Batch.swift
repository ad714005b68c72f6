import Banking
import Foundation
import RPC
import SQLiteKit

extension Ledger {
    /// One batch element after validation and the grant check, or why it failed.
    typealias Prepared = Result<(request: MovementRequest, denial: RPCError?), RPCError>

    /// `ledger.transfer_batch`: many transfers in one call and one group commit.
    ///
    /// Each element is applied in order, on its own, exactly as `ledger.transfer`
    /// would apply it (same idempotency scope, same errors), unless it is marked
    /// `linked`: then it and the next element form a chain that is applied
    /// entirely or not at all (the others fail with ABORTED/LINKED_EVENT_FAILED).
    /// - Parameter params: at most ``LedgerLimits/maximumBatchTransfers`` elements.
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
        let prepared = await prepare(transfers, now: clock())
        let chains = Self.chains(transfers)
        let now = nowMs
        return try await database.write { db in try Self.applyBatch(db, prepared, chains: chains, now: now) }
    }

    /// Validates and verifies every element, spread over the cores: Ed25519
    /// verification is the costliest part of a transfer and needs no database.
    func prepare(_ transfers: [TransferParams], now: Date) async -> [Prepared] {
        let lanes = max(1, min(ProcessInfo.processInfo.activeProcessorCount, transfers.count / 32 + 1))
        let size = (transfers.count + lanes - 1) / lanes
        return await withTaskGroup(of: (Int, [Prepared]).self) { group in
            for lane in 0..<lanes {
                let range = min(transfers.count, lane * size)..<min(transfers.count, (lane + 1) * size)
                group.addTask { (lane, range.map { self.prepareOne(transfers[$0], index: $0, now: now) }) }
            }
            var parts: [(Int, [Prepared])] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }

    /// Validates one element (fields named `transfers[i].…`) and checks its grant.
    func prepareOne(_ transfer: TransferParams, index: Int, now: Date) -> Prepared {
        do {
            let request = try Validate.transfer(transfer, prefix: "transfers[\(index)].")
            return .success((request: request, denial: check(request, now: now)))
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

    static func applyBatch(_ db: SQLiteConnection, _ prepared: [Prepared], chains: [Range<Int>], now: Int64) throws -> TransferBatchResult {
        var outcomes = [BatchItemResult?](repeating: nil, count: prepared.count)
        for chain in chains {
            try db.execute("SAVEPOINT batch_chain")
            var failure: (index: Int, error: RPCError)?
            var results: [(Int, EntryResult)] = []
            for index in chain {
                do {
                    let (request, denial) = try prepared[index].get()
                    results.append((index, try apply(db, request, denial: denial, now: now)))
                } catch {
                    failure = (index, (error as? RPCErrorConvertible)?.rpcError ?? RPCError.internalError())
                    break
                }
            }
            if let failure {
                try db.execute("ROLLBACK TO batch_chain")
                for index in chain {
                    let error = index == failure.index ? failure.error : LedgerError.linkedFailed(index: failure.index)
                    outcomes[index] = BatchItemResult(index: index, result: nil, error: BatchItemError(error))
                }
            } else {
                for (index, result) in results { outcomes[index] = BatchItemResult(index: index, result: result, error: nil) }
            }
            try db.execute("RELEASE batch_chain")
        }
        let results = outcomes.map { $0! }
        let applied = results.count { $0.result != nil }
        return TransferBatchResult(results: results, applied: applied, failed: results.count - applied)
    }
}

extension BatchItemError {
    init(_ error: RPCError) {
        self.init(code: error.code, status: error.status.name, reason: error.reason, message: error.message,
                  field: error.details["field"]?.stringValue)
    }
}
