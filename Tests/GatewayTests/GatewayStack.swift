import Foundation
import Hummingbird
import Logging
import RPC
import RPCTesting
import Synchronization
import Testing

/// The repository's root (for compose/policy.json and scripts/browser).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Receives approval-svc's webhook notifications, as a chat app would.
final class WebhookReceiver: Sendable {
    private let box: Box
    private let task: Task<Void, any Error>
    let port: Int

    private init(task: Task<Void, any Error>, port: Int, box: Box) {
        self.task = task
        self.port = port
        self.box = box
    }

    static func start() async throws -> WebhookReceiver {
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let box = Box()
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            if let value = try? JSONValue(parsing: String(buffer: body)) { box.append(value) }
            return .ok
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0); portSink.finish() },
            logger: Self.quiet)
        let task = Task { try await app.run() }
        var port = 0
        for await bound in ports { port = bound }
        return WebhookReceiver(task: task, port: port, box: box)
    }

    /// The receiver logs nothing below critical (its shutdown is not news).
    static let quiet: Logger = {
        var logger = Logger(label: "webhook-receiver")
        logger.logLevel = .critical
        return logger
    }()

    /// Every notice so far.
    var notices: [JSONValue] { box.all }

    /// Waits (at most 20 s) for a notice that satisfies `match`.
    func wait(for description: String, _ match: (JSONValue) -> Bool) async throws -> JSONValue {
        for _ in 0..<400 {
            if let notice = notices.first(where: match) { return notice }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RunDirectoryError("no webhook notice \(description) within 20 s; got \(notices.map { $0.jsonText() })")
    }

    func stop() { task.cancel() }

    final class Box: Sendable {
        private let values = Mutex<[JSONValue]>([])
        func append(_ value: JSONValue) { values.withLock { $0.append(value) } }
        var all: [JSONValue] { values.withLock { $0 } }
    }
}

/// The whole stack on a private home, as a user runs it: model-sim, state-svc,
/// approval-svc (notifying a test webhook, links pointing at this gateway),
/// ledger-svc with `checking` ($1,000.00), `alice` and `bob`, agent-svc
/// following decisions, and the gateway on a free port.
final class GatewayStack: @unchecked Sendable {
    // @unchecked: set once in `start`, then only read.
    let home: TestHome
    let processes: [ServiceProcess]
    let simulator: Process
    let webhook: WebhookReceiver
    let port: Int
    var gateway: ServiceProcess { processes.last! }

    private init(home: TestHome, processes: [ServiceProcess], simulator: Process, webhook: WebhookReceiver, port: Int) {
        self.home = home
        self.processes = processes
        self.simulator = simulator
        self.webhook = webhook
        self.port = port
    }

    static func with(_ body: (GatewayStack) async throws -> Void) async throws {
        let stack = try await start()
        do {
            try await body(stack)
        } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
    }

