import ArgumentParser
import Foundation
import RPC
import RPCTesting

/// The RPC core's benchmark.
@main
struct RPCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc-bench",
        abstract: "Measures the RPC core's round trips against a C ping-pong and a Python JSON server, in one run.",
        usage: "rpc-bench [--requests <n>] [--connections <n>] [--quick] [--json | --jsonl] [--server <path>] [--no-python] [--no-instructions] [--counted-round-trips <n>]",
        discussion: """
            Every server runs in its own process on a Unix socket in a temporary home:
              RPC core     EchoService on the real core (echo-svc next to rpc-bench, or
                           rpc-bench's own copy of it when echo-svc is missing or older)
              C ping-pong  a blocking C server that writes back each line (CPingPong)
              Python json  a python3 stdlib server: json.loads the request, build the
                           JSON-RPC response, json.dumps it back (skipped without python3)

            Two methods, with the request lines RPCClient sends (_meta included):
              health.check  public, runs inline on the event loop
              echo.echo     a 100-byte string, with a token; runs in a task

            For each method it measures:
              1 connection   round trips one after another: p50, p99 and req/s
              N connections  the same on N connections at once: total req/s
            with two clients against the RPC core:
              RPCClient     the core's async client (its cost included)
              blocking      a C client that writes the line and reads the answer on a
                            raw socket: the server's cost alone. It also drives the C
                            and Python baselines, so those rows differ only in server.
            Ratios are value / baseline from the same run. Targets from the issue: RPC
            p50 within 3× of the C ping-pong, and below the Python server's p50.

            Instructions per round trip, which other load on the machine does not move
            (skip with --no-instructions; needs valgrind and strip): for each method, a
            pair of processes runs under callgrind (rpc-count: a server, and a client
            making --counted-round-trips calls after a warm-up); both counters are zeroed
            after the warm-up and dumped after the calls. Pairs: the C client and the C
            ping-pong; the blocking C client and the RPC core; RPCClient and the RPC core.
            User-space instructions only: the kernel's part of a round trip (the socket
            calls, the wake-ups) is not counted, and it is most of the C pair's cost.
            Target: client + server within 4× of the C pair's.

            Build it in release mode, else the figures mean little:
              swift build -c release --product rpc-bench
              .build/release/rpc-bench            # under 30 s
              .build/release/rpc-bench --quick    # a few seconds, for smoke runs
              .build/release/rpc-bench --json > bench.json
            """,
        subcommands: [ServeEcho.self, ServeC.self, ServeNIO.self])

    /// The default series size: about 25-30 s for the whole run on this machine.
    static let defaultRequests = 15_000
    /// The `--quick` series size: a few seconds in all.
    static let quickRequests = 2_000

    @Option(help: ArgumentHelp(
        "Round trips measured per series (default \(defaultRequests), or \(quickRequests) with --quick).", valueName: "n"))
    var requests: Int?

    @Option(help: ArgumentHelp("Connections for the throughput figures.", valueName: "n"))
    var connections: Int = 64

    @Flag(help: "A smoke run of a few seconds (fewer round trips per series).")
    var quick = false

    @Flag(help: "Print the report as JSON on stdout instead of the table.")
    var json = false

    @Flag(help: "Print one JSON object per figure (figure, value, unit, baseline, ratio, target), for scripts/bench.")
    var jsonl = false

    @Option(help: ArgumentHelp(
        "An echo-svc executable to benchmark instead of the one next to rpc-bench.", valueName: "path"))
    var server: String?

    @Flag(help: "Skip the Python baseline.")
    var noPython = false

    @Flag(help: "Skip counting instructions with callgrind (about a minute; needs valgrind).")
    var noInstructions = false

    @Option(help: ArgumentHelp(
        "Round trips counted per pair under callgrind (default \(InstructionCounter.defaultRoundTrips), or \(quickCountedRoundTrips) with --quick).",
        valueName: "n"))
    var countedRoundTrips: Int?

    @Option(help: ArgumentHelp("Keep callgrind's dumps in this folder, for callgrind_annotate.", valueName: "dir", visibility: .hidden))
    var keepCallgrind: String?

    /// The `--quick` number of round trips counted per pair.
    static let quickCountedRoundTrips = 500

    @Option(help: ArgumentHelp(
        "Only the series whose key contains this text, e.g. 'health.check 1c rpc blocking' (for profiling).",
        valueName: "text", visibility: .hidden))
    var only: String?

    func validate() throws {
        if let countedRoundTrips, !(100...1_000_000).contains(countedRoundTrips) {
            throw ValidationError("--counted-round-trips must be between 100 and 1000000")
        }
        if let requests, !(100...10_000_000).contains(requests) {
            throw ValidationError("--requests must be between 100 (for a meaningful p99) and 10000000")
        }
        guard (1...256).contains(connections) else {
            throw ValidationError("--connections must be between 1 and 256")
        }
        if let server, !FileManager.default.isExecutableFile(atPath: server) {
            throw ValidationError("--server \(server) is not an executable file")
        }
    }

    static func main() async {
        TaskExecutor.useEventLoops()
        await main(nil)
    }

    func run() async throws {
        ChildServer.stopAllOnSignals()
        let loadAtStart = Self.loadAverage()
        let total = requests ?? (quick ? Self.quickRequests : Self.defaultRequests)
        let home = try TestHome.make()
        defer { home.remove() }
        try home.directory.prepare()
        let servers = try await Servers.start(in: home, echo: ServerLocator.echoServer(explicit: server), python: !noPython)
        defer { servers.stop() }

        let plan = Plan(requests: total, connections: connections, only: only)
        var series: [Series] = []
        for workload in [Workload.healthCheck(), Workload.echo(token: try home.token("operator"))] {
            series += try await plan.measure(workload, servers: servers, token: try home.token("operator"))
        }
        var notes = servers.notes
        var instructions: InstructionFigures?
        if !noInstructions, only == nil {
            let counted = countedRoundTrips ?? (quick ? Self.quickCountedRoundTrips : InstructionCounter.defaultRoundTrips)
            switch try await InstructionFigures.measure(roundTrips: counted, keep: keepCallgrind) {
            case .success(let figures): instructions = figures
            case .failure(let why): notes.append(why.description)
            }
        }
        if connections > ProcessInfo.processInfo.activeProcessorCount {
            notes.append("\(connections) conns share \(ProcessInfo.processInfo.activeProcessorCount) cores with the clients: req/s there is what the machine does, not one server alone")
        }
        let report = Report(
            rpcServer: servers.rpc.label, python: servers.pythonVersion, loadAverage: loadAtStart, requestsPerSeries: total,
            connections: connections, series: series, instructions: instructions, notes: notes)
        if jsonl { return BenchFigure.print(report.figures) }
        print(json ? try report.json() : report.table)
    }

    /// The 1-minute load average: on a machine shared with builds, what the
    /// figures were measured under.
    static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }
}

