import Approval
import Banking
import Foundation
import RPC
import RPCTesting
import SQLiteKit
import ServiceKit
import Synchronization
import Testing

/// The repository's root, for `compose/policy.json` and `Protocols/`.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A real `approval-svc` on a private test home, with a client per identity.
/// Tests call it from several tasks at once (concurrent submissions, racing
/// approvers), so the process and the clients live behind locks.
final class ApprovalHarness: Sendable {
    let home: TestHome
    let clockFile: String
    let policy: String?
    let arguments: [String]
    private let running: Mutex<ServiceProcess>
    private let clients = Mutex<[String: RPCClient]>([:])

    var process: ServiceProcess { running.withLock { $0 } }

    private init(home: TestHome, clockFile: String, policy: String?, arguments: [String], process: ServiceProcess) {
        self.home = home
        self.clockFile = clockFile
        self.policy = policy
        self.arguments = arguments
        self.running = Mutex(process)
    }

    /// Starts the service with the shipped policy (or `policy`) and a test clock at offset
    /// 0, its approvals on `backend` (a fresh database of the test cluster for PostgreSQL).
    static func start(
        backend: DatabaseBackend = .sqlite, policy: String? = nil, arguments: [String] = [], home: TestHome? = nil
    ) async throws -> ApprovalHarness {
        let arguments = try backend.serviceArguments(prefix: "approval") + arguments
        let home = try home ?? TestHome.make()
        let clockFile = home.directory.home.appendingPathComponent("clock-offset").path
        try "0".write(toFile: clockFile, atomically: true, encoding: .utf8)
        let process = try await launch(home: home, clockFile: clockFile, policy: policy, arguments: arguments)
        return ApprovalHarness(home: home, clockFile: clockFile, policy: policy, arguments: arguments, process: process)
    }

    private static func launch(home: TestHome, clockFile: String, policy: String?, arguments: [String]) async throws -> ServiceProcess {
        let policyPath = policy ?? repositoryRoot.appendingPathComponent("compose/policy.json").path
        return try await ServiceProcess.launch(
            "approval-svc", service: "approval", home: home, arguments: ["--policy", policyPath] + arguments,
            environment: ["HITL_TEST_CLOCK_OFFSET_FILE": clockFile])
    }

    /// Runs `statement` on the service's database behind its back (to tamper with
    /// rows, as an attacker with database access would): the SQLite file, or the
    /// PostgreSQL database named by its `--database`.
    func sql(_ statement: String) throws {
        if let database = postgresDatabase {
            _ = try PostgresTestCluster.shared().runProgram("psql", ["-v", "ON_ERROR_STOP=1", "-d", database, "-c", statement])
            return
        }
        try sqlite().executeScript(statement)
    }

    /// The first row of `query` on the service's database (behind its back), its first
    /// `columns` columns as text.
    func sqlRow(_ query: String, columns: Int32) throws -> [String]? {
        if let database = postgresDatabase {
            let output = try PostgresTestCluster.shared().runProgram("psql", ["-v", "ON_ERROR_STOP=1", "-At", "-F", "|", "-d", database, "-c", query])
            return output.split(separator: "\n").first.map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        }
        return try sqlite().queryOne(query) { row in (0..<columns).map { row.text($0) } }
    }

    /// The PostgreSQL database `--database` names, if the service runs on one.
    private var postgresDatabase: String? {
        guard let index = arguments.firstIndex(of: "--database"), index + 1 < arguments.count,
              let path = URLComponents(string: arguments[index + 1])?.path, path.count > 1
        else { return nil }
        return String(path.dropFirst())
    }

