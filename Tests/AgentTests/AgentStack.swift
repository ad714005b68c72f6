import Contracts
import Foundation
import RPC
import RPCTesting
import Synchronization
import Testing

/// The repository's root, for `compose/policy.json`.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Collects streamed events (they arrive on an event loop).
final class EventLog: Sendable {
    private let events = Mutex<[JSONValue]>([])

    func append(_ event: JSONValue) { events.withLock { $0.append(event) } }
    var types: [String] { events.withLock { $0.compactMap { $0["type"]?.stringValue } } }
    var all: [JSONValue] { events.withLock { $0 } }
}

/// The real stack on a private home: model-sim, approval-svc, ledger-svc, state-svc
/// and agent-svc, with `checking` (1000.00), `alice`, `bob` and `mallory` opened.
final class AgentStack: Sendable {
    let home: TestHome
    /// approval-svc, ledger-svc, state-svc (and a second agent when launched), then
    /// agent-svc: replaced by restarts while other tasks may be calling the stack.
    private let running: Mutex<(processes: [ServiceProcess], agent: ServiceProcess)>
    /// Not Sendable: started at once, then only terminated by ``stop()``.
    private let simulatorProcess: SendableProcess
    let agentArguments: [String]
    let environment: [String: String]

    var simulator: Process { simulatorProcess.process }

    private init(home: TestHome, processes: [ServiceProcess], simulator: Process, agentArguments: [String], environment: [String: String], agent: ServiceProcess) {
        self.home = home
        running = Mutex((processes, agent))
        simulatorProcess = SendableProcess(process: simulator)
        self.agentArguments = agentArguments
        self.environment = environment
    }

