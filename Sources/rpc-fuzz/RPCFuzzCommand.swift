import ArgumentParser
import Foundation
import RPCFuzz

/// Fuzzes every service's socket and reports, per service, what it sent and what came back.
@main
struct RPCFuzzCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc-fuzz",
        abstract: "Fuzzes the socket of every service with generated lines; exits 0 only when every rule held.",
        discussion: """
            Starts echo-svc, state-svc, approval-svc, ledger-svc and agent-svc (with model-sim) from the
            folder of this executable on a throw-away home, then sends each service, in turn, --lines
            generated lines on several pipelining connections at once:
              valid requests drawn from the params schemas of its contract (rpc.discover, i.e.
              Protocols/<service>.openrpc.json), every field of every method with values of every
              wrong type, bad _meta (deadlines, tokens of every role, none, unknown, wrong types,
              traceparents), huge numbers, deep nesting, batches (mixed, empty, all notifications,
              over the 1000-entry limit), notifications, broken envelopes, truncated and mutated
              requests, random bytes; plus lines over the 1 MiB limit on connections of their own
              and a slow writer sending requests one byte per write.
            Rules checked: every request is answered with its id echoed exactly, every line that is
            not JSON gets an error with id null, nothing answers a notification, every error has
            code, message, data.status and data.reason (code = -32000 - status), an oversize line
            gets LINE_TOO_LONG and the connection closes, the service never crashes, answers
            health.check SERVING afterwards, and its peak RSS (VmHWM) stays under --max-rss-mib.

            Seeded: the same --seed sends the same lines (each connection's lines derive from the
            seed, the service and the connection's lane), so a violation replays with its seed.

            Examples:
              swift build -c release && .build/release/rpc-fuzz --seed 1
              .build/debug/rpc-fuzz --lines 3000 --services echo,ledger --seed 7
            """)

    @Option(help: "The seed (default: a random one, printed).")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Lines per service.", valueName: "n"))
    var lines = 100_000

    @Option(help: ArgumentHelp("Services to fuzz, comma-separated (default: all).", valueName: "list"))
    var services = FuzzStack.allServices.joined(separator: ",")

    @Option(help: ArgumentHelp("Connections writing at once per service.", valueName: "n"))
    var lanes = 4

    @Option(help: ArgumentHelp("Fail a service whose peak RSS exceeds this many MiB.", valueName: "MiB"))
    var maxRSSMiB = 1_024

    @Option(help: ArgumentHelp("approval-svc's policy file.", valueName: "path"))
    var policy = "compose/policy.json"

    @Option(help: ArgumentHelp("The services' log level (default: theirs).", valueName: "level"))
    var logLevel: String?

    @Flag(help: "Keep the throw-away home (logs, databases) and print where it is.")
    var keepHome = false

    var serviceList: [String] { services.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard (1...100_000_000).contains(lines) else { throw ValidationError("--lines must be between 1 and 100000000") }
        guard (1...64).contains(lanes) else { throw ValidationError("--lanes must be between 1 and 64") }
        for service in serviceList where !FuzzStack.allServices.contains(service) {
            throw ValidationError("unknown service '\(service)'; choose from \(FuzzStack.allServices.joined(separator: ", "))")
        }
        guard FileManager.default.fileExists(atPath: policy) else {
            throw ValidationError("no policy file at \(policy): run from the repository root or pass --policy compose/policy.json")
        }
    }

    func run() async throws {
        let seed = seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        var configuration = FuzzConfiguration(seed: seed, linesPerService: lines)
        configuration.lanes = lanes
        configuration.maximumRSSMiB = maxRSSMiB
        let replay = "rpc-fuzz --seed \(seed) --lines \(lines) --services \(serviceList.joined(separator: ",")) --lanes \(lanes)"
        FileHandle.standardError.write(Data("rpc-fuzz: seed \(seed); starting the stack\n".utf8))
        let stack = try await FuzzStack.start(policy: policy, logLevel: logLevel)
        let reports: [ServiceReport]
        do {
            reports = try await Fuzzer.run(stack: stack, services: serviceList, configuration: configuration) { report in
                say(report.summary)
            }
        } catch {
            await stack.stop(keepHome: keepHome)
            throw error
        }
        await stack.stop(keepHome: keepHome)
        if keepHome { say("home kept: \(stack.home.directory.home.path)") }
        let failed = reports.filter { !$0.passed }
        for report in failed {
            for violation in report.tally.violations { say("violation: \(violation)") }
            if report.tally.droppedViolations > 0 { say("violation: … and \(report.tally.droppedViolations) more in \(report.service)") }
        }
        say("seed \(seed): \(reports.count - failed.count) of \(reports.count) services passed; replay with: \(replay)")
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

/// Writes a line to stdout at once (print is block-buffered when redirected, and a
/// long run's per-service lines should show as each service finishes).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
