import ArgumentParser
import Foundation
import Logging
import PostgresSupport
import RPC
import RPCTesting
import SQLiteKit
import StateStore

/// Save/load round trips per second through state-svc, beside plain SQLite.
@main
struct StateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-bench",
        abstract: "Save/load round trips per second through the state service, beside a plain SQLite baseline.",
        discussion: """
            A round trip is one state.save_run (compare-and-swap, durable on return) followed by one \
            state.load_run, each over the Unix socket with JSON-RPC. The service runs in this process \
            on a temporary home, with the same code as state-svc (group commit, synchronous=FULL). \
            The baseline, measured in the same run on the same disk, is plain SQLite through \
            SQLiteConnection: one BEGIN IMMEDIATE…COMMIT (synchronous=FULL) per save, then a SELECT, \
            with no RPC, no JSON and no group commit.

            Example:
              swift build -c release --product state-bench && .build/release/state-bench --seconds 3
            """)

    @Option(help: "Seconds to measure each case.")
    var seconds: Double = 3

    @Option(help: "Concurrent clients to measure, comma-separated.")
    var clients: String = "1,64"

    @Option(help: "Bytes of filler in each saved document (a typical run holds a few KiB of messages).")
    var documentBytes: Int = 2_048

    @Flag(help: "Also measure state-svc on PostgreSQL (a cluster of its own, durable settings), beside pgbench's simple-update on the same cluster.")
    var postgres = false

    @Flag(help: "Print one JSON object per figure (figure, value, unit, baseline, ratio, target), for scripts/bench.")
    var jsonl = false

    mutating func validate() throws {
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be between 0 and 600") }
        guard !clientCounts.isEmpty, clientCounts.allSatisfy({ (1...1024).contains($0) }) else {
            throw ValidationError("--clients must list numbers between 1 and 1024")
        }
        guard (0...400_000).contains(documentBytes) else { throw ValidationError("--document-bytes must be between 0 and 400000") }
    }

    var clientCounts: [Int] { clients.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() async throws {
        var logger = Logger(label: "state-bench")
        logger.logLevel = .warning
        let home = try TestHome.make()
        defer { home.remove() }
        let filler = String(repeating: "x", count: documentBytes)
        let duration = Duration.milliseconds(Int64(seconds * 1000))

        let baseline = try SQLiteBaseline.measure(
            path: home.directory.data.appendingPathComponent("baseline.sqlite").path, filler: filler, duration: duration)
        if !jsonl {
            print(String(format: "baseline  plain SQLite, 1 writer, one synchronous=FULL transaction per save: %8.0f round trips/s", baseline))
        }

        let store = try StateStore(path: home.directory.data.appendingPathComponent("state.sqlite").path, logger: logger)
        let server = try await Self.serve(store, home: home, logger: logger)
        for count in clientCounts {
            let rate = try await ServiceLoad.measure(home: home, clients: count, filler: filler, duration: duration)
            if jsonl {
                BenchFigure.print([Self.figure(clients: count, rate: rate, baseline: baseline)])
                continue
            }
            print(String(
                format: "state-svc %3d client%@ (save_run + load_run over the socket):                 %8.0f round trips/s  (%.2fx baseline)",
                count, count == 1 ? " " : "s", rate, rate / baseline))
        }
        await server.shutdown()
        await store.close()
        if postgres { try await measurePostgres(home: home, filler: filler, duration: duration, logger: logger) }
    }

    /// The same load with state-svc's rows in PostgreSQL, and pgbench's simple-update
    /// (one row updated, one read, one history row inserted per transaction) with as many
    /// clients on the same cluster as the baseline.
    func measurePostgres(home: TestHome, filler: String, duration: Duration, logger: Logger) async throws {
        let cluster = try PostgresTestCluster.start(durable: true)
        let benchDatabase = "pgbench"
        _ = try cluster.createDatabase(named: benchDatabase)
        _ = try cluster.runProgram("pgbench", ["-i", "-q", "-s", "4", benchDatabase])
        let store = try await StateStore.postgres(try PostgresURL(parsing: try cluster.createDatabase(prefix: "state")), logger: logger)
        let server = try await Self.serve(store, home: home, logger: logger)
        for count in clientCounts {
            let output = try cluster.runProgram(
                "pgbench", ["-b", "simple-update", "-c", "\(count)", "-j", "2", "-T", "\(max(1, Int(seconds.rounded())))", "-n", benchDatabase])
            guard let tps = PostgresTestCluster.tps(in: output) else { throw ValidationError("pgbench printed no tps:\n\(output)") }
            let rate = try await ServiceLoad.measure(home: home, clients: count, filler: filler, duration: duration)
            if jsonl {
                BenchFigure.print([
                    BenchFigure(
                        "state-svc on PostgreSQL, \(count) clients, save_run + load_run", rate, unit: "round trips/s",
                        baseline: (tps, "pgbench simple-update, \(count) clients, same cluster")),
                ])
                continue
            }
            print(String(format: "baseline  pgbench simple-update, %3d client%@, same cluster:                %8.0f transactions/s", count, count == 1 ? " " : "s", tps))
            print(String(
                format: "state-svc %3d client%@ on PostgreSQL (save_run + load_run over the socket): %8.0f round trips/s  (%.2fx pgbench)",
                count, count == 1 ? " " : "s", rate, rate / tps))
        }
        await server.shutdown()
        await store.close()
    }

    /// Serves `store` as state-svc does, on the home's socket.
    static func serve(_ store: StateStore, home: TestHome, logger: Logger) async throws -> RPCServer {
        let server = RPCServer(
            description: try StateService.description(),
            configuration: RPCServerConfiguration(socketPath: home.socket(StateService.name)),
            identities: try IdentityRegistry.load(from: home.directory), logger: logger
        ) { router in StateService.register(&router, store: store) }
        try await server.start()
        return server
    }
}

