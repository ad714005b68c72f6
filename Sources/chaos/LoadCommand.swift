import ArgumentParser
import Foundation
import HitlCLI
import RPC

/// `chaos load`: many runs at once, a whole-stack restart in the middle, and the latencies.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load test: many pending approvals at once, many completed runs, a stack restart with all of it in flight.",
        discussion: """
            On a private home with the stack of compose/stack.json (the offline simulator \
            answering at once):
              1. --pending transfers of $150 that wait for a human (agent.chat, --concurrency \
                 at a time), all paused at once;
              2. --completed transfers of $50 that run at once, and halfway through them a \
                 restart of the whole stack (hitl stack down, then up) with everything in flight;
              3. checks that every paused run survived the restart, then approves each and \
                 resumes it (approval.decide; agent-svc resumes it, agent.watch_run follows);
              4. checks the outcome: every run completed, alice and bob received exactly what \
                 was approved and sent, ledger.verify balanced.
            Prints p50/p99 of agent.chat (pausing and completing) and of decide-to-completed, and \
            throughput. Exits 0 only when every check holds.

            Example:
              scripts/chaos load --pending 1000 --completed 10000
            """)

    @Option(help: "Transfers left waiting for a human at once.")
    var pending = 1000

    @Option(help: "Runs that complete at once (transfers under the approval threshold).")
    var completed = 10_000

    @Option(help: "Calls in flight at once.")
    var concurrency = 64

    @Option(help: ArgumentHelp("The stack definition to copy (default: $HITL_COMPOSE, else compose/stack.json).", valueName: "file"))
    var compose: String?

    @Option(help: ArgumentHelp("The home to run in (default: a new temporary folder).", valueName: "dir"))
    var home: String?

    @Flag(help: "Leave the stack's home (logs, databases) in place afterwards.")
    var keepHome = false

    func validate() throws {
        guard (1...100_000).contains(pending) else { throw ValidationError("--pending must be between 1 and 100000") }
        guard (2...1_000_000).contains(completed) else { throw ValidationError("--completed must be between 2 and 1000000") }
        guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 1024") }
    }

    func run() async throws {
        let directory = RunDirectory.resolve(home ?? FileManager.default.temporaryDirectory.appendingPathComponent("hitl-load-\(getpid())").path)
        let binFolder = ProcessInfo.processInfo.environment["HITL_BIN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent().path
        try directory.prepare()
        let composePath = try ChaosStack.writeCompose(
            from: StackDefinition.locate(compose), into: directory,
            tuning: .init(expirySeconds: 86_400, staleRunSeconds: 3600, policy: try Self.writeLoadPolicy(into: directory)))
        let stack = ChaosStack(directory: directory, binFolder: binFolder, compose: composePath)
        print("load: \(pending) pending, \(completed) completed, \(concurrency) at a time, home \(directory.home.path)")
        guard try stack.hitl(["up"]) == 0 else { throw ChaosError("the stack did not start; see \(directory.logs.path)") }
        var problems: [String]
        do {
            problems = try await exercise(stack)
        } catch {
            problems = ["stopped by an error: \(error)"]
        }
        _ = try? stack.hitl(["down"])
        for problem in problems { print("PROBLEM: \(problem)") }
        print("problems: \(problems.count)")
        if problems.isEmpty && !keepHome && home == nil { try? FileManager.default.removeItem(at: directory.home) }
        if !problems.isEmpty {
            print("logs: \(directory.logs.path)")
            throw ExitCode.failure
        }
    }

    /// The load's own policy: the shipped tiers ($150 waits for one person, $50 runs at
    /// once, the funding deposit too) without the budgets, which would rightly stop
    /// hundreds of small transfers a minute at a human: this measures throughput and
    /// restarts, not the policy (`scripts/chaos` checks the budgets).
    static func writeLoadPolicy(into directory: RunDirectory) throws -> String {
        let policy = """
            {"version": "load-1", "description": "scripts/chaos load: tiers without budgets",
             "rules": [
               {"name": "transfer-over-100-one-approver", "kind": "transfer", "above": "100.00", "approvers": 1},
               {"name": "small-transfer-auto", "kind": "transfer", "approvers": 0},
               {"name": "deposit-auto", "kind": "deposit", "approvers": 0}]}
            """
        let path = directory.home.appendingPathComponent("load-policy.json").path
        try Data(policy.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func exercise(_ stack: ChaosStack) async throws -> [String] {
        var problems: [String] = []
        let runner = LoadRunner(stack: stack, concurrency: concurrency)
        let amountPending = 150, amountCompleted = 50
        // Enough money for everything (deposits are approved by policy at once).
        let funding = (pending * amountPending + completed * amountCompleted) * 2
        _ = try await runner.chat("Deposit $\(funding) into my account")

        // 1. Pending approvals, all at once.
        let paused = try await runner.many(pending) { _ in try await runner.chat("Transfer $\(amountPending) to Alice") }
        let pausedRuns = paused.results.filter { $0.status == "awaiting_approval" }
        print(Self.line("agent.chat, pausing", paused))
        if pausedRuns.count != pending { problems.append("\(pending - pausedRuns.count) of \(pending) transfers did not pause for approval") }

        // 2. Completed runs, with a restart of the whole stack halfway through.
        let restart = Task {
            while await runner.finished < completed / 2 { try await Task.sleep(for: .milliseconds(20)) }
            let clock = ContinuousClock()
            let start = clock.now
            let down = try stack.hitl(["down"])
            let up = try stack.hitl(["up"])
            return (down == 0 && up == 0, clock.now - start)
        }
        await runner.resetFinished()
        let done = try await runner.many(completed) { _ in try await runner.chat("Transfer $\(amountCompleted) to Bob") }
        let (restarted, restartTook) = try await restart.value
        if !restarted { problems.append("the stack did not restart cleanly; see the logs") }
        let completedRuns = done.results.filter { $0.status == "completed" }
        print(Self.line("agent.chat, completing", done))
        print("  restart of the whole stack (down, then up) in the middle: \(Self.format(restartTook)); calls interrupted by it: \(done.failures)")

        // 3. Every paused run survived; approve and resume each.
        var survived = 0
        for run in pausedRuns {
            let record = try await runner.call("state", "state.load_run", ["run_id": .string(run.runID)])
            if record["status"]?.stringValue == "awaiting_approval" { survived += 1 }
        }
        if survived != pausedRuns.count { problems.append("\(pausedRuns.count - survived) paused runs did not survive the restart") }
        print("  paused runs after the restart: \(survived) of \(pausedRuns.count) still awaiting approval")
        let resumed = try await runner.many(pausedRuns.count) { index in
            let run = pausedRuns[index]
            guard let approval = run.pending.first else { throw ChaosError("run \(run.runID) has no pending approval") }
            return try await runner.timed {
                _ = try await runner.call(
                    "approval", "approval.decide", ["approval_id": .string(approval), "decision": "approve", "version": 1], as: "approver1")
                return try await runner.watch(run.runID, waitFor: approval)
            }
        }
        print(Self.line("approval.decide, then agent.watch_run until completed", resumed))
        let resumedOK = resumed.results.filter { $0.status == "completed" }.count
        if resumedOK != pausedRuns.count { problems.append("\(pausedRuns.count - resumedOK) approved runs did not complete when resumed") }

        // 4. The money: exactly what was approved and sent, once.
        let alice = try await runner.call("ledger", "ledger.balance", ["account": "alice"])
        let bob = try await runner.call("ledger", "ledger.balance", ["account": "bob"])
        let expectedAlice = "\(resumedOK * amountPending).00", expectedBob = "\(completedRuns.count * amountCompleted).00"
        if alice["posted"]?.stringValue != expectedAlice { problems.append("alice has \(alice["posted"]?.stringValue ?? "?"), expected \(expectedAlice)") }
        if bob["posted"]?.stringValue != expectedBob { problems.append("bob has \(bob["posted"]?.stringValue ?? "?"), expected \(expectedBob)") }
        let verify = try await runner.call("ledger", "ledger.verify", [:])
        if verify["balanced"] != .bool(true) { problems.append("ledger.verify: \(verify.jsonText())") }
        print("  alice \(alice["posted"]?.stringValue ?? "?") (expected \(expectedAlice)), bob \(bob["posted"]?.stringValue ?? "?") (expected \(expectedBob)), books balanced: \(verify["balanced"] == .bool(true))")
        return problems
    }

    static func line(_ what: String, _ batch: LoadRunner.Batch) -> String {
        let sorted = batch.latencies.sorted()
        func percentile(_ p: Double) -> String {
            sorted.isEmpty ? "-" : format(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))])
        }
        let seconds = Double(batch.took.components.seconds) + Double(batch.took.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(batch.results.count) / seconds : 0
        return "\(what): \(batch.results.count) ok, \(batch.failures) failed, \(String(format: "%.0f", rate))/s, p50 \(percentile(0.5)), p99 \(percentile(0.99))"
    }

    static func format(_ duration: Duration) -> String {
        let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return ms < 10 ? String(format: "%.2f ms", ms) : String(format: "%.1f ms", ms)
    }
}

