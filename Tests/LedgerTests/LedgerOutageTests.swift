import Foundation
import Logging
@testable import PostgresSupport
import RPC
import RPCTesting
import Synchronization
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

    /// Every connection ledger-svc has to its database is cut, again and again, while
    /// transfers stream in. Whatever a transfer was told, a retry with its key tells the
    /// truth: a transfer reported made answers with the same entry (it was committed,
    /// never reported from a connection that had lost its transaction), one reported
    /// failed is made now, and in the end each key moved money once.
    @Test func connectionsCutUnderLoadNeverReportAnUncommittedTransfer() async throws {
        let url = try PostgresTestCluster.shared().createDatabase(prefix: "cut")
        let database = try #require(URLComponents(string: url)?.path.dropFirst()).description
        let ledger = try await LedgerHarness.start(arguments: ["--database", url])
        defer { Task { await ledger.stop() } }
        try await ledger.open("payer", "1000.00")
        try await ledger.open("payee")
        let keys = (0..<160).map { "cut-\($0)" }
        let grants = try keys.map { try ledger.grant(.transfer, from: "payer", to: "payee", amount: "1.00", key: $0) }
        let cutsSoFar = CutCount()
        let cutter = Task {
            var cuts = 0
            while !Task.isCancelled {
                _ = try? PostgresTestCluster.shared().runProgram("psql", [
                    "-q", "-At", url.replacingOccurrences(of: "/\(database)?", with: "/postgres?"), "-c",
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()",
                ])
                cuts += 1
                cutsSoFar.record()
                try? await Task.sleep(for: .milliseconds(Int.random(in: 5...40)))
            }
            return cuts
        }
        // Eight clients, twenty transfers each, while the connections are cut.
        let first = await withTaskGroup(of: [(Int, Result<JSONValue, RPCError>)].self) { group in
            for lane in 0..<8 {
                group.addTask {
                    var outcomes: [(Int, Result<JSONValue, RPCError>)] = []
                    for index in stride(from: lane, to: keys.count, by: 8) {
                        // Paced by the cutter (a cut is a psql process, slower than a transfer on a
                        // fast day): transfer 20 waits for the first cut, 40 for the second, and so on,
                        // so the stream always spans cuts, however fast either runs.
                        while cutsSoFar.value < index / 20 { try? await Task.sleep(for: .milliseconds(5)) }
                        let params = try! ledger.transferParams("payer", "payee", "1.00", key: keys[index], grant: grants[index])
                        do {
                            outcomes.append((index, .success(try await ledger.call("ledger.transfer", params, as: "agent"))))
                        } catch let error as RPCError {
                            outcomes.append((index, .failure(error)))
                        } catch {
                            outcomes.append((index, .failure(RPCError(.internal, reason: "NOT_AN_RPC_ERROR", "\(error)"))))
                        }
                    }
                    return outcomes
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        cutter.cancel()
        let cuts = await cutter.value
        let failures = first.compactMap { if case .failure(let error) = $0.1 { error.reason } else { nil } }
        #expect(Set(failures).isSubset(of: ["DATABASE_UNAVAILABLE", "COMMIT_OUTCOME_UNKNOWN"]), "\(failures)")
        #expect(cuts > 5, "the connections were cut \(cuts) times")
        // Every key again, until it is made: a reported success must be found as it was.
        for (index, outcome) in first {
            let params = try ledger.transferParams("payer", "payee", "1.00", key: keys[index], grant: grants[index])
            var retried: JSONValue?
            for _ in 0..<20 where retried == nil {
                retried = try? await ledger.call("ledger.transfer", params, as: "agent")
                if retried == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let entry = try #require(retried, "\(keys[index]) could not be made after the cuts")["entry_id"]
            if case .success(let result) = outcome {
                #expect(result["entry_id"] == entry, "\(keys[index]) was reported made as entry \(result["entry_id"]?.jsonText() ?? "?") but is \(entry?.jsonText() ?? "?")")
            }
        }
        #expect(try await ledger.balance("payee").0 == "160.00", "each key moved 1.00 once")
        try await ledger.expectBalanced()
    }

    /// The writer's connection dies inside a transaction, before COMMIT is sent: COMMIT
    /// must fail and the transaction's row must not exist. A lane that connected again
    /// and sent COMMIT on the new session would hear "COMMIT" (PostgreSQL only warns
    /// that no transaction is open) and report a write that was never made.
    @Test func aCommitNeverRunsOnAConnectionOtherThanItsTransactions() async throws {
        let url = try PostgresTestCluster.shared().createDatabase(prefix: "lost")
        let database = try await PostgresSQLDatabase.open(
            url: try PostgresURL(parsing: url), migrations: [PostgresMigration(1, ["CREATE TABLE notes (text TEXT NOT NULL)"])],
            name: "lost", logger: Logger(label: "test"))
        defer { Task { await database.close() } }
        let lane = PostgresLaneConnection(
            configuration: try PostgresPool.connectionConfiguration(try PostgresURL(parsing: url)), url: try PostgresURL(parsing: url),
            role: "test", logger: Logger(label: "test"))
        defer { lane.disconnect() }
        try lane.executeLater("BEGIN")
        try lane.execute("INSERT INTO notes (text) VALUES (?)", [.text("never committed")])
        let pid = try #require(try lane.queryOne("SELECT pg_backend_pid()", [], { $0.int(0) }))
        let maintenance = url.replacingOccurrences(of: #"/lost_[0-9_]+\?"#, with: "/postgres?", options: .regularExpression)
        _ = try PostgresTestCluster.shared().runProgram("psql", ["-q", "-At", maintenance, "-c", "SELECT pg_terminate_backend(\(pid))"])
        try await Task.sleep(for: .milliseconds(300))
        #expect(throws: (any Error).self, "COMMIT after the connection was lost must fail") { try lane.execute("COMMIT") }
        lane.rollBack()
        #expect(try await database.read { db in try db.queryOne("SELECT count(*) FROM notes", [], { $0.int(0) }) } == 0)
        // Once the transaction is over, the lane connects again.
        try lane.executeLater("BEGIN")
        try lane.execute("INSERT INTO notes (text) VALUES (?)", [.text("after")])
        #expect(try lane.commit() == "COMMIT")
        #expect(try await database.read { db in try db.queryOne("SELECT count(*) FROM notes", [], { $0.int(0) }) } == 1)
    }
}

/// How many times the cutter has cut the connections so far (read by the paced clients).
private final class CutCount: Sendable {
    private let count = Atomic<Int>(0)
    func record() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
