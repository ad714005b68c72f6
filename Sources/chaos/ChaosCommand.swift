import ArgumentParser
import Foundation
import HitlCLI
import RPC

@main
struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Proof under fire: the crash test (default) and the load test of the whole stack.",
        subcommands: [ChaosCommand.self, LoadCommand.self, HostsCommand.self],
        defaultSubcommand: ChaosCommand.self)
}

struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash",
        abstract: "Crash test of the whole stack: approval cycles while services are killed with SIGKILL.",
        discussion: """
            Starts the stack of compose/stack.json on a private home (with approvals expiring \
            after --expiry-seconds and abandoned runs ended after --stale-run-seconds, so every \
            outcome happens within minutes), then runs --cycles approval cycles, --concurrency \
            at a time: random modes, amounts on both sides of every policy threshold, and a \
            random human decision for each pause (approve, reject, let it expire, or approve an \
            edited amount). Meanwhile it kills a random service (every service of the stack but \
            echo) --kills times with SIGKILL, spread over the run, and waits for the supervisor \
            to bring it back.

            Then it lets everything settle and checks: every run completed, or failed with a \
            reason; no approval pending, the approval event feed gap-free, the audit chain \
            intact; every movement of money tied to exactly one approved approval, for the \
            amount and payee it allowed, no idempotency key used twice; nothing left held; \
            ledger.verify balanced. It prints a summary ending with `violations: N` and exits \
            0 only when N is 0. Choices come from --seed alone: a failing run prints the seed \
            to replay it.

            Example:
              scripts/chaos --cycles 200 --kills 50 --seed 7
            """)

    @Option(help: "Approval cycles to run.")
    var cycles = 200

    @Option(help: "Services to kill with SIGKILL, spread over the cycles.")
    var kills = 50

    @Option(help: "The seed of every random choice (default: a random one, printed).")
    var seed: UInt64?

    @Option(help: "Cycles in flight at once.")
    var concurrency = 4

    @Option(help: ArgumentHelp("The stack definition to copy (default: $HITL_COMPOSE, else compose/stack.json).", valueName: "file"))
    var compose: String?

    @Option(help: ArgumentHelp("The home to run in (default: a new temporary folder).", valueName: "dir"))
    var home: String?

    @Option(help: "How long a pending approval waits before it expires, in seconds.")
    var expirySeconds = 6

    @Option(help: "How long a run may go without progress before the agent ends it as abandoned, in seconds.")
    var staleRunSeconds = 8

    @Option(help: "Every window of the policy (its budgets, its day totals) shortened to this many seconds, so a run of minutes spends and renews them many times.")
    var windowSeconds = 10

    @Flag(help: "Leave the stack's home (logs, databases) in place afterwards.")
    var keepHome = false

    func validate() throws {
        guard (1...100_000).contains(cycles) else { throw ValidationError("--cycles must be between 1 and 100000") }
        guard (0...10_000).contains(kills) else { throw ValidationError("--kills must be between 0 and 10000") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 256") }
        guard (2...3600).contains(expirySeconds) else { throw ValidationError("--expiry-seconds must be between 2 and 3600") }
        guard (2...3600).contains(staleRunSeconds) else { throw ValidationError("--stale-run-seconds must be between 2 and 3600") }
        guard (1...86_400).contains(windowSeconds) else { throw ValidationError("--window-seconds must be between 1 and 86400") }
    }

    func run() async throws {
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(Int64.max))
        let directory = RunDirectory.resolve(home ?? FileManager.default.temporaryDirectory.appendingPathComponent("hitl-chaos-\(seed)-\(getpid())").path)
        let binFolder = ProcessInfo.processInfo.environment["HITL_BIN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent().path
        try directory.prepare()
        let composePath = try ChaosStack.writeCompose(
            from: StackDefinition.locate(compose), into: directory,
            tuning: .init(expirySeconds: expirySeconds, staleRunSeconds: staleRunSeconds, windowSeconds: windowSeconds))
        let stack = ChaosStack(directory: directory, binFolder: binFolder, compose: composePath)
        print("chaos: seed \(seed), \(cycles) cycles, \(kills) kills, \(concurrency) at a time, home \(directory.home.path)")

        guard try stack.hitl(["up"]) == 0 else {
            throw ChaosError("the stack did not start; see \(directory.logs.path)/chaos-hitl.log and the services' logs there")
        }
        let violations: Int
        do {
            violations = try await storm(stack, seed: seed)
        } catch {
            _ = try? stack.hitl(["down"])
            print("chaos: stopped by an error of its own: \(error) (seed \(seed); logs in \(directory.logs.path))")
            throw ExitCode.failure
        }
        _ = try? stack.hitl(["down"])
        if violations == 0 && !keepHome && home == nil { try? FileManager.default.removeItem(at: directory.home) }
        if violations > 0 {
            print("replay with: scripts/chaos --cycles \(cycles) --kills \(kills) --seed \(seed) --concurrency \(concurrency) --keep-home")
            print("logs: \(directory.logs.path)")
        }
        print("violations: \(violations)")
        if violations > 0 { throw ExitCode.failure }
    }

    /// The cycles and the kills, then the checks. Returns the number of violations.
    private func storm(_ stack: ChaosStack, seed: UInt64) async throws -> Int {
        let clock = ContinuousClock()
        let start = clock.now
        let tally = Tally()
        let workload = Workload(stack: stack, seed: seed, tally: tally)
        let services = try await stack.status().services.map(\.name).filter { $0 != "echo" }
        let cycles = self.cycles, kills = self.kills, concurrency = self.concurrency

        // Fund the account first, so transfers on both sides of $10,000 can happen.
        await workload.run(CyclePlanFunding.plan)

        async let killed = Self.killer(stack, services: services, seed: seed, kills: kills, cycles: cycles, tally: tally)
        await workload.run(cycles: cycles, concurrency: concurrency)
        let (crashes, unrecovered) = try await killed
        let stormTook = clock.now - start

        var report = try await Invariants(stack: stack).settleAndCheck(
            within: .seconds(Int64(expirySeconds + staleRunSeconds) * 4 + 60), policy: try ChaosStack.policyPath(in: stack.compose))
        report.violations += unrecovered.map { "\($0) did not come back within 60 s of being killed" }
        let status = try await stack.status()
        for service in status.services where service.state != "SERVING" && service.state != "SKIPPED" {
            report.violations.append("\(service.name) is \(service.state) at the end")
        }

        await Self.summarize(
            report, tally: tally, took: stormTook,
            disruptions: "kills: \(crashes.values.reduce(0, +)) (\(crashes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))")
        return report.violations.count
    }

    /// Prints what the storm did and what the checks found, each violation on a line of its own.
    static func summarize(_ report: Invariants.Report, tally: Tally, took stormTook: Duration, disruptions: String) async {
        print("cycles: \(await tally.finished) in \(stormTook.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))")
        for (outcome, count) in await tally.counts.sorted(by: { $0.key < $1.key }) { print("  \(outcome): \(count)") }
        print(disruptions)
        print("runs: \(report.runs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        print("approvals: \(report.approvals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); events \(report.events), gap-free unless listed below")
        print("money movements checked: \(report.movements); ledger.verify and approval.verify_audit checked")
        print("auto-approval budgets checked over \(report.budgetWindows) windows")
        for violation in report.violations { print("VIOLATION: \(violation)") }
    }

    /// Kills `kills` services, the i-th once i/kills of the cycles have finished,
    /// each time waiting until the supervisor has it SERVING again.
    private static func killer(
        _ stack: ChaosStack, services: [String], seed: UInt64, kills: Int, cycles: Int, tally: Tally
    ) async throws -> ([String: Int], [String]) {
        var random = SeededGenerator(seed: seed ^ 0x5EED_C4A0_5000_0001)
        var crashes: [String: Int] = [:]
        var unrecovered: [String] = []
        for kill in 0..<kills {
            let due = cycles * kill / max(kills, 1)
            while await tally.finished < due { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(Int64.random(in: 0...150, using: &random)))
            let victim = services.randomElement(using: &random)!
            crashes[victim, default: 0] += 1
            if try await stack.crash(victim) == nil { unrecovered.append(victim) }
        }
        return (crashes, unrecovered)
    }
}

/// The first call of every run: money to move.
enum CyclePlanFunding {
    static var plan: CyclePlan { CyclePlan(funding: "Deposit $90,000 into my account") }
}

extension CyclePlan {
    /// A fixed plan (funding), outside the seeded sequence.
    init(funding message: String) {
        self.init(index: -1, mode: "tools", message: message, decision: .approve)
    }
}