/// The baseline: what one synchronous=FULL transaction per save costs with nothing around it.
enum SQLiteBaseline {
    static func measure(path: String, filler: String, duration: Duration) throws -> Double {
        let connection = try SQLiteConnection(path: path)
        try connection.executeScript("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE runs (run_id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL);
            CREATE TABLE run_versions (run_id TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
                PRIMARY KEY (run_id, version)) WITHOUT ROWID;
            INSERT INTO runs VALUES ('bench', 0, 'running');
            """)
        let clock = ContinuousClock()
        let end = clock.now + duration
        var version: Int64 = 0
        var trips = 0
        let start = clock.now
        while clock.now < end {
            version += 1
            let data = #"{"schema_version":1,"step":\#(version),"filler":"\#(filler)"}"#
            try connection.execute("BEGIN IMMEDIATE")
            try connection.execute("INSERT INTO run_versions VALUES ('bench', ?, ?)", [.integer(version), .text(data)])
            let changed = try connection.execute(
                "UPDATE runs SET version = ? WHERE run_id = 'bench' AND version = ?", [.integer(version), .integer(version - 1)])
            precondition(changed == 1, "the baseline's compare-and-swap must succeed: it is the only writer")
            try connection.execute("COMMIT")
            let loaded = try connection.queryOne(
                "SELECT v.data FROM runs r JOIN run_versions v ON v.run_id = r.run_id AND v.version = r.version WHERE r.run_id = 'bench'"
            ) { $0.text(0) }
            precondition(loaded == data, "the baseline must read back what it saved")
            trips += 1
        }
        return Double(trips) / seconds(clock.now - start)
    }
}

/// Clients, each with its own connection and run, saving and loading in a loop.
enum ServiceLoad {
    static func measure(home: TestHome, clients: Int, filler: String, duration: Duration) async throws -> Double {
        let runs = try await (0..<clients).asyncMap { _ in
            let client = try home.client(StateService.name, as: "agent")
            let created = try await client.call(
                "state.create_run", CreateRunParams(data: document(step: 0, filler: filler)), as: CreateRunResult.self)
            return (client, created.runID)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + duration
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for (client, runID) in runs {
                group.addTask {
                    var version: Int64 = 1
                    var trips = 0
                    while clock.now < end {
                        let saved = try await client.call(
                            "state.save_run",
                            SaveRunParams(runID: runID, expectedVersion: version, status: "running",
                                          data: document(step: version, filler: filler)),
                            as: SaveRunResult.self)
                        version = saved.version
                        let loaded = try await client.call("state.load_run", RunRef(runID: runID), as: RunRecord.self)
                        precondition(loaded.version == version, "a load after an acknowledged save must see it")
                        trips += 1
                    }
                    return trips
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = seconds(clock.now - start)
        for (client, _) in runs { await client.close() }
        return Double(total) / elapsed
    }

    static func document(step: Int64, filler: String) -> JSONValue {
        .object(["schema_version": .int(1), "step": .int(step), "filler": .string(filler)])
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
