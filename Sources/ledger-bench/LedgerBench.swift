import ArgumentParser
import Banking
import Crypto
import Foundation
import Ledger
import RPC
import PostgresSupport
import RPCTesting
import SQLiteKit
import ServiceKit

@main
struct LedgerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-bench",
        abstract: "Durable transfers per second through the real ledger-svc, beside a naive baseline measured in the same run.",
        discussion: """
            Starts ledger-svc (from the folder of this executable) on a throw-away home with a
            fresh grant key, then measures signed, durable (synchronous=FULL) transfers with 1
            client, with 64 concurrent clients, through ledger.transfer_batch with a grant per
            transfer, and through ledger.transfer_batch under one batch grant per batch. The
            baseline is plain Swift on libsqlite3: one BEGIN IMMEDIATE … COMMIT per transfer.
            Grants are signed before the clock starts (signing is approval-svc's work).
            "verify-only" is Ed25519 grant checks alone on every core, in this process: the
            ceiling for anything that verifies one grant per transfer on this machine.

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
    @Option(help: "Transfers through ledger.transfer_batch under one batch grant per batch.")
    var batchGranted = 100_000
    @Option(help: "Transfers for the naive baseline.")
    var baseline = 500
    @Option(help: "Grants for the verify-only measurement.")
    var verifications = 20_000
    @Flag(help: "Print one JSON object per figure (figure, value, unit, baseline, ratio, target), for scripts/bench.")
    var jsonl = false
    @Flag(help: "Also measure ledger-svc on PostgreSQL (a cluster of its own, durable settings), beside pgbench's simple-update on the same cluster.")
    var postgres = false
    @Option(help: "With --postgres: the share of each count measured on PostgreSQL (a round trip per statement makes it slower).")
    var postgresShare = 0.1

    func run() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let signer = try GrantKeys.loadOrCreateSigner(in: home.directory)
        let service = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: home)
        defer { Task { await service.terminate() } }
        let bench = Bench(home: home, signer: signer, serverPID: service.pid)
        try await bench.openAccounts(count: 64)

        let naive = try Baseline.run(transfers: baseline, folder: home.directory.data.path)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let oneCore = try await bench.verifyRate(count: verifications / 4, lanes: 1)
        let allCores = try await bench.verifyRate(count: verifications, lanes: cores)
        var rows: [(String, Int, Sample)] = []
        rows.append(("1 client, ledger.transfer", single, try await bench.transfers(total: single, clients: 1)))
        rows.append(("64 clients, ledger.transfer", concurrent, try await bench.transfers(total: concurrent, clients: 64)))
        rows.append(("\(batchClients) clients, batch of \(batchSize), grant each", batched,
                     try await bench.batches(total: batched, size: batchSize, clients: batchClients, batchGrant: false)))
        rows.append(("\(batchClients) clients, batch of \(batchSize), batch grant", batchGranted,
                     try await bench.batches(total: batchGranted, size: batchSize, clients: batchClients, batchGrant: true)))
        let verdict = try await bench.client.call("ledger.verify", NoParams(), as: VerifyResult.self)
        let onPostgres = postgres ? try await measurePostgres() : nil
        if jsonl {
            return BenchFigure.print(
                Self.figures(rows, naive: naive.rate, balanced: verdict.balanced) + (onPostgres.map { Self.figures(postgres: $0) } ?? []))
        }

        print("ledger-bench: durable (synchronous=FULL) transfers per second, \(cores) cores")
        print(Self.pad("scenario", 44) + Self.pad("transfers", 11) + Self.pad("seconds", 9) + Self.pad("per second", 13)
              + Self.pad("vs baseline", 13) + "CPU µs per transfer: ledger-svc (its writer thread), bench client")
        print(Self.pad("baseline: 1 tx per transfer, libsqlite3", 44) + Self.pad("\(baseline)", 11)
              + Self.pad(String(format: "%.2f", naive.seconds), 9) + Self.pad(String(format: "%.0f", naive.rate), 13) + "1.0x")
        for (name, count, sample) in rows {
            let rate = Double(count) / sample.seconds
            let perTransfer = { (cpu: Double) in String(format: "%.1f", cpu * 1e6 / Double(max(count, 1))) }
            print(Self.pad(name, 44) + Self.pad("\(count)", 11) + Self.pad(String(format: "%.2f", sample.seconds), 9)
                  + Self.pad(String(format: "%.0f", rate), 13) + Self.pad(String(format: "%.1fx", rate / naive.rate), 13)
                  + "\(perTransfer(sample.server)) (\(perTransfer(sample.writer))), \(perTransfer(sample.client))")
        }
        for (name, rate) in [("verify-only grants/s, 1 core", oneCore), ("verify-only grants/s, \(cores) cores", allCores)] {
            print(Self.pad(name, 44) + Self.pad("", 11) + Self.pad("", 9) + Self.pad(String(format: "%.0f", rate), 13)
                  + String(format: "%.1fx", rate / naive.rate))
        }
        print("(verify-only: Ed25519 + canonical bytes + expiry per grant, nothing else; the ceiling for one grant per transfer)")
        print("books balanced after the run: \(verdict.balanced) (\(verdict.entries) entries)")
        if let onPostgres { Self.printPostgres(onPostgres) }
    }

    /// The same transfers through a ledger-svc whose books are in PostgreSQL, and
    /// pgbench's simple-update on the same cluster (one row updated, one read, one
    /// history row inserted per transaction) with as many clients, as the baseline.
    func measurePostgres() async throws -> PostgresRows {
        let cluster = try PostgresTestCluster.start(durable: true)
        _ = try cluster.createDatabase(named: "pgbench")
        _ = try cluster.runProgram("pgbench", ["-i", "-q", "-s", "4", "pgbench"])
        func pgbench(clients: Int) throws -> Double {
            let output = try cluster.runProgram("pgbench", ["-b", "simple-update", "-c", "\(clients)", "-j", "2", "-T", "3", "-n", "pgbench"])
            guard let tps = PostgresTestCluster.tps(in: output) else { throw ValidationError("pgbench printed no tps:\n\(output)") }
            return tps
        }
        let home = try TestHome.make()
        defer { home.remove() }
        let signer = try GrantKeys.loadOrCreateSigner(in: home.directory)
        let service = try await ServiceProcess.launch(
            "ledger-svc", service: "ledger", home: home, arguments: ["--database", try cluster.createDatabase(prefix: "ledger")])
        defer { Task { await service.terminate() } }
        let bench = Bench(home: home, signer: signer, serverPID: service.pid)
        try await bench.openAccounts(count: 64)
        let share = { (count: Int) in max(64, Int(Double(count) * postgresShare)) }
        var rows: [(String, Int, Sample, Double, Double)] = []
        // The database server's CPU (its backends included) during each scenario.
        func measured(_ name: String, _ count: Int, clients: Int, _ run: () async throws -> Sample) async throws {
            let before = cluster.serverPID().map { ProcessCPU.seconds(ofTree: $0) } ?? 0
            let sample = try await run()
            let database = (cluster.serverPID().map { ProcessCPU.seconds(ofTree: $0) } ?? 0) - before
            rows.append((name, count, sample, database, try pgbench(clients: clients)))
        }
        try await measured("1 client, ledger.transfer", share(single), clients: 1) {
            try await bench.transfers(total: share(single), clients: 1)
        }
        try await measured("64 clients, ledger.transfer", share(concurrent), clients: 64) {
            try await bench.transfers(total: share(concurrent), clients: 64)
        }
        try await measured("\(batchClients) clients, batch of \(batchSize), grant each", share(batched), clients: batchClients) {
            try await bench.batches(total: share(batched), size: batchSize, clients: batchClients, batchGrant: false)
        }
        let verdict = try await bench.client.call("ledger.verify", NoParams(), as: VerifyResult.self)
        return PostgresRows(rows: rows, balanced: verdict.balanced, entries: verdict.entries)
    }

    static func printPostgres(_ measured: PostgresRows) {
        print("ledger-svc on PostgreSQL (durable cluster of its own), beside pgbench simple-update with as many clients on it:")
        print(pad("scenario", 44) + pad("transfers", 11) + pad("seconds", 9) + pad("per second", 13) + pad("pgbench tps", 13)
              + pad("vs pgbench", 12) + "CPU µs per transfer: ledger-svc (its writer thread), postgres, bench client")
        for (name, count, sample, database, tps) in measured.rows {
            let rate = Double(count) / sample.seconds
            let perTransfer = { (cpu: Double) in String(format: "%.1f", cpu * 1e6 / Double(max(count, 1))) }
            print(pad(name, 44) + pad("\(count)", 11) + pad(String(format: "%.2f", sample.seconds), 9)
                  + pad(String(format: "%.0f", rate), 13) + pad(String(format: "%.0f", tps), 13) + pad(String(format: "%.2fx", rate / tps), 12)
                  + "\(perTransfer(sample.server)) (\(perTransfer(sample.writer))), \(perTransfer(database)), \(perTransfer(sample.client))")
        }
        print("books balanced after the PostgreSQL run: \(measured.balanced) (\(measured.entries) entries)")
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
    let serverPID: Int32

    init(home: TestHome, signer: GrantSigner, serverPID: Int32) {
        self.home = home
        self.signer = signer
        self.serverPID = serverPID
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
            grantID: "gr_\(prefix)_\(index)", approvalID: "ap_\(prefix)_\(index)", approvalVersion: 1, runID: "bench", callID: key, action: action,
            idempotencyKey: key, approvers: ["policy:auto"], policyVersion: "bench", issuedAt: now, expiresAt: now.addingTimeInterval(3600),
            keyID: signer.keyID))
        return TransferParams(from: action.from!, to: "dst", amount: "1.00", idempotencyKey: key, grant: grant)
    }

    /// Seconds for `total` transfers spread over `clients` connections.
    func transfers(total: Int, clients: Int) async throws -> Sample {
        let prefix = "t\(clients)"
        let lanes = try (0..<clients).map { lane in
            try stride(from: lane, to: total, by: clients).map { try params($0, lane: lane, prefix: prefix) }
        }
        let connections = try (0..<clients).map { _ in try home.client("ledger", as: "agent") }
        for connection in connections { _ = try await connection.call("ledger.balance", AccountParams(account: "dst"), as: BalanceResult.self) }
        let meter = Meter(serverPID: serverPID)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (lane, work) in lanes.enumerated() {
                group.addTask {
                    for params in work { _ = try await connections[lane].call("ledger.transfer", params, as: EntryResult.self) }
                }
            }
            try await group.waitForAll()
        }
        let sample = meter.stop()
        for connection in connections { await connection.close() }
        return sample
    }

    /// Seconds for `total` transfers sent as batches of `size` over `clients`
    /// connections: each element with its own grant, or each batch under one batch grant.
    func batches(total: Int, size: Int, clients: Int, batchGrant: Bool) async throws -> Sample {
        let prefix = batchGrant ? "g" : "b"
        let all = try (0..<total).map { try params($0, lane: $0, prefix: prefix) }
        let chunks = try stride(from: 0, to: total, by: size).map { start in
            let transfers = Array(all[start..<min(total, start + size)])
            guard batchGrant else { return TransferBatchParams(transfers: transfers) }
            return TransferBatchParams(transfers: transfers.map { $0.withoutGrant }, grant: try batchGrantFor(transfers, id: "\(prefix)_\(start)"))
        }
        let connections = try (0..<clients).map { _ in try home.client("ledger", as: "agent") }
        let meter = Meter(serverPID: serverPID)
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
        let sample = meter.stop()
        for connection in connections { await connection.close() }
        return sample
    }

    /// One grant over the whole batch, as approval-svc would sign it after a person approved the batch.
    func batchGrantFor(_ transfers: [TransferParams], id: String) throws -> BatchGrant {
        let items = try transfers.map {
            BatchItem(action: Action(kind: .transfer, from: $0.from, to: $0.to, amount: try Amount(parsing: $0.amount)), idempotencyKey: $0.idempotencyKey)
        }
        let now = Date()
        return try signer.sign(BatchGrant(
            grantID: "gr_batch_\(id)", approvalID: "ap_batch_\(id)", approvalVersion: 1, batch: BatchSummary(of: items),
            approvers: ["approver1"], policyVersion: "bench", issuedAt: now, expiresAt: now.addingTimeInterval(3600), keyID: signer.keyID))
    }

    /// Grants verified per second by `lanes` tasks at once (one per core).
    func verifyRate(count: Int, lanes: Int) async throws -> Double {
        let grants = try (0..<count).map { try params($0, lane: 0, prefix: "v") }
        let verifier = signer.verifier
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    for params in stride(from: lane, to: grants.count, by: lanes).map({ grants[$0] }) {
                        try verifier.verify(params.grant!, permits: params.grant!.action, idempotencyKey: params.idempotencyKey)
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

extension TransferParams {
    /// This element without its own grant (for a batch under a batch grant).
    var withoutGrant: TransferParams {
        TransferParams(from: from, to: to, amount: amount, currency: currency, memo: memo, idempotencyKey: idempotencyKey, grant: nil, linked: linked)
    }
}

/// One timed phase: wall seconds, and CPU seconds spent by ledger-svc, by its
/// writer (its `TP-` thread-pool threads: the writer, and readers that are idle
/// here), and by this process (the clients). CPU time does not depend on how busy
/// the machine is, so it shows what a phase costs even when wall time is noisy.
struct Sample {
    let seconds: Double
    let server: Double
    let writer: Double
    let client: Double
}

/// Snapshots wall time and CPU time at creation; ``stop()`` gives the differences.
struct Meter {
    let serverPID: Int32
    let start = ContinuousClock.now
    let server: (all: Double, writer: Double)
    let client: Double

    init(serverPID: Int32) {
        self.serverPID = serverPID
        server = Self.cpu(of: serverPID)
        client = Self.ownCPU()
    }

    func stop() -> Sample {
        let elapsed = ContinuousClock.now - start
        let now = Self.cpu(of: serverPID)
        return Sample(
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            server: now.all - server.all, writer: now.writer - server.writer, client: Self.ownCPU() - client)
    }

    static func cpu(of pid: Int32) -> (all: Double, writer: Double) {
        let cpu = ProcessCPU.seconds(of: pid)
        return (cpu.all, cpu.threads)
    }

    static func ownCPU() -> Double { ProcessCPU.ownSeconds() }
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
