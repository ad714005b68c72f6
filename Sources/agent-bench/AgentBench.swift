import Agent
import ArgumentParser
import Contracts
import Foundation
import RPC
import RPCTesting

@main
struct AgentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-bench",
        abstract: "Full approval cycles per second through the real stack: chat → pending → decide → resume → posted.",
        discussion: """
            Starts model-sim (answering instantly), approval-svc, ledger-svc, state-svc and agent-svc \
            (from the folder of this executable) on a throw-away home, then runs cycles of \
            "Transfer $150 to Bob" (which the shipped policy sends to one approver): agent.chat pauses \
            with a hold, approver1 approves with approval.decide, agent-svc resumes it, posts the hold and finishes. \
            Reports cycles per second sequentially and with concurrent runs, with p50/p99 pause latency \
            (agent.chat until awaiting_approval) and resume latency (approval.decide until agent.watch_run sees it completed).

            Example (from the repository root):
              swift build -c release && .build/release/agent-bench
            """)

    @Option(help: "Cycles run one after another.")
    var sequential = 200
    @Option(help: "Cycles run with --concurrency runs in flight.")
    var concurrent = 2_000
    @Option(help: "Runs in flight in the concurrent scenario.")
    var concurrency = 64
    @Option(help: ArgumentHelp(
        "The approval policy (default: one approver for a transfer over $100.00, nothing summed over time, so every cycle is the same one-approver cycle however many run).",
        valueName: "path"))
    var policy: String?
    @Flag(help: "Print one JSON object per figure (figure, value, unit, baseline, ratio, target), for scripts/bench.")
    var jsonl = false
    @Flag(help: "Keep state-svc's runs, ledger-svc's books and approval-svc's approvals in PostgreSQL (a cluster of the bench's own, durable settings; its CPU counted as postgres) instead of SQLite.")
    var postgres = false

    func run() async throws {
        let stack = try await BenchStack.start(policy: policy, postgres: postgres)
        do {
            let first = try await stack.cycles(total: sequential, workers: 1)
            let second = try await stack.cycles(total: concurrent, workers: concurrency)
            let bob = try await stack.posted("bob")
            let pgbench = try stack.pgbench(clients: concurrency)
            let backend = postgres ? " on PostgreSQL" : ""
            if jsonl {
                var figures = first.figures("sequential\(backend)") + second.figures("\(concurrency) concurrent runs\(backend)")
                if let pgbench {
                    figures.append(BenchFigure(
                        "agent approval cycles, \(concurrency) concurrent runs on PostgreSQL, against pgbench",
                        Double(second.cycles) / second.seconds, unit: "cycles/s",
                        baseline: (pgbench, "pgbench simple-update tps, \(concurrency) clients, same cluster")))
                }
                BenchFigure.print(figures)
                await stack.stop()
                return
            }
            print(
                "agent-bench: full approval cycles (chat → pending → decide → resume → posted), \(ProcessInfo.processInfo.activeProcessorCount) cores"
                    + (postgres ? "; state-svc, ledger-svc and approval-svc on PostgreSQL" : ""))
            print(first.line("sequential"))
            print(first.cpuLine)
            print(first.exchangeLines.joined(separator: "\n"))
            print(second.line("\(concurrency) concurrent runs"))
            print(second.cpuLine)
            print(second.exchangeLines.joined(separator: "\n"))
            if let pgbench {
                print(String(
                    format: "baseline: pgbench simple-update on the same cluster, %d clients: %.0f tps; %d concurrent runs: %.3fx",
                    concurrency, pgbench, concurrency, Double(second.cycles) / second.seconds / pgbench))
            }
            print("bob received \(bob) (expected \(150 * (sequential + concurrent)).00)")
        } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
    }
}

/// One scenario's figures.
struct Figures {
    let cycles: Int
    let seconds: Double
    let pauses: [Double]
    let resumes: [Double]
    /// CPU seconds each process spent in the scenario (services, model-sim, this bench).
    let cpu: [(process: String, seconds: Double)]
    /// What each service counted in the scenario (`rpc.stats` after minus before).
    let work: [(service: String, stats: ServiceStats)]