    static func start() async throws -> GatewayStack {
        let home = try TestHome.make()
        let webhook = try await WebhookReceiver.start()
        let simulatorPort = home.directory.home.appendingPathComponent("sim-port").path
        let simulator = try launchSimulator(portFile: simulatorPort)
        let simPort = try await readPort(simulatorPort, process: simulator, name: "model-sim")
        let gatewayPortFile = home.directory.home.appendingPathComponent("gateway-port").path
        // The gateway's port is known only once it listens; links need it up front, so reserve one.
        let gatewayPort = try freePort()
        let secret = home.directory.home.appendingPathComponent("webhook-secret").path
        try IdentityProvisioner.writePrivate(Data("test-webhook-secret-0123456789abcdef".utf8), to: secret)
        let state = try await ServiceProcess.launch("state-svc", service: "state", home: home)
        let approval = try await ServiceProcess.launch("approval-svc", service: "approval", home: home, arguments: [
            "--policy", repositoryRoot.appendingPathComponent("compose/policy.json").path,
            "--webhook-url", "http://127.0.0.1:\(webhook.port)/hook", "--webhook-secret-file", secret,
            "--link-base-url", "http://127.0.0.1:\(gatewayPort)", "--notify-retry-initial-ms", "100",
        ])
        let ledger = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: home)
        let operatorLedger = try home.client("ledger")
        for (account, opening) in [("checking", "1000.00"), ("alice", "0"), ("bob", "0")] {
            _ = try await operatorLedger.call(
                "ledger.open_account", ["account": .string(account), "opening_balance": .string(opening)] as JSONValue, as: JSONValue.self)
        }
        await operatorLedger.close()
        let agent = try await ServiceProcess.launch("agent-svc", service: "agent", home: home, environment: [
            "OPENAI_BASE_URL": "http://127.0.0.1:\(simPort)/v1", "OPENAI_API_KEY": "sk-test", "HITL_MODEL": "sim", "HITL_LLM_API": "responses",
        ])
        let gateway = try await ServiceProcess.launch("gateway", service: "gateway", home: home, arguments: [
            "--port", "\(gatewayPort)", "--port-file", gatewayPortFile,
        ])
        let port = try await readPort(gatewayPortFile, process: gateway.process, name: "gateway")
        return GatewayStack(home: home, processes: [state, approval, ledger, agent, gateway], simulator: simulator, webhook: webhook, port: port)
    }

    func stop() async {
        for process in processes.reversed() { await process.terminate() }
        simulator.terminate()
        simulator.waitUntilExit()
        webhook.stop()
        home.remove()
    }

    /// A client signed in as `approver1`.
    func signedInClient(as approver: String = "approver1") async throws -> HTTPTestClient {
        let client = HTTPTestClient(port: port)
        let answer = try await client.signIn(token: try home.token(approver))
        #expect(answer.status == 200, "sign-in: \(answer.body)")
        return client
    }

    /// `available` of an account, from ledger-svc itself.
    func available(_ account: String) async throws -> String {
        let client = try home.client("ledger")
        defer { Task { await client.close() } }
        return try await client.call("ledger.balance", ["account": .string(account)] as JSONValue, as: JSONValue.self)["available"]?.stringValue ?? "?"
    }

    func posted(_ account: String) async throws -> String {
        let client = try home.client("ledger")
        defer { Task { await client.close() } }
        return try await client.call("ledger.balance", ["account": .string(account)] as JSONValue, as: JSONValue.self)["posted"]?.stringValue ?? "?"
    }

    /// An approval, read by the operator.
    func approval(_ id: String) async throws -> JSONValue {
        let client = try home.client("approval")
        defer { Task { await client.close() } }
        return try await client.call("approval.get", ["approval_id": .string(id)] as JSONValue, as: JSONValue.self)
    }

    /// Polls agent.get_run until the run has `status` (at most 20 s); returns the last run seen.
    func waitForRun(_ runID: String, status: String) async throws -> JSONValue {
        let client = try home.client("agent", as: "agent")
        defer { Task { await client.close() } }
        var run: JSONValue = .null
        for _ in 0..<400 {
            run = try await client.call("agent.get_run", ["run_id": .string(runID)] as JSONValue, as: JSONValue.self)
            if run["status"]?.stringValue == status { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return run
    }

    /// Starts a chat over HTTP and returns its events (it ends at approval_required).
    func chat(_ client: HTTPTestClient, _ message: String) async throws -> [SSE] {
        let answer = try await client.post("/chat", json: ["message": .string(message)])
        #expect(answer.status == 200, "chat: \(answer.body)")
        return answer.events
    }

    /// The approve link of the "approval needed" notice of an approval.
    func link(_ decision: String, for approvalID: String) async throws -> String {
        let notice = try await webhook.wait(for: "approval.requested for \(approvalID)") {
            $0["type"]?.stringValue == "approval.requested" && $0["approval"]?["approval_id"]?.stringValue == approvalID
        }
        return notice["links"]?[decision]?.stringValue ?? ""
    }

    private static func launchSimulator(portFile: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("model-sim"))
        process.arguments = ["--port", "0", "--port-file", portFile, "--log-level", "warning", "--exit-with-parent"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    private static func readPort(_ path: String, process: Process, name: String) async throws -> Int {
        for _ in 0..<1_000 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return port
            }
            guard process.isRunning else { throw RunDirectoryError("\(name) exited with \(process.terminationStatus)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RunDirectoryError("\(name) did not report its port within 20 s")
    }

    /// A port nobody listens on right now (bound, read, released).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw RunDirectoryError("cannot find a free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