/// Concurrent calls with latencies.
actor LoadRunner {
    struct Run: Decodable, Sendable {
        let runID: String
        let status: String
        let pending: [String]

        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case status, pending
        }

        struct PendingEntry: Decodable { let approval_id: String }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            runID = try container.decode(String.self, forKey: .runID)
            status = try container.decode(String.self, forKey: .status)
            pending = try container.decode([PendingEntry].self, forKey: .pending).map(\.approval_id)
        }
    }

    struct Batch: Sendable {
        var results: [Run] = []
        var latencies: [Duration] = []
        var failures = 0
        var took: Duration = .zero
    }

    let stack: ChaosStack
    let concurrency: Int
    private(set) var finished = 0
    private let agent: RPCClient

    init(stack: ChaosStack, concurrency: Int) {
        self.stack = stack
        self.concurrency = concurrency
        agent = (try? stack.client("agent", as: "operator")) ?? RPCClient(path: stack.directory.socketPath(for: "agent"))
    }

    func resetFinished() { finished = 0 }
    private func didFinish() { finished += 1 }

    nonisolated func chat(_ message: String) async throws -> (Run, Duration) {
        try await timed {
            try await self.agent.call("agent.chat", ["message": .string(message)] as JSONValue, as: Run.self, options: .init(timeout: .seconds(120)))
        }
    }

    /// Follows a decided run until agent-svc (which alone resumes runs) has acted on `approval`.
    nonisolated func watch(_ runID: String, waitFor approval: String) async throws -> Run {
        try await agent.stream(
            "agent.watch_run", ["run_id": .string(runID), "after_seq": 0, "wait_for": [.string(approval)]] as JSONValue,
            event: JSONValue.self, as: Run.self, options: .init(timeout: .seconds(120), idempotent: true, retryWindow: .seconds(60))) { _ in }
    }

    nonisolated func timed(_ body: () async throws -> Run) async throws -> (Run, Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        let run = try await body()
        return (run, clock.now - start)
    }

    nonisolated func call(_ service: String, _ method: String, _ params: JSONValue, as identity: String = "operator") async throws -> JSONValue {
        let client = try stack.client(service, as: identity)
        defer { Task { await client.close() } }
        return try await client.call(method, params, as: JSONValue.self, options: .init(timeout: .seconds(60), retryWindow: .seconds(60)))
    }

    /// Runs `count` calls, `concurrency` at a time; failures are counted, not retried.
    nonisolated func many(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> (Run, Duration)) async throws -> Batch {
        let clock = ContinuousClock()
        let start = clock.now
        var batch = Batch()
        await withTaskGroup(of: (Run, Duration)?.self) { group in
            var next = 0
            func add() {
                let index = next
                next += 1
                group.addTask {
                    let outcome = try? await body(index)
                    await self.didFinish()
                    return outcome
                }
            }
            for _ in 0..<min(concurrency, count) { add() }
            for await outcome in group {
                if let (run, latency) = outcome {
                    batch.results.append(run)
                    batch.latencies.append(latency)
                } else {
                    batch.failures += 1
                }
                if next < count { add() }
            }
        }
        batch.took = clock.now - start
        return batch
    }
}