    /// - Parameters:
    ///   - follow: whether agent-svc follows decisions.
    ///   - environment: added to agent-svc's (e.g. `HITL_LLM_API=chat`).
    ///   - simulatorArguments: added to model-sim's (e.g. `--replay DIR`).
    ///   - checking: the opening balance of `checking`, the user's account.
    static func start(
        follow: Bool = false, environment extra: [String: String] = [:], simulatorArguments: [String] = [], checking: String = "1000.00"
    ) async throws -> AgentStack {
        let home = try TestHome.make()
        let (simulator, port) = try startSimulator(home: home, arguments: simulatorArguments)
        try "0".write(toFile: clockFile(home), atomically: true, encoding: .utf8)
        let approval = try await launchApproval(home)
        let ledger = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: home)
        let state = try await ServiceProcess.launch("state-svc", service: "state", home: home)
        let operatorLedger = try home.client("ledger")
        for (account, opening) in [("checking", checking), ("alice", "0"), ("bob", "0"), ("mallory", "0")] {
            _ = try await operatorLedger.call(
                "ledger.open_account", ["account": .string(account), "opening_balance": .string(opening)] as JSONValue, as: JSONValue.self)
        }
        await operatorLedger.close()
        let environment = [
            "OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1", "OPENAI_API_KEY": "sk-test", "HITL_MODEL": "sim", "HITL_LLM_API": "responses",
        ].merging(extra) { _, new in new }
        let arguments = follow ? [] : ["--no-follow"]
        let agent = try await ServiceProcess.launch("agent-svc", service: "agent", home: home, arguments: arguments, environment: environment)
        return AgentStack(
            home: home, processes: [approval, ledger, state], simulator: simulator, agentArguments: arguments, environment: environment,
            agent: agent)
    }

    /// Runs `body` on a fresh stack and always stops the stack before returning
    /// (no orphaned services after the run).
    /// Polls agent.get_run until the run has `status` (at most 10 s); returns the last status seen.
    func waitForStatus(_ runID: String, _ status: String) async throws -> String {
        var seen = ""
        for _ in 0..<200 {
            seen = try await getRun(runID).status
            if seen == status { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return seen
    }

    static func with(
        follow: Bool = false, environment: [String: String] = [:], simulatorArguments: [String] = [], checking: String = "1000.00",
        _ body: (AgentStack) async throws -> Void
    ) async throws {
        let stack = try await start(follow: follow, environment: environment, simulatorArguments: simulatorArguments, checking: checking)
        do {
            try await body(stack)
        } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
    }

    static func clockFile(_ home: TestHome) -> String { home.directory.home.appendingPathComponent("clock-offset").path }

    static func launchApproval(_ home: TestHome) async throws -> ServiceProcess {
        try await ServiceProcess.launch(
            "approval-svc", service: "approval", home: home,
            arguments: ["--policy", repositoryRoot.appendingPathComponent("compose/policy.json").path],
            environment: ["HITL_TEST_CLOCK_OFFSET_FILE": clockFile(home)])
    }

    /// Restarts approval-svc with its clock `seconds` ahead (pending approvals past their time expire).
    func restartApproval(clockAheadSeconds seconds: Int) async throws {
        try "\(seconds)".write(toFile: Self.clockFile(home), atomically: true, encoding: .utf8)
        await running.withLock { $0.processes[0] }.terminate()
        let approval = try await Self.launchApproval(home)
        running.withLock { $0.processes[0] = approval }
    }

    static func startSimulator(home: TestHome, arguments extra: [String] = []) throws -> (Process, Int) {
        let portFile = home.directory.home.appendingPathComponent("sim-port").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("model-sim"))
        process.arguments = ["--port", "0", "--port-file", portFile, "--log-level", "warning", "--exit-with-parent"] + extra
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<500 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
               let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return (process, port)
            }
            guard process.isRunning else { throw RunDirectoryError("model-sim exited with \(process.terminationStatus)") }
            usleep(20_000)
        }
        throw RunDirectoryError("model-sim did not report its port within 10 s")
    }

    /// Stops state-svc where it stands (SIGSTOP): calls to it are written and never answered.
    func freezeState() {
        kill(running.withLock { $0.processes[2] }.pid, SIGSTOP)
    }

    /// Kills state-svc with SIGKILL (frozen or not) and starts it again on the same home.
    func restartStateAfterCrash() async throws {
        await running.withLock { $0.processes[2] }.kill9()
        let state = try await ServiceProcess.launch("state-svc", service: "state", home: home)
        running.withLock { $0.processes[2] = state }
    }

    /// Kills agent-svc with SIGKILL (no graceful anything).
    func killAgent() async {
        await running.withLock { $0.agent }.kill9()
    }

    /// Starts agent-svc again on the same home.
    /// - Parameters:
    ///   - extraArguments: added to the arguments it was first started with.
    ///   - follow: whether it follows decisions (nil: as it was first started).
    func restartAgent(extraArguments: [String] = [], follow: Bool? = nil) async throws {
        var arguments = agentArguments
        if let follow { arguments = arguments.filter { $0 != "--no-follow" } + (follow ? [] : ["--no-follow"]) }
        let agent = try await ServiceProcess.launch(
            "agent-svc", service: "agent", home: home, arguments: arguments + extraArguments, environment: environment)
        running.withLock { $0.agent = agent }
    }

    /// A second agent-svc process on the same services, serving `<home>/run/agent2.sock`.
    func launchSecondAgent() async throws {
        let second = try await ServiceProcess.launch(
            "agent-svc", service: "agent2", home: home, arguments: agentArguments + ["--socket", home.socket("agent2")],
            environment: environment)
        running.withLock { $0.processes.append(second) }
    }

    func stop() async {
        let (processes, agent) = running.withLock { $0 }
        await agent.terminate()
        for process in processes.reversed() { await process.terminate() }
        simulator.terminate()
        simulator.waitUntilExit()
        home.remove()
    }

    // MARK: - Calls

    func chat(_ message: String, mode: String = "tools", events: EventLog = EventLog()) async throws -> RunResult {
        let client = try home.client("agent")
        defer { Task { await client.close() } }
        return try await client.stream(
            "agent.chat", ["message": .string(message), "mode": .string(mode)] as JSONValue, event: JSONValue.self, as: RunResult.self
        ) { events.append($0) }
    }

    func resume(_ runID: String, on service: String = "agent", events: EventLog = EventLog()) async throws -> RunResult {
        let client = try home.client(service)
        defer { Task { await client.close() } }
        return try await client.stream("agent.resume", ["run_id": .string(runID)] as JSONValue, event: JSONValue.self, as: RunResult.self) {
            events.append($0)
        }
    }

    func getRun(_ runID: String) async throws -> RunResult {
        try await call("agent", "agent.get_run", ["run_id": .string(runID)], as: RunResult.self)
    }

    /// Votes on the version the approval is at now, as a person who just looked at it.
    @discardableResult
    func decide(_ approvalID: String, _ decision: String, reason: String? = nil, as approver: String = "approver1") async throws -> JSONValue {
        let current = try await call("approval", "approval.get", ["approval_id": .string(approvalID)], as: JSONValue.self)
        var params: [String: JSONValue] = [
            "approval_id": .string(approvalID), "decision": .string(decision), "version": current["version"] ?? 1,
        ]
        if let reason { params["reason"] = .string(reason) }
        return try await call("approval", "approval.decide", .object(params), identity: approver, as: JSONValue.self)
    }

    /// Follows a run with agent.watch_run: its events after `after`, until it is at rest
    /// past `waitFor` (agent-svc resumes runs by itself once they are decided).
    func watch(
        _ runID: String, after: Int64 = 0, waitFor: [String] = [], on service: String = "agent", events: EventLog = EventLog()
    ) async throws -> RunResult {
        let client = try home.client(service)
        defer { Task { await client.close() } }
        let params: JSONValue = ["run_id": .string(runID), "after_seq": .int(after), "wait_for": .array(waitFor.map(JSONValue.string))]
        return try await client.stream(
            "agent.watch_run", params, event: JSONValue.self, as: RunResult.self, options: .init(timeout: .seconds(30))
        ) { events.append($0) }
    }

    /// `posted` and `available` of an account.
    func balance(_ account: String) async throws -> (posted: String, available: String) {
        let value = try await call("ledger", "ledger.balance", ["account": .string(account)], as: JSONValue.self)
        return (value["posted"]?.stringValue ?? "?", value["available"]?.stringValue ?? "?")
    }

    /// `posted/available` of an account, e.g. `1000.00/500.00`.
    func books(_ account: String) async throws -> String {
        let balance = try await balance(account)
        return "\(balance.posted)/\(balance.available)"
    }

    func call<R: Decodable>(_ service: String, _ method: String, _ params: JSONValue, identity: String = "operator", as type: R.Type) async throws -> R {
        let client = try home.client(service, as: identity)
        defer { Task { await client.close() } }
        return try await client.call(method, params, as: R.self)
    }
}

/// A Foundation `Process` (not Sendable) shared as the stack's model simulator. Safe
/// because it is started before it is wrapped, and after that only `terminate()` and
/// `waitUntilExit()` are called on it, once, from ``AgentStack/stop()``.
final class SendableProcess: @unchecked Sendable {
    let process: Process
    init(process: Process) { self.process = process }
}
