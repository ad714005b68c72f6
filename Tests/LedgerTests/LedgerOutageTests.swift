import Foundation
import RPC
import RPCTesting
import Testing

/// PostgreSQL goes away under a running ledger-svc and comes back: calls made
/// meanwhile fail UNAVAILABLE and say so, nothing is half-written, and a retry with
/// the same key moves the money once.
struct LedgerOutageTests {
    @Test func movementsDuringAnOutageFailCleanlyAndTheirRetryMovesMoneyOnce() async throws {
        let cluster = try PostgresTestCluster.start(durable: true)
        let ledger = try await LedgerHarness.start(arguments: ["--database", try cluster.createDatabase(prefix: "outage")])
        defer { Task { await ledger.stop() } }
        try await ledger.open("payer", "100.00")
        try await ledger.open("payee")
        try await ledger.transfer("payer", "payee", "10.00", key: "before")

        try cluster.crash()
        let grant = try ledger.grant(.transfer, from: "payer", to: "payee", amount: "25.00", key: "during")
        let params = try ledger.transferParams("payer", "payee", "25.00", key: "during", grant: grant)
        try await ledger.expectError("ledger.transfer", params, as: "agent", .unavailable, "DATABASE_UNAVAILABLE")
        try await ledger.expectError("ledger.balance", ["account": "payer"], .unavailable, "DATABASE_UNAVAILABLE")

        try cluster.startAgain()
        // The writer and the readers connect again by themselves; the retry is made once.
        let first = try await ledger.call("ledger.transfer", params, as: "agent")
        let again = try await ledger.call("ledger.transfer", params, as: "agent")
        #expect(first["entry_id"] == again["entry_id"], "a retry with the same key answers with the same entry")
        #expect(try await ledger.balance("payer").0 == "65.00", "10.00 before the outage, 25.00 once after it")
        try await ledger.expectBalanced()
    }
}