    private func sqlite() throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: home.directory.data.appendingPathComponent("approval.sqlite").path)
        try connection.executeScript("PRAGMA busy_timeout=5000")
        return connection
    }

    /// A client presenting `identity`'s token (nil: no token).
    func client(_ identity: String?) throws -> RPCClient {
        let key = identity ?? "-"
        return try clients.withLock { clients in
            if let client = clients[key] { return client }
            let client = try home.client("approval", as: identity)
            clients[key] = client
            return client
        }
    }

    /// Moves the service's clock (takes effect at the next start).
    func setClockOffset(seconds: Int) throws {
        try "\(seconds)".write(toFile: clockFile, atomically: true, encoding: .utf8)
    }

    /// Stops the service (SIGTERM, or SIGKILL when `crash`) and starts it again.
    func restart(crash: Bool = false) async throws {
        await stop(crash: crash)
        try await startAgain()
    }

    /// Stops the service.
    func stop(crash: Bool = false) async {
        let open = clients.withLock { clients in
            defer { clients = [:] }
            return Array(clients.values)
        }
        for client in open { await client.close() }
        if crash { await process.kill9() } else { await process.terminate() }
    }

    /// Starts the service again after ``stop(crash:)``.
    func startAgain() async throws {
        let process = try await Self.launch(home: home, clockFile: clockFile, policy: policy, arguments: arguments)
        running.withLock { $0 = process }
    }

    func finish() async {
        await stop()
        home.remove()
    }

    // MARK: calls

    /// Calls a method and checks the result against the contract.
    @discardableResult
    func call(_ method: String, as identity: String? = "operator", _ params: [String: JSONValue] = [:]) async throws -> JSONValue {
        let result = try await client(identity).call(method, params, as: JSONValue.self)
        let problems = Contract.shared.validateResult(of: method, result)
        #expect(problems.isEmpty, "\(method) result does not match the contract: \(problems)")
        return result
    }

    func submit(
        run: String = "run-\(UUID().uuidString.prefix(8))", call: String = "call-1", _ action: [String: JSONValue],
        requestedBy: String = "operator", expiresIn: Int64? = nil
    ) async throws -> ApprovalView {
        var params: [String: JSONValue] = [
            "run_id": .string(run), "call_id": .string(call), "action": .object(action), "requested_by": .string(requestedBy),
        ]
        if let expiresIn { params["expires_in"] = .int(expiresIn) }
        return try await self.call("approval.submit", as: "agent", params).decode(as: ApprovalView.self)
    }

    /// Votes; without `version`, on the version the approval is at now (as a person who
    /// just looked at it would), or version 1 when there is no such approval.
    func decide(
        _ approvalID: String, as approver: String?, _ decision: String = "approve", reason: String? = nil,
        edited: [String: JSONValue]? = nil, version: Int64? = nil
    ) async throws -> ApprovalView {
        var params: [String: JSONValue] = ["approval_id": .string(approvalID), "decision": .string(decision)]
        if let reason { params["reason"] = .string(reason) }
        if let edited { params["edited_action"] = .object(edited) }
        var current = version
        if current == nil { current = (try? await get(approvalID).version) ?? 1 }
        params["version"] = .int(current ?? 1)
        return try await call("approval.decide", as: approver, params).decode(as: ApprovalView.self)
    }

    /// The grant of an approval, as the roles that execute see it.
    func grant(_ approvalID: String) async throws -> Grant? {
        try await get(approvalID).grant
    }

    func get(_ approvalID: String) async throws -> ApprovalView {
        try await call("approval.get", ["approval_id": .string(approvalID)]).decode(as: ApprovalView.self)
    }

    func events(after seq: Int64 = 0, limit: Int64 = 1_000) async throws -> [ApprovalEvent] {
        var all: [ApprovalEvent] = []
        var cursor = seq
        while true {
            let page = try await call("approval.events", ["after_seq": .int(cursor), "limit": .int(limit)])
            let events = try (page["events"] ?? .array([])).decode(as: [ApprovalEvent].self)
            all += events
            cursor = page["last_seq"]?.intValue ?? cursor
            if page["has_more"] != .bool(true) { return all }
        }
    }

    func verifyAudit() async throws -> AuditVerification {
        try await call("approval.verify_audit").decode(as: AuditVerification.self)
    }

    /// The grant verifier built from the public key file the service wrote.
    func verifier() throws -> GrantVerifier {
        try GrantKeys.loadVerifier(path: GrantKeys.publicKeyPath(in: home.directory))
    }
}

/// Actions as wire objects.
enum Actions {
    static func transfer(_ amount: String, from: String = "checking", to: String = "alice") -> [String: JSONValue] {
        ["kind": .string("transfer"), "from": .string(from), "to": .string(to), "amount": .string(amount), "currency": .string("USD")]
    }

    static func deposit(_ amount: String, to: String = "checking") -> [String: JSONValue] {
        ["kind": .string("deposit"), "to": .string(to), "amount": .string(amount), "currency": .string("USD")]
    }

    static func action(_ wire: [String: JSONValue]) throws -> Action {
        try JSONValue.object(wire).decode(as: Action.self)
    }
}

/// Runs `body` and checks that it fails with `status`/`reason` (and `field`),
/// and that the contract documents that reason for `method`.
func expectError(
    _ method: String, _ status: RPCStatus, _ reason: String, field: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("\(method): expected \(status.name)/\(reason), but it succeeded", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        #expect(error.status == status, "\(error)", sourceLocation: sourceLocation)
        #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        if let field { #expect(error.details["field"] == .string(field), "\(error)", sourceLocation: sourceLocation) }
        #expect(Contract.shared.documents(reason: error.reason, for: method),
            "\(method) does not document \(error.reason) in Protocols/approval.openrpc.json", sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(method): unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

/// Collects streamed events from the client's event loop.
final class EventCollector: Sendable {
    private let events = Mutex<[ApprovalEvent]>([])
    func append(_ event: ApprovalEvent) { events.withLock { $0.append(event) } }
    var all: [ApprovalEvent] { events.withLock { $0 } }
}

extension DatabaseBackend: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}
