import Foundation
import RPC
import RPCTesting
import Testing

/// A real `state-svc` on a throw-away home, with clients for each role, whose
/// every answer is checked against the contract it serves.
final class StateFixture: Sendable {
    let home: TestHome
    let process: ServiceProcess
    let agent: RPCClient
    let contract: ServedContract
    /// Where the rows are: state-svc's arguments that name the backend's database.
    let storage: [String]

    private init(home: TestHome, process: ServiceProcess, agent: RPCClient, contract: ServedContract, storage: [String]) {
        self.home = home
        self.process = process
        self.agent = agent
        self.contract = contract
        self.storage = storage
    }

    /// Starts state-svc on `backend` and reads its contract with `rpc.discover`.
    static func start(_ backend: StoreBackend, arguments: [String] = []) async throws -> StateFixture {
        try await start(storage: try backend.serviceArguments(), arguments: arguments)
    }

    /// Starts state-svc on a home of its own with `storage` (the arguments that name its
    /// database: two fixtures with the same PostgreSQL database are two replicas).
    static func start(storage: [String], arguments: [String] = []) async throws -> StateFixture {
        let home = try TestHome.make()
        let process = try await ServiceProcess.launch("state-svc", service: "state", home: home, arguments: storage + arguments)
        let agent = try home.client("state", as: "agent")
        let document = try await agent.call("rpc.discover", NoParams(), as: JSONValue.self)
        return StateFixture(home: home, process: process, agent: agent, contract: ServedContract(document: document), storage: storage)
    }

    /// Starts another state-svc on the same home and database (after a crash), with `arguments`.
    func restart(arguments: [String] = []) async throws -> StateFixture {
        let process = try await ServiceProcess.launch("state-svc", service: "state", home: home, arguments: storage + arguments)
        return StateFixture(
            home: home, process: process, agent: try home.client("state", as: "agent"), contract: contract, storage: storage)
    }

    /// Stops the service and deletes the home.
    func stop() async {
        await agent.close()
        await process.terminate()
        home.remove()
    }

    /// Sends SIGTERM and deletes the home without waiting, for `defer`: the
    /// signal is sent before the test returns, so no service outlives the run.
    func stopNow() {
        if process.process.isRunning { kill(process.pid, SIGTERM) }
        home.remove()
    }

    /// A client presenting `identity`'s token.
    func client(_ identity: String?) throws -> RPCClient { try home.client("state", as: identity) }

    /// Calls `method` and checks the result against its documented schema.
    @discardableResult
    func call(
        _ method: String, _ params: JSONValue, via client: RPCClient? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let result = try await (client ?? agent).call(method, params, as: JSONValue.self)
        let problems = contract.resultProblems(method, result)
        #expect(problems.isEmpty, "\(method) result breaks its contract: \(problems)", sourceLocation: sourceLocation)
        return result
    }

    /// Calls `method`, expects it to fail with `reason`, and checks the error is documented for it.
    @discardableResult
    func expectError(
        _ method: String, _ params: JSONValue, reason: String, via client: RPCClient? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> RPCError? {
        do {
            let result = try await (client ?? agent).call(method, params, as: JSONValue.self)
            Issue.record("\(method) succeeded with \(result.jsonText()); expected \(reason)", sourceLocation: sourceLocation)
            return nil
        } catch let error as RPCError {
            #expect(error.reason == reason, "\(method): \(error)", sourceLocation: sourceLocation)
            let documented = Set(contract.documentedErrors(method).map { "\($0.code.map(String.init) ?? "?") \($0.status)/\($0.reason)" })
            let key = "\(error.code) \(error.status.name)/\(error.reason)"
            #expect(documented.contains(key), "\(method) returned \(key), which its contract does not list", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("\(method) failed with \(error); expected \(reason)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Creates a run with a minimal document and returns its id.
    func createRun(_ extra: [String: JSONValue] = [:], sessionID: String? = nil) async throws -> String {
        var params: [String: JSONValue] = ["data": Self.document(extra)]
        if let sessionID { params["session_id"] = .string(sessionID) }
        let created = try await call("state.create_run", .object(params))
        return try #require(created["run_id"]?.stringValue)
    }

    /// A valid document: `schema_version` 1 plus `extra`.
    static func document(_ extra: [String: JSONValue] = [:]) -> JSONValue {
        .object(extra.merging(["schema_version": .int(1)]) { current, _ in current })
    }
}

/// The elements of a JSON array (empty for anything else).
func items(_ value: JSONValue?) -> [JSONValue] {
    if case .array(let elements)? = value { return elements }
    return []
}
