import ArgumentParser
import Foundation
import HitlCLI
import RPC

/// `chaos hosts`: the crash test on several hosts made of network namespaces.
struct HostsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "Crash test on several hosts: a replica of every service on each, one PostgreSQL, clients over TCP with TLS.",
        discussion: """
            Run it through `scripts/chaos --hosts`, which makes the hosts (network namespaces \
            joined by a bridge, addresses of their own), starts PostgreSQL on the "db" host, and \
            runs this program on the clients' host.

            Each --host runs the whole stack of compose/stack.json (as `scripts/stack up` would \
            on a machine of its own): state-svc, approval-svc and ledger-svc on the database \
            --database-url, every service also listening on the host's address with mutual TLS \
            (one CA and certificates made by `hitl init --tls-host`), the stack's tokens and \
            approval-svc's signing keys the same on every host. Clients connect over TCP: a run \
            is started through one host and decided through the next. Meanwhile single services \
            are killed with SIGKILL (--kills) and whole hosts are taken away (--host-outages: \
            every process of the host killed, its link down for --outage-seconds, then the link \
            back and the stack started again). Then the checks of `chaos crash`; the last line \
            says `violations: N`.
            """)

    @Option(help: ArgumentHelp("A host: name=namespace@address (repeat; at least two).", valueName: "spec"))
    var host: [String] = []

    @Option(help: ArgumentHelp("The database every host's services share (postgres://…, reachable from the hosts).", valueName: "url"))
    var databaseURL: String

    @Option(help: ArgumentHelp("A host's network device toward the others (taken down during its outage).", valueName: "name"))
    var device = "eth0"

    @Option(help: "Approval cycles to run.")
    var cycles = 60

    @Option(help: "Single services to kill with SIGKILL, spread over the cycles.")
    var kills = 12

    @Option(help: "Whole hosts to take away and bring back, spread over the cycles.")
    var hostOutages = 2

    @Option(help: "How long a host stays away, in seconds.")
    var outageSeconds = 4

    @Option(help: "The seed of every random choice (default: a random one, printed).")
    var seed: UInt64?

    @Option(help: "Cycles in flight at once.")
    var concurrency = 4

    @Option(help: ArgumentHelp("The stack definition to copy (default: $HITL_COMPOSE, else compose/stack.json).", valueName: "file"))
    var compose: String?

    @Option(help: "How long a pending approval waits before it expires, in seconds.")
    var expirySeconds = 6

    @Option(help: "How long a run may go without progress before the agent ends it as abandoned, in seconds.")
    var staleRunSeconds = 8

    @Option(help: "Every window of the policy shortened to this many seconds.")
    var windowSeconds = 10

    @Flag(help: "Leave the homes (logs, configuration) in place afterwards.")
    var keepHome = false

    /// The TCP port of each service on every host (each host has an address of its own).
    static let ports = ["state": 9001, "approval": 9002, "ledger": 9003, "agent": 9004]

    func validate() throws {
        guard host.count >= 2 else { throw ValidationError("--host: name at least two hosts (name=namespace@address)") }
        _ = try hosts()
        guard databaseURL.hasPrefix("postgres://") else { throw ValidationError("--database-url must be a postgres:// URL") }
        guard (1...100_000).contains(cycles), (0...10_000).contains(kills), (0...100).contains(hostOutages) else {
            throw ValidationError("--cycles 1...100000, --kills 0...10000, --host-outages 0...100")
        }
        guard (1...120).contains(outageSeconds), (1...256).contains(concurrency) else {
            throw ValidationError("--outage-seconds 1...120, --concurrency 1...256")
        }
    }

    /// One host: its name, namespace and address.
    struct Host: Sendable {
        let name: String
        let namespace: String
        let address: String
    }

    func hosts() throws -> [Host] {
        try host.map { spec in
            let parts = spec.split(separator: "=", maxSplits: 1)
            let rest = parts.count == 2 ? parts[1].split(separator: "@", maxSplits: 1) : []
            guard parts.count == 2, rest.count == 2, !parts[0].isEmpty else {
                throw ValidationError("--host \(spec): expected name=namespace@address, e.g. a=hitl-a@10.77.0.2")
            }
            return Host(name: String(parts[0]), namespace: String(rest[0]), address: String(rest[1]))
        }
    }

    func run() async throws {
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(Int64.max))
        let hosts = try hosts()
        let binFolder = ProcessInfo.processInfo.environment["HITL_BIN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent().path
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("hitl-hosts-\(seed)-\(getpid())")
        let deployment = try HostDeployment.make(
            hosts: hosts, base: base, binFolder: binFolder, databaseURL: databaseURL, compose: StackDefinition.locate(compose),
            tuning: .init(expirySeconds: expirySeconds, staleRunSeconds: staleRunSeconds, windowSeconds: windowSeconds))
        print("chaos hosts: seed \(seed), \(cycles) cycles, \(kills) kills, \(hostOutages) host outages, \(concurrency) at a time, "
            + "hosts \(hosts.map { "\($0.name) \($0.address)" }.joined(separator: ", ")), homes in \(base.path)")
        let violations: Int
        do {
            try await deployment.start()
            violations = try await storm(deployment, seed: seed)
        } catch {
            deployment.stop()
            print("chaos hosts: stopped by an error of its own: \(error) (seed \(seed); homes in \(base.path))")
            throw ExitCode.failure
        }
        deployment.stop()
        if violations == 0 && !keepHome { try? FileManager.default.removeItem(at: base) }
        if violations > 0 { print("replay with: scripts/chaos --hosts --cycles \(cycles) --kills \(kills) --host-outages \(hostOutages) --seed \(seed) --keep-home") }
        print("violations: \(violations)")
        if violations > 0 { throw ExitCode.failure }
    }

    private func storm(_ deployment: HostDeployment, seed: UInt64) async throws -> Int {
        let clock = ContinuousClock()
        let start = clock.now
        let tally = Tally()
        let workload = Workload(stack: deployment.clients, seed: seed, tally: tally)
        await workload.run(CyclePlanFunding.plan)
        let (cycles, concurrency) = (self.cycles, self.concurrency)
        let plan = Disruptions(kills: kills, outages: hostOutages, outage: .seconds(outageSeconds), seed: seed, device: device)
        async let disrupted = plan.run(on: deployment, cycles: cycles, tally: tally)
        await workload.run(cycles: cycles, concurrency: concurrency)
        let (done, unrecovered) = try await disrupted
        let stormTook = clock.now - start

        var report = try await Invariants(stack: deployment.clients).settleAndCheck(
            within: .seconds(Int64(expirySeconds + staleRunSeconds) * 4 + 60), policy: try ChaosStack.policyPath(in: deployment.stacks[0].compose))
        report.violations += unrecovered
        for (host, stack) in zip(deployment.hosts, deployment.stacks) {
            for service in try await stack.status().services where service.state != "SERVING" && service.state != "SKIPPED" {
                report.violations.append("\(service.name) on host \(host.name) is \(service.state) at the end")
            }
        }
        await ChaosCommand.summarize(report, tally: tally, took: stormTook, disruptions: done)
        return report.violations.count
    }
}
