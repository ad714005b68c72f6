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
///
/// The gateway runs on a home of its own (``gatewayHome``) that holds only what
/// it may use: the services' sockets, the identities' digests, and the tokens of
/// `agent` and `gateway`. No operator token is in its reach.
final class GatewayStack: @unchecked Sendable {
    // @unchecked: set once in `start`, then only read.
    let home: TestHome
    let gatewayHome: TestHome
    let processes: [ServiceProcess]
    let simulator: Process
    let webhook: WebhookReceiver
    let port: Int
    var gateway: ServiceProcess { processes.last! }

    /// The stack's identities: the default ones and the gateway's own (role gateway).
    static let identities = TestHome.defaultIdentities
    /// The tokens the gateway's home holds: its own only.
    static let gatewayTokens = ["gateway"]
    /// The services the gateway calls.
    static let gatewayCalls = ["agent", "approval", "ledger"]

    private init(home: TestHome, gatewayHome: TestHome, processes: [ServiceProcess], simulator: Process, webhook: WebhookReceiver, port: Int) {
        self.home = home
        self.gatewayHome = gatewayHome
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
        let home = try TestHome.make(identities: identities)
        let webhook = try await WebhookReceiver.start()
        let simulatorPort = home.directory.home.appendingPathComponent("sim-port").path
        let simulator = try launchSimulator(portFile: simulatorPort)
        let simPort = try await readPort(simulatorPort, process: simulator, name: "model-sim")
        let gatewayPortFile = home.directory.home.appendingPathComponent("gateway-port").path
        // The gateway's port is known only once it listens; links need it up front, so reserve one.
        let gatewayPort = try TestPorts.freeLoopbackPort()
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
        let gatewayHome = try makeGatewayHome(for: home)
        let gateway = try await ServiceProcess.launch("gateway", service: "gateway", home: gatewayHome, arguments: [
            "--port", "\(gatewayPort)", "--port-file", gatewayPortFile,
        ])
        let port = try await readPort(gatewayPortFile, process: gateway.process, name: "gateway")
        return GatewayStack(
            home: home, gatewayHome: gatewayHome, processes: [state, approval, ledger, agent, gateway], simulator: simulator,
            webhook: webhook, port: port)
    }

    /// The gateway's own home: links to the sockets of the services it calls and
    /// to the identities file (digests only), and copies of its two tokens.
    private static func makeGatewayHome(for home: TestHome) throws -> TestHome {
        let gatewayHome = try TestHome.make(identities: [])
        let files = FileManager.default
        try files.removeItem(at: gatewayHome.directory.identities)
        try files.createSymbolicLink(atPath: gatewayHome.directory.identities.path, withDestinationPath: home.directory.identities.path)
        for service in gatewayCalls {
            try files.createSymbolicLink(atPath: gatewayHome.socket(service), withDestinationPath: home.socket(service))
        }
        for identity in gatewayTokens {
            try IdentityProvisioner.writePrivate(Data(try home.token(identity).utf8), to: gatewayHome.directory.tokenPath(for: identity))
        }
        return gatewayHome
    }

    func stop() async {
        for process in processes.reversed() { await process.terminate() }
        simulator.terminate()
        simulator.waitUntilExit()
        webhook.stop()
        gatewayHome.remove()
        home.remove()
    }

    /// An approve link of `approvalID` as approval-svc issued them before an
    /// approval that needs several people stopped getting one: signed with its
    /// link key and stored as issued (by python3's sqlite3 and hmac, which this
    /// test target does not link). Returns the link's path on the gateway.
    func legacyApproveLink(for approvalID: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", Self.mintLegacyLink, home.directory.data.appendingPathComponent("approval.sqlite").path,
            home.directory.run.appendingPathComponent("link-signing.key").path, approvalID,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, token.hasPrefix("v1.") else {
            throw RunDirectoryError("could not mint a legacy link (python3 exited \(process.terminationStatus))")
        }
        return "/links/\(token)"
    }

    /// approval-svc's link format: `v1.<base64url sorted-keys JSON>.<base64url HMAC-SHA256 of the middle part>`.
    private static let mintLegacyLink = """
        import base64, hashlib, hmac, json, secrets, sqlite3, sys
        database, key_file, approval = sys.argv[1:4]
        key = base64.b64decode(open(key_file).read().strip())
        connection = sqlite3.connect(database, timeout=10)
        version, expires_at = connection.execute(
            "SELECT version, expires_at FROM approvals WHERE approval_id = ?", (approval,)).fetchone()
        nonce = secrets.token_hex(16)
        with connection:
            connection.execute(
                "INSERT INTO link_tokens (nonce, approval_id, version, decision, recipient, expires_at) "
                "VALUES (?, ?, ?, 'approve', 'webhook', ?)", (nonce, approval, version, expires_at))
        encode = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        payload = {"a": approval, "d": "approve", "e": expires_at // 1000, "n": nonce, "v": version}
        body = encode(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
        print("v1." + body + "." + encode(hmac.new(key, body.encode(), hashlib.sha256).digest()))
        """

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
}
