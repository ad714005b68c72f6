import Foundation
import RPC
import RPCTesting

/// Every service on a throw-away home, the way the tests start them: echo-svc,
/// approval-svc (which creates the grant key), ledger-svc (which trusts it),
/// state-svc, and agent-svc on model-sim, with `checking` ($1,000.00), `alice`
/// and `bob` opened.
public final class FuzzStack: Sendable {
    /// The services the fuzzer knows, in the order it fuzzes them.
    public static let allServices = ["echo", "state", "approval", "ledger", "agent"]

    /// The home: sockets, tokens, logs.
    public let home: TestHome
    /// The service processes by short name.
    public let processes: [String: ServiceProcess]
    private let simulator: Process

    private init(home: TestHome, processes: [String: ServiceProcess], simulator: Process) {
        self.home = home
        self.processes = processes
        self.simulator = simulator
    }

    /// Starts the stack.
    /// - Parameters:
    ///   - policy: approval-svc's policy file (`compose/policy.json`).
    ///   - logLevel: the services' log level, or nil for their default.
    ///   - environment: extra environment for every service (e.g. a fake API key).
    /// - Throws: when a service does not start; what started is stopped.
    public static func start(policy: String, logLevel: String? = nil, environment: [String: String] = [:]) async throws -> FuzzStack {
        let home = try TestHome.make()
        let logArguments = logLevel.map { ["--log-level", $0] } ?? []
        var processes: [String: ServiceProcess] = [:]
        var simulator: Process?
        do {
            let (sim, port) = try startSimulator(home: home, logLevel: logLevel ?? "warning")
            simulator = sim
            processes["echo"] = try await ServiceProcess.launch("echo-svc", service: "echo", home: home, arguments: logArguments, environment: environment)
            processes["approval"] = try await ServiceProcess.launch(
                "approval-svc", service: "approval", home: home, arguments: ["--policy", policy] + logArguments, environment: environment)
            processes["ledger"] = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: home, arguments: logArguments, environment: environment)
            processes["state"] = try await ServiceProcess.launch("state-svc", service: "state", home: home, arguments: logArguments, environment: environment)
            let ledger = try home.client("ledger")
            for (account, opening) in [("checking", "1000.00"), ("alice", "0"), ("bob", "0")] {
                _ = try await ledger.call(
                    "ledger.open_account", ["account": .string(account), "opening_balance": .string(opening)] as JSONValue, as: JSONValue.self)
            }
            await ledger.close()
            let agentEnvironment = environment.merging([
                "OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1", "HITL_MODEL": "sim", "HITL_LLM_API": "responses",
            ]) { $1 }.merging(environment["OPENAI_API_KEY"] == nil ? ["OPENAI_API_KEY": "sk-fuzz"] : [:]) { $1 }
            processes["agent"] = try await ServiceProcess.launch(
                "agent-svc", service: "agent", home: home, arguments: logArguments, environment: agentEnvironment)
        } catch {
            for process in processes.values { await process.terminate() }
            simulator?.terminate()
            home.remove()
            throw error
        }
        return FuzzStack(home: home, processes: processes, simulator: simulator!)
    }

    /// Stops every service (SIGTERM) and the simulator; removes the home unless `keepHome`.
    public func stop(keepHome: Bool = false) async {
        for name in Self.allServices.reversed() { await processes[name]?.terminate() }
        simulator.terminate()
        simulator.waitUntilExit()
        if !keepHome { home.remove() }
    }

    private static func startSimulator(home: TestHome, logLevel: String) throws -> (Process, Int) {
        let portFile = home.directory.home.appendingPathComponent("sim-port").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("model-sim"))
        process.arguments = ["--port", "0", "--port-file", portFile, "--log-level", logLevel, "--exit-with-parent"]
        try home.directory.prepare()
        let logPath = home.directory.logs.appendingPathComponent("model-sim.log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        for _ in 0..<1_000 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return (process, port)
            }
            guard process.isRunning else { throw RunDirectoryError("model-sim exited with \(process.terminationStatus)") }
            usleep(20_000)
        }
        process.terminate()
        throw RunDirectoryError("model-sim did not report its port within 20 s")
    }
}

/// The fuzz run over a stack: each service in turn.
public enum Fuzzer {
    /// Fuzzes `services` of a running stack, one after another.
    /// - Parameters:
    ///   - stack: the running stack.
    ///   - services: short names, from ``FuzzStack/allServices``.
    ///   - configuration: seed and sizes.
    ///   - progress: called with each service's report as it finishes.
    /// - Returns: one report per service; afterwards every process of the stack is checked too.
    public static func run(
        stack: FuzzStack, services: [String], configuration: FuzzConfiguration, progress: (ServiceReport) -> Void = { _ in }
    ) async throws -> [ServiceReport] {
        var tokens: [String: String] = [:]
        for identity in LineGenerator.identities { tokens[identity.name] = try stack.home.token(identity.name) }
        var reports: [ServiceReport] = []
        for service in services {
            guard let process = stack.processes[service] else { throw RunDirectoryError("no service named \(service)") }
            let socket = stack.home.socket(service)
            let client = RPCClient(path: socket)
            let document = try await client.call("rpc.discover", NoParams(), as: JSONValue.self)
            await client.close()
            let fuzzer = ServiceFuzzer(
                service: service, socket: socket, process: process, contract: ContractModel(document: document), tokens: tokens,
                configuration: configuration)
            var report = await fuzzer.run()
            // The services it calls (the agent's) must have survived too.
            for (name, other) in stack.processes where name != service && !other.process.isRunning {
                report.tally.violation("\(name) died while \(service) was fuzzed (status \(other.process.terminationStatus)); see \(other.logPath)")
            }
            progress(report)
            reports.append(report)
        }
        return reports
    }
}