    /// RPC requests served per cycle, over all services (`rpc.stats` itself left out).
    var exchangesPerCycle: Double { Double(work.reduce(0) { $0 + $1.stats.calls.values.reduce(0, +) }) / Double(max(cycles, 1)) }
    /// Write requests made durable per cycle, over all services.
    var durableWritesPerCycle: Double { Double(work.reduce(0) { $0 + $1.stats.durableWrites }) / Double(max(cycles, 1)) }
    /// Group commits per cycle, over all services.
    var commitsPerCycle: Double { Double(work.reduce(0) { $0 + $1.stats.commits }) / Double(max(cycles, 1)) }

    /// Exchanges and durable writes per cycle, counted by the services themselves,
    /// then every method with what it cost per cycle.
    var exchangeLines: [String] {
        let cycles = Double(max(self.cycles, 1))
        var byService: [String] = []
        var writes: [String] = []
        var methods: [(method: String, count: Int)] = []
        for (service, stats) in work {
            let calls: Int = stats.calls.values.reduce(0, +)
            byService.append(String(format: "%@ %.1f", service, Double(calls) / cycles))
            if stats.durableWrites > 0 { writes.append(String(format: "%@ %.1f", service, Double(stats.durableWrites) / cycles)) }
            for (method, count) in stats.calls { methods.append((method, count)) }
        }
        methods.sort { $0.count == $1.count ? $0.method < $1.method : $0.count > $1.count }
        let named: [String] = methods.map { String(format: "%@ %.2f", $0.method, Double($0.count) / cycles) }
        let totals = String(
            format: "  per cycle: %.1f RPC exchanges (%@), %.1f durable writes in %.1f commits (%@)",
            exchangesPerCycle, byService.joined(separator: ", "), durableWritesPerCycle, commitsPerCycle, writes.joined(separator: ", "))
        return [totals, "  exchanges by method per cycle: " + named.joined(separator: ", ")]
    }

    /// CPU milliseconds per cycle, all processes together.
    var cpuPerCycle: Double { cpu.reduce(0) { $0 + $1.seconds } * 1000 / Double(max(cycles, 1)) }

    /// CPU per cycle by process: where a cycle's cost goes, whatever else the machine did.
    var cpuLine: String {
        let parts = cpu.map { String(format: "%@ %.2f", $0.process, $0.seconds * 1000 / Double(max(cycles, 1))) }
        return String(format: "  CPU ms per cycle: %.2f in all (", cpuPerCycle) + parts.joined(separator: ", ") + ")"
    }

    func line(_ name: String) -> String {
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
        }
        return String(
            format: "%@: %d cycles in %.2f s = %.0f cycles/s; pause p50 %.2f ms p99 %.2f ms; resume p50 %.2f ms p99 %.2f ms",
            name, cycles, seconds, Double(cycles) / seconds, percentile(pauses, 0.5), percentile(pauses, 0.99),
            percentile(resumes, 0.5), percentile(resumes, 0.99))
    }
}

/// The real stack on a throw-away home.
///
/// `@unchecked Sendable` is safe here: every property is a `let` set in `init`, and the
/// one member that is not Sendable, the simulator's `Process`, is already running when
/// it is handed over; after that it is only read (`processIdentifier`) and, once, in
/// ``stop()``, terminated and waited for.
final class BenchStack: @unchecked Sendable {
    let home: TestHome
    let services: [ServiceProcess]
    let simulator: Process
    /// The PostgreSQL cluster of state-svc, ledger-svc and approval-svc, with `--postgres`.
    let cluster: PostgresTestCluster?

    init(home: TestHome, services: [ServiceProcess], simulator: Process, cluster: PostgresTestCluster?) {
        self.home = home
        self.services = services
        self.simulator = simulator
        self.cluster = cluster
    }