/// How many round trips each series makes, and in what order the series run.
struct Plan {
    let requests: Int
    let connections: Int
    /// Runs only the series whose key (`<method> <n>c <server> <client>`) contains this.
    let only: String?

    /// Sequential warm-up: the JIT-free but cache- and allocator-warming first calls.
    var sequentialWarmUp: Int { min(1_000, max(100, requests / 10)) }
    /// Per connection, before the concurrent part.
    static let concurrentWarmUp = 20

    /// The series for one method: 1 connection, then `connections` at once;
    /// baselines first, then the RPC core with each client.
    func measure(_ workload: Workload, servers: Servers, token: String) async throws -> [Series] {
        var series: [Series] = []
        var phases = [(count: 1, perConnection: requests, warmUp: sequentialWarmUp)]
        if connections > 1 {
            phases.append((connections, max(1, requests / connections), Self.concurrentWarmUp))
        }
        for (count, perConnection, warmUp) in phases {
            let place = count == 1 ? "1 connection" : "\(count) connections"
            let wanted = { (server: ServerKind, client: ClientKind) -> Bool in
                guard let only else { return true }
                return "\(workload.method) \(count)c \(server.rawValue) \(client.rawValue)".contains(only)
            }
            for (kind, server) in servers.baselines where wanted(kind, .blocking) {
                progress("\(workload.method), \(place): \(kind.label) server, blocking client")
                series.append(try BlockingDriver.measure(
                    workload, server: kind, on: server, connections: count, perConnection: perConnection, warmUp: warmUp))
            }
            if wanted(.rpc, .blocking) {
                progress("\(workload.method), \(place): RPC core, blocking client")
                series.append(try BlockingDriver.measure(
                    workload, server: .rpc, on: servers.rpc, connections: count, perConnection: perConnection, warmUp: warmUp))
            }
            if wanted(.rpc, .rpcClient) {
                progress("\(workload.method), \(place): RPC core, RPCClient")
                series.append(try await RPCClientDriver.measure(
                    workload, on: servers.rpc, token: token, connections: count, perConnection: perConnection, warmUp: warmUp))
            }
            // Many callers on one client: the multiplexed client against a C client that
            // pipelines as many requests on one connection.
            guard count > 1 else { continue }
            for (kind, server) in servers.baselines where kind != .python && wanted(kind, .pipelined) {
                progress("\(workload.method), \(count) in flight: \(kind.label), pipelined C client")
                series.append(try PipelinedDriver.measure(
                    workload, server: kind, on: server, window: count, total: requests, warmUp: count * warmUp))
            }
            if wanted(.rpc, .sharedRPCClient) {
                progress("\(workload.method), \(count) callers: RPC core, one RPCClient")
                series.append(try await SharedClientDriver.measure(
                    workload, on: servers.rpc, token: token, callers: count, perCaller: perConnection, warmUp: warmUp))
            }
        }
        return series
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("rpc-bench: \(text)\n".utf8))
    }
}
