import ArgumentParser
import Banking
import Crypto
import Foundation
import Ledger
import RPC
import RPCTesting
import SQLiteKit

@main
struct LedgerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-bench",
        abstract: "Durable transfers per second through the real ledger-svc, beside a naive baseline measured in the same run.",
        discussion: """
            Starts ledger-svc (from the folder of this executable) on a throw-away home with a
            fresh grant key, then measures signed, durable (synchronous=FULL) transfers with 1
            client, with 64 concurrent clients, and through ledger.transfer_batch. The baseline
            is plain Swift on libsqlite3: one BEGIN IMMEDIATE … COMMIT per transfer.
            Grants are signed before the clock starts (signing is approval-svc's work).

            Example:
              swift build -c release --product ledger-svc && swift build -c release --product ledger-bench
              .build/release/ledger-bench
            """)

    @Option(help: "Transfers with one client.")
    var single = 2_000
    @Option(help: "Transfers with 64 concurrent clients.")
    var concurrent = 30_000
    @Option(help: "Transfers through ledger.transfer_batch.")
    var batched = 40_000
    @Option(help: "Elements per ledger.transfer_batch call (at most 500).")
    var batchSize = 500
    @Option(help: "Concurrent clients sending batches.")
    var batchClients = 4
    @Option(help: "Transfers for the naive baseline.")
    var baseline = 500
    @Flag(help: "Print one JSON object per figure (figure, value, unit, baseline, ratio, target), for scripts/bench.")
    var jsonl = false

    func run() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let signer = try GrantKeys.loadOrCreateSigner(in: home.directory)
        let service = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: home)
        defer { Task { await service.terminate() } }
        let bench = Bench(home: home, signer: signer)
        try await bench.openAccounts(count: 64)

        let naive = try Baseline.run(transfers: baseline, folder: home.directory.data.path)
        let verifyRate = try bench.verifyRate(count: 2_000)
        var rows: [(String, Int, Double)] = []
        rows.append(("1 client, ledger.transfer", single, try await bench.transfers(total: single, clients: 1)))
        rows.append(("64 clients, ledger.transfer", concurrent, try await bench.transfers(total: concurrent, clients: 64)))
        rows.append(("\(batchClients) clients, transfer_batch of \(batchSize)", batched,
                     try await bench.batches(total: batched, size: batchSize, clients: batchClients)))
        let verdict = try await bench.client.call("ledger.verify", NoParams(), as: VerifyResult.self)
        if jsonl { return BenchFigure.print(Self.figures(rows, naive: naive.rate, balanced: verdict.balanced)) }

        print("ledger-bench: durable (synchronous=FULL) transfers per second, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print(Self.pad("scenario", 40) + Self.pad("transfers", 11) + Self.pad("seconds", 9) + Self.pad("transfers/s", 13) + "vs baseline")
        print(Self.pad("baseline: 1 tx per transfer, libsqlite3", 40) + Self.pad("\(baseline)", 11)
              + Self.pad(String(format: "%.2f", naive.seconds), 9) + Self.pad(String(format: "%.0f", naive.rate), 13) + "1.0x")
        for (name, count, seconds) in rows {
            let rate = Double(count) / seconds
            print(Self.pad(name, 40) + Self.pad("\(count)", 11) + Self.pad(String(format: "%.2f", seconds), 9)
                  + Self.pad(String(format: "%.0f", rate), 13) + String(format: "%.1fx", rate / naive.rate))
        }
        print(String(format: "for scale: one core verifies %.0f Ed25519 grants/s (every transfer verifies one)", verifyRate))
        print("books balanced after the run: \(verdict.balanced) (\(verdict.entries) entries)")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// The ledger side of the benchmark: accounts, pre-signed grants, timed runs.
struct Bench {
    let home: TestHome
    let signer: GrantSigner
    let client: RPCClient

    init(home: TestHome, signer: GrantSigner) {
        self.home = home
        self.signer = signer
        self.client = (try? home.client("ledger", as: "operator")) ?? RPCClient(path: home.socket("ledger"))
    }

    func openAccounts(count: Int) async throws {
        for index in 0..<count {
            _ = try await client.call("ledger.open_account", OpenAccountParams(account: "src\(index)", openingBalance: "100000000.00"), as: AccountResult.self)
        }
        _ = try await client.call("ledger.open_account", OpenAccountParams(account: "dst"), as: AccountResult.self)
    }

    func params(_ index: Int, lane: Int, prefix: String) throws -> TransferParams {
        let key = "\(prefix)-\(index)"
        let action = Action(kind: .transfer, from: "src\(lane % 64)", to: "dst", amount: try Amount(parsing: "1.00"))
        let now = Date()
        let grant = try signer.sign(Grant.Body(
            grantID: "gr_\(prefix)_\(index)", approvalID: "ap_bench", approvalVersion: 1, runID: "bench", callID: key, action: action,
            idempotencyKey: key, approvers: ["policy:auto"], policyVersion: "bench", issuedAt: now, expiresAt: now.addingTimeInterval(3600),
            keyID: signer.keyID))
        return TransferParams(from: action.from!, to: "dst", amount: "1.00", idempotencyKey: key, grant: grant)
    }

    /// Seconds for `total` transfers spread over `clients` connections.
    func transfers(total: Int, clients: Int) async throws -> Double {
        let prefix = "t\(clients)"
        let lanes = try (0..<clients).map { lane in
            try stride(from: lane, to: total, by: clients).map { try params($0, lane: lane, prefix: prefix) }
        }
        let connections = try (0..<clients).map { _ in try home.client("ledger", as: "agent") }
        for connection in connections { _ = try await connection.call("ledger.balance", AccountParams(account: "dst"), as: BalanceResult.self) }
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (lane, work) in lanes.enumerated() {
                group.addTask {
                    for params in work { _ = try await connections[lane].call("ledger.transfer", params, as: EntryResult.self) }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        for connection in connections { await connection.close() }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Seconds for `total` transfers sent as batches of `size` over `clients` connections.
    func batches(total: Int, size: Int, clients: Int) async throws -> Double {
        let all = try (0..<total).map { try params($0, lane: $0, prefix: "b") }
        let chunks = stride(from: 0, to: total, by: size).map { TransferBatchParams(transfers: Array(all[$0..<min(total, $0 + size)])) }
        let connections = try (0..<clients).map { _ in try home.client("ledger", as: "agent") }
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<clients {
                group.addTask {
                    for chunk in stride(from: lane, to: chunks.count, by: clients) {
                        let result = try await connections[lane].call("ledger.transfer_batch", chunks[chunk], as: TransferBatchResult.self)
                        guard result.failed == 0 else { throw ValidationError("a batch element failed: \(result.results.first { $0.error != nil }!)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        for connection in connections { await connection.close() }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Grants one core verifies per second.
    func verifyRate(count: Int) throws -> Double {
        let grants = try (0..<count).map { try params($0, lane: 0, prefix: "v") }
        let verifier = signer.verifier
        let start = ContinuousClock.now
        for params in grants {
            try verifier.verify(params.grant!, permits: params.grant!.action, idempotencyKey: params.idempotencyKey)
        }
        let elapsed = ContinuousClock.now - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

/// The naive baseline: one durable transaction per transfer, no batching.
enum Baseline {
    static func run(transfers: Int, folder: String) throws -> (seconds: Double, rate: Double) {
        let path = folder + "/baseline.sqlite"
        let db = try SQLiteConnection(path: path)
        try db.executeScript("""
            PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
            CREATE TABLE accounts (name TEXT PRIMARY KEY, balance INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE entries (id INTEGER PRIMARY KEY, from_account TEXT, to_account TEXT, amount INTEGER, idempotency_key TEXT UNIQUE);
            INSERT INTO accounts VALUES ('a', 100000000), ('b', 0);
            """)
        let start = ContinuousClock.now
        for index in 0..<transfers {
            try db.execute("BEGIN IMMEDIATE")
            let balance = try db.queryOne("SELECT balance FROM accounts WHERE name = 'a'") { $0.int(0) } ?? 0
            guard balance >= 100 else { throw ValidationError("baseline ran out of funds") }
            try db.execute("UPDATE accounts SET balance = balance - 100 WHERE name = 'a'")
            try db.execute("UPDATE accounts SET balance = balance + 100 WHERE name = 'b'")
            try db.execute("INSERT INTO entries (from_account, to_account, amount, idempotency_key) VALUES ('a', 'b', 100, ?)", [.text("k\(index)")])
            try db.execute("COMMIT")
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (seconds, Double(transfers) / seconds)
    }
}
