import Banking
import Foundation
import RPC
import RPCTesting
import Synchronization
import Testing

/// Counts and notes shared by concurrent test tasks.
final class Tally: Sendable {
    struct Counts {
        var applied = 0
        var refused = 0
        var unexpected: [String] = []
        var answered: [Int: JSONValue] = [:]
    }
    let counts = Mutex(Counts())
}

/// Many clients at once, and a crash in the middle of a stream of transfers.
struct LedgerStressTests {
    /// 32 clients move random amounts between 4 accounts holding $100 each:
    /// some transfers must fail for funds, none may overdraw, nothing else may
    /// fail (no SQLITE_BUSY reaches a client), and the books balance.
    @Test(arguments: DatabaseBackend.allCases) func concurrentTransfersNeverOverdraw(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        let accounts = ["a", "b", "c", "d"]
        for account in accounts { try await ledger.open(account, "100.00") }
        let tally = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<32 {
                group.addTask {
                    let client = try ledger.home.client("ledger", as: "agent")
                    defer { Task { await client.close() } }
                    for step in 0..<25 {
                        let from = accounts[(worker + step) % 4]
                        let to = accounts[(worker + step * 3 + 1) % 4]
                        guard from != to else { continue }
                        let amount = "\(Int.random(in: 5...60)).\(Int.random(in: 10...99))"
                        let key = "w\(worker)-s\(step)"
                        let grant = try ledger.grant(.transfer, from: from, to: to, amount: amount, key: key)
                        do {
                            _ = try await client.call("ledger.transfer", try ledger.transferParams(from, to, amount, key: key, grant: grant), as: JSONValue.self)
                            tally.counts.withLock { $0.applied += 1 }
                        } catch let error as RPCError where error.reason == "INSUFFICIENT_FUNDS" {
                            tally.counts.withLock { $0.refused += 1 }
                        } catch {
                            tally.counts.withLock { $0.unexpected.append("\(error)") }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let counts = tally.counts.withLock { $0 }
        #expect(counts.unexpected.isEmpty, "\(counts.unexpected.prefix(5))")
        #expect(counts.applied > 0)
        #expect(counts.refused > 0, "the test should push accounts to their limit")
        var total: Int64 = 0
        for account in accounts {
            let posted = try await ledger.balance(account).0
            #expect(!posted.hasPrefix("-"), "\(account) overdrawn: \(posted)")
            total += Int64(posted.replacingOccurrences(of: ".", with: ""))!
        }
        #expect(total == 40_000)
        try await ledger.expectBalanced()
        #expect(!ledger.service.log.contains("SQLITE_BUSY") && !ledger.service.log.contains("database is locked"))
    }

    /// kill -9 during a stream of idempotent transfers; restart; replay every
    /// key with its grant: each transfer is applied exactly once, answers that
    /// were received before the crash come back identical, the books balance.
    @Test(arguments: DatabaseBackend.allCases) func crashDuringTransfersThenReplayAppliesEachOnce(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        try await ledger.open("payer", "1000.00")
        try await ledger.open("payee")
        let count = 400
        let requests = try (0..<count).map { index -> JSONValue in
            let key = "crash-\(index)"
            return try ledger.transferParams("payer", "payee", "1.00", key: key,
                                             grant: try ledger.grant(.transfer, from: "payer", to: "payee", amount: "1.00", key: key))
        }
        let tally = Tally()
        let stream = Task {
            await withTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        guard let client = try? ledger.home.client("ledger", as: "agent") else { return }
                        for index in stride(from: lane, to: count, by: 8) {
                            guard let result = try? await client.call("ledger.transfer", requests[index], as: JSONValue.self,
                                                                       options: .init(timeout: .seconds(2), retryWindow: .zero))
                            else { return }
                            tally.counts.withLock { $0.answered[index] = result }
                        }
                    }
                }
            }
        }
        while tally.counts.withLock({ $0.answered.count }) < 60 { try await Task.sleep(for: .milliseconds(5)) }
        await ledger.service.kill9()
        await stream.value
        let beforeCrash = tally.counts.withLock { $0.answered }
        #expect(beforeCrash.count < count, "the crash should interrupt the stream")

        let restarted = try await ledger.restarted()
        defer { Task { await restarted.stop() } }
        let client = try restarted.home.client("ledger", as: "agent")
        for (index, request) in requests.enumerated() {
            let result = try await client.call("ledger.transfer", request, as: JSONValue.self, options: .init(idempotent: true))
            if let original = beforeCrash[index] { #expect(result == original, "replay of \(index) differs") }
        }
        // And once more: nothing moves.
        for request in requests.prefix(20) { _ = try await client.call("ledger.transfer", request, as: JSONValue.self) }
        await client.close()
        #expect(try await restarted.balance("payer").0 == "600.00")
        #expect(try await restarted.balance("payee").0 == "400.00")
        let verdict = try await restarted.call("ledger.verify")
        #expect(verdict["balanced"] == true)
        #expect(verdict["entries"] == .int(Int64(count + 1)))
    }
}