    /// The cycle every run makes, and only it: compose/policy.json's rolling 24-hour windows
    /// would send every transfer after the 66th $150.00 one to two approvers.
    static let cyclePolicy = """
        {"version": "agent-bench", "currencies": ["USD"], "rules": [
          {"name": "transfer-over-100-one-approver", "kind": "transfer", "above": "100.00", "approvers": 1},
          {"name": "small-transfer-auto", "kind": "transfer", "approvers": 0}
        ]}
        """

    static func start(policy given: String?, postgres: Bool) async throws -> BenchStack {
        let home = try TestHome.make()
        let policy = given ?? home.directory.home.appendingPathComponent("bench-policy.json").path
        if given == nil { try cyclePolicy.write(toFile: policy, atomically: true, encoding: .utf8) }
        let portFile = home.directory.home.appendingPathComponent("sim-port").path
        let simulator = Process()
        simulator.executableURL = URL(fileURLWithPath: Executables.path("model-sim"))
        simulator.arguments = ["--port", "0", "--port-file", portFile, "--log-level", "warning", "--exit-with-parent"]
        simulator.standardInput = FileHandle.nullDevice
        simulator.standardOutput = FileHandle.nullDevice
        simulator.standardError = FileHandle.nullDevice
        try simulator.run()
        var port: Int?
        for _ in 0..<500 where port == nil {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if port == nil { usleep(20_000) }
        }
        guard let port else { throw RunDirectoryError("model-sim did not report its port") }
        let cluster = postgres ? try PostgresTestCluster.start(durable: true) : nil
        let database = try cluster.map { ["--database", try $0.createDatabase(prefix: "bench")] } ?? []
        let approval = try await ServiceProcess.launch(
            "approval-svc", service: "approval", home: home, arguments: ["--policy", policy, "--log-level", "warning"] + database)
        let ledger = try await ServiceProcess.launch(
            "ledger-svc", service: "ledger", home: home, arguments: ["--log-level", "warning"] + database)
        let state = try await ServiceProcess.launch(
            "state-svc", service: "state", home: home, arguments: ["--log-level", "warning"] + database)
        let operatorLedger = try home.client("ledger")
        for (account, opening) in [("checking", "100000000.00"), ("bob", "0")] {
            _ = try await operatorLedger.call(
                "ledger.open_account", ["account": .string(account), "opening_balance": .string(opening)] as JSONValue, as: JSONValue.self)
        }
        await operatorLedger.close()
        let agent = try await ServiceProcess.launch(
            "agent-svc", service: "agent", home: home, arguments: ["--log-level", "warning"],
            environment: ["OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1", "OPENAI_API_KEY": "sk-bench", "HITL_MODEL": "sim"])
        return BenchStack(home: home, services: [approval, ledger, state, agent], simulator: simulator, cluster: cluster)
    }

    func stop() async {
        for service in services.reversed() { await service.terminate() }
        simulator.terminate()
        simulator.waitUntilExit()
        home.remove()
    }

    func posted(_ account: String) async throws -> String {
        let client = try home.client("ledger")
        defer { Task { await client.close() } }
        return try await client.call("ledger.balance", ["account": .string(account)] as JSONValue, as: JSONValue.self)["posted"]?.stringValue ?? "?"
    }

    /// pgbench's simple-update (one row updated, one read, one history row inserted per
    /// transaction) for 3 s with `clients` clients on the stack's cluster, after the
    /// cycles: the baseline of what this PostgreSQL does here. Nil without a cluster.
    func pgbench(clients: Int) throws -> Double? {
        guard let cluster else { return nil }
        _ = try cluster.createDatabase(named: "pgbench")
        _ = try cluster.runProgram("pgbench", ["-i", "-q", "-s", "4", "pgbench"])
        let output = try cluster.runProgram("pgbench", ["-b", "simple-update", "-c", "\(clients)", "-j", "2", "-T", "3", "-n", "pgbench"])
        guard let tps = PostgresTestCluster.tps(in: output) else { throw RunDirectoryError("pgbench printed no tps:\n\(output)") }
        return tps
    }

