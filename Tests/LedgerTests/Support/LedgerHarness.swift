import Banking
import Crypto
import Foundation
import RPC
import RPCTesting
import ServiceKit
import Testing

extension JSONValue {

    /// This object with `key` set (or removed, for nil).
    func with(_ key: String, _ value: JSONValue?) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members[key] = value
        return .object(members)
    }
}

/// A real `ledger-svc` on a throw-away home, a grant signer whose public key
/// it trusts, clients per identity, and the contract every answer is checked against.
final class LedgerHarness: Sendable {
    let home: TestHome
    let service: ServiceProcess
    let signer: GrantSigner
    let contract: ServedContract
    /// The service's arguments, the backend's included, for a restart.
    let arguments: [String]

    private init(home: TestHome, service: ServiceProcess, signer: GrantSigner, contract: ServedContract, arguments: [String]) {
        self.home = home
        self.service = service
        self.signer = signer
        self.contract = contract
        self.arguments = arguments
    }

    /// Starts ledger-svc with a fresh home and grant key, its books on `backend`
    /// (a fresh database of the test cluster for PostgreSQL).
    static func start(backend: DatabaseBackend = .sqlite, arguments: [String] = []) async throws -> LedgerHarness {
        let home = try TestHome.make()
        let signer = try GrantKeys.loadOrCreateSigner(in: home.directory)
        let arguments = try backend.serviceArguments(prefix: "ledger") + arguments
        let service = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: home, arguments: arguments)
        let document = try await home.client("ledger", as: nil).call("rpc.discover", NoParams(), as: JSONValue.self)
        return LedgerHarness(home: home, service: service, signer: signer, contract: ServedContract(document: document), arguments: arguments)
    }

    /// Restarts the service on the same home and database (after ``ServiceProcess/kill9()`` or terminate).
    func restarted() async throws -> LedgerHarness {
        let service = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: home, arguments: arguments)
        return LedgerHarness(home: home, service: service, signer: signer, contract: contract, arguments: arguments)
    }

    func stop() async {
        await service.terminate()
        home.remove()
    }

    // MARK: - Calls checked against the contract

    /// Calls a method; its result must match the documented result schema.
    @discardableResult
    func call(_ method: String, _ params: JSONValue = [:], as identity: String? = "operator") async throws -> JSONValue {
        let client = try home.client("ledger", as: identity)
        defer { Task { await client.close() } }
        do {
            let result = try await client.call(method, params, as: JSONValue.self)
            if let schema = contract.resultSchema(method) {
                let problems = contract.problems(result, schema)
                #expect(problems.isEmpty, "\(method) result breaks its contract: \(problems)")
            }
            return result
        } catch let error as RPCError {
            let pair = "\(error.status.name)/\(error.reason)"
            #expect(contract.documentedErrors(method).contains { "\($0.status)/\($0.reason)" == pair }, "\(method) returned undocumented error \(pair): \(error.message)")
            if error.code > -32100 { #expect(error.code == error.status.jsonRPCCode, "\(error)") }
            throw error
        }
    }

    /// Calls a method that must fail with `status`/`reason` (and name `field`, when given).
    @discardableResult
    func expectError(
        _ method: String, _ params: JSONValue, as identity: String? = "operator", _ status: RPCStatus, _ reason: String,
        field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> RPCError? {
        do {
            let result = try await call(method, params, as: identity)
            Issue.record("\(method) succeeded (\(result.jsonText())) but should fail with \(reason)", sourceLocation: sourceLocation)
            return nil
        } catch let error as RPCError {
            #expect(error.status == status, "\(error)", sourceLocation: sourceLocation)
            #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
            if let field {
                #expect(error.details["field"]?.stringValue == field, "\(error) should name \(field)", sourceLocation: sourceLocation)
            }
            return error
        }
    }

    // MARK: - Grants

    /// A grant signed by the key the service trusts (or by `signer`).
    func grant(
        _ kind: Action.Kind, from: String? = nil, to: String, amount: String, key: String, currency: String = "USD", memo: String? = nil,
        expiresIn: TimeInterval = 3600, grantID: String = "gr_" + UUID().uuidString.replacingOccurrences(of: "-", with: ""),
        signer: GrantSigner? = nil, approvalID: String? = nil
    ) throws -> Grant {
        let signer = signer ?? self.signer
        let action = Action(kind: kind, from: from, to: to, amount: try Amount(parsing: amount), currency: currency, memo: memo)
        let now = Date()
        let body = Grant.Body(
            grantID: grantID, approvalID: approvalID ?? "ap_" + grantID.dropFirst(3), approvalVersion: 1, runID: "run_test", callID: key, action: action,
            idempotencyKey: key, approvers: ["policy:auto"], policyVersion: "test-1", issuedAt: now.addingTimeInterval(-60),
            expiresAt: now.addingTimeInterval(expiresIn), keyID: signer.keyID)
        return try signer.sign(body)
    }

    // MARK: - Shortcuts

    func open(_ account: String, _ opening: String? = nil) async throws {
        var params: JSONValue = ["account": .string(account)]
        if let opening { params = params.with("opening_balance", .string(opening)) }
        try await call("ledger.open_account", params)
    }

    @discardableResult
    func transfer(_ from: String, _ to: String, _ amount: String, key: String = UUID().uuidString, as identity: String = "agent") async throws -> JSONValue {
        let grant = try grant(.transfer, from: from, to: to, amount: amount, key: key)
        return try await call("ledger.transfer", transferParams(from, to, amount, key: key, grant: grant), as: identity)
    }

    func transferParams(_ from: String, _ to: String, _ amount: String, key: String, grant: Grant?) throws -> JSONValue {
        ["from": .string(from), "to": .string(to), "amount": .string(amount), "idempotency_key": .string(key),
         "grant": try grant.map { try JSONValue(encoding: $0) } ?? JSONValue.null]
    }

    /// `(posted, held, available)`.
    func balance(_ account: String) async throws -> (String, String, String) {
        let result = try await call("ledger.balance", ["account": .string(account)])
        return (result["posted"]?.stringValue ?? "?", result["held"]?.stringValue ?? "?", result["available"]?.stringValue ?? "?")
    }

    func expectBalanced(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let verdict = try await call("ledger.verify")
        #expect(verdict["balanced"] == true, "\(verdict.jsonText())", sourceLocation: sourceLocation)
        #expect(verdict["postings_total"] == "0.00", sourceLocation: sourceLocation)
    }
}

extension DatabaseBackend: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}