    /// CPU seconds so far of every process of the stack, and of this bench.
    func cpuSeconds() -> [(process: String, seconds: Double)] {
        services.map { ($0.service + "-svc", ProcessCPU.seconds(of: $0.pid).all) }
            + [("model-sim", ProcessCPU.seconds(of: simulator.processIdentifier).all), ("bench", ProcessCPU.ownSeconds())]
            + (cluster?.serverPID().map { [("postgres", ProcessCPU.seconds(ofTree: $0))] } ?? [])
    }

    /// Runs `total` cycles with `workers` in flight.
    func cycles(total: Int, workers: Int) async throws -> Figures {
        let clock = ContinuousClock()
        let workBefore = try await stats()
        let cpuBefore = cpuSeconds()
        let started = clock.now
        let samples = try await withThrowingTaskGroup(of: [(Double, Double)].self) { group in
            for worker in 0..<workers {
                let share = total / workers + (worker < total % workers ? 1 : 0)
                group.addTask { try await self.worker(cycles: share) }
            }
            var all: [(Double, Double)] = []
            for try await part in group { all += part }
            return all
        }
        let seconds = (clock.now - started) / .seconds(1)
        let cpu = zip(cpuSeconds(), cpuBefore).map { (process: $0.process, seconds: $0.seconds - $1.seconds) }
        let work = zip(try await stats(), workBefore).map { after, before in
            (service: after.service, stats: ServiceStats(
                calls: after.stats.calls.reduce(into: [:]) { delta, entry in
                    let count = entry.value - (before.stats.calls[entry.key] ?? 0)
                    if count > 0, entry.key != "rpc.stats" { delta[entry.key] = count }
                },
                durableWrites: after.stats.durableWrites - before.stats.durableWrites,
                commits: after.stats.commits - before.stats.commits))
        }
        return Figures(
            cycles: total, seconds: seconds, pauses: samples.map(\.0), resumes: samples.map(\.1), cpu: cpu, work: work)
    }

    /// Every service's `rpc.stats`, in the order of ``services``.
    func stats() async throws -> [(service: String, stats: ServiceStats)] {
        var all: [(service: String, stats: ServiceStats)] = []
        for service in services {
            let client = try home.client(service.service)
            defer { Task { await client.close() } }
            all.append((service.service, try await client.call("rpc.stats", NoParams(), as: ServiceStats.self)))
        }
        return all
    }

    private func worker(cycles: Int) async throws -> [(Double, Double)] {
        let agent = try home.client("agent", as: "operator")
        let approver = try home.client("approval", as: "approver1")
        defer { Task { await agent.close(); await approver.close() } }
        let clock = ContinuousClock()
        var samples: [(Double, Double)] = []
        for _ in 0..<cycles {
            let t0 = clock.now
            let paused = try await agent.stream(
                "agent.chat", ["message": "Transfer $150 to Bob"] as JSONValue, event: JSONValue.self, as: RunResult.self) { _ in }
            let pause = (clock.now - t0) / .seconds(1)
            guard paused.status == "awaiting_approval", let pending = paused.pending.first else {
                throw RunDirectoryError("expected a pending run, got \(paused.status)")
            }
            let t1 = clock.now
            _ = try await approver.call(
                "approval.decide", ["approval_id": .string(pending.approvalID), "decision": "approve", "version": 1] as JSONValue,
                as: JSONValue.self)
            // agent-svc resumes the run by itself; the client follows it to its end.
            let resumed = try await agent.stream(
                "agent.watch_run", ["run_id": .string(paused.runID), "wait_for": [.string(pending.approvalID)]] as JSONValue,
                event: JSONValue.self, as: RunResult.self) { _ in }
            let resume = (clock.now - t1) / .seconds(1)
            guard resumed.status == "completed" else { throw RunDirectoryError("expected a completed run, got \(resumed.status)") }
            samples.append((pause, resume))
        }
        return samples
    }
}
